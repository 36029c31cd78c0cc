"""The case endpoints of /api/v1/, registered with the one router."""

from cases.api.customers import AuthorViewSet
from cases.api.views import (
    AgentViewSet,
    CaseEventViewSet,
    CaseViewSet,
    CommitmentViewSet,
    EscalationViewSet,
    TeamViewSet,
    TopicViewSet,
)
from webcare.api.router import router

router.register("cases", CaseViewSet, basename="case")
router.register("case-events", CaseEventViewSet, basename="caseevent")
router.register("escalations", EscalationViewSet, basename="escalation")
router.register("commitments", CommitmentViewSet, basename="commitment")
router.register("teams", TeamViewSet, basename="team")
router.register("topics", TopicViewSet, basename="topic")
router.register("agents", AgentViewSet, basename="agent")
router.register("authors", AuthorViewSet, basename="author")
