"""The REST API for the CRM, every app's endpoints in one router.

The lead mounts it with `path("api/v1/", include("cases.urls"))`. The schema and its
documentation page live here too, generated from exactly these routes.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from cases import views
from cases.api_auth import ScopePermission
from reporting.api_views import ReportViewSet, SurveyViewSet
from sources.views import AuthorViewSet, MentionViewSet, SourceViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("cases", views.CaseViewSet, basename="case")
router.register("case-events", views.CaseEventViewSet, basename="caseevent")
router.register("escalations", views.EscalationViewSet, basename="escalation")
router.register("commitments", views.CommitmentViewSet, basename="commitment")
router.register("teams", views.TeamViewSet, basename="team")
router.register("topics", views.TopicViewSet, basename="topic")
router.register("agents", views.AgentViewSet, basename="agent")
router.register("sources", SourceViewSet, basename="source")
router.register("authors", AuthorViewSet, basename="author")
router.register("mentions", MentionViewSet, basename="mention")
router.register("surveys", SurveyViewSet, basename="survey")
router.register("reports", ReportViewSet, basename="report")
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register(
    "webhook-deliveries", views.WebhookDeliveryViewSet, basename="webhookdelivery"
)

# The schema describes these routes under their public prefix, whatever else the
# project mounts, so the committed openapi.yaml changes only when the API does.
SCHEMA_PATTERNS = [path("api/v1/", include(router.urls))]


class SchemaView(SpectacularAPIView):
    permission_classes = [ScopePermission]
    patterns = SCHEMA_PATTERNS


class DocsView(SpectacularSwaggerView):
    permission_classes = [ScopePermission]


urlpatterns = [
    *router.urls,
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
]
