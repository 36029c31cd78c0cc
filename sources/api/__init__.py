"""The source and mention endpoints of /api/v1/, registered with the one router."""

from sources.api.views import MentionViewSet, SourceViewSet
from webcare.api.router import router

router.register("sources", SourceViewSet, basename="source")
router.register("mentions", MentionViewSet, basename="mention")
