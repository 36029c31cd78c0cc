"""The survey and report endpoints of /api/v1/, registered with the one router."""

from reporting.api.views import ReportViewSet, SurveyViewSet
from webcare.api.router import router

router.register("surveys", SurveyViewSet, basename="survey")
router.register("reports", ReportViewSet, basename="report")
