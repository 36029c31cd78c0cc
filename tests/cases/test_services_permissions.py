"""Each service checks the acting user's role; API clients and tasks pass a label."""

from collections.abc import Callable
from datetime import timedelta
from typing import NamedTuple

import pytest
from django.utils import timezone

from cases import services
from cases.models import (
    Agent,
    Case,
    CaseEvent,
    CaseStatus,
    CloseReason,
    Commitment,
    CommitmentStatus,
    Escalation,
    EscalationStatus,
    EventKind,
)
from cases.services import CasePermissionDenied
from tests.cases.conftest import make_agent
from tests.factories import AuthorFactory, MentionFactory
from webcare.errors import ServicePermissionDenied

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(team, agent):
    case = services.case_open(
        subject="Dubbele afschrijving",
        customer=AuthorFactory(),
        team=team,
        channel="x_search",
    )
    return services.case_assign(case=case, assignee=agent, actor=agent)


def _open_escalation(case, agent):
    return services.case_escalate(
        case=case, department="pr", reason="Journalist asks", actor=agent
    )


def _commitment(case, agent):
    return services.commitment_make(
        case=case,
        owner=agent,
        description="Bel klant terug",
        due_at=timezone.now() + timedelta(hours=2),
        actor=agent,
    )


def _event(case, kind, user):
    """The audit row this call wrote last: of this kind, by this user."""
    events = CaseEvent.objects.filter(case=case, kind=kind, actor=user)
    assert events.exists(), f"no {kind} event by {user}"
    return events.latest("pk")


def _opened(case, user, opened):
    assert Case.objects.get(pk=opened.pk).subject == "Nieuw"
    _event(opened, EventKind.CREATED, user)


def _mention_added(case, user, result):
    assert case.mentions.count() == 1
    _event(case, EventKind.MENTION_ADDED, user)


def _unassigned(case, user, result):
    assert Case.objects.get(pk=case.pk).assignee is None
    assert _event(case, EventKind.ASSIGNED, user).data["to"] is None


def _assigned_automatically(case, user, result):
    colleague = Agent.objects.get(user__username="dirk").user
    assert Case.objects.get(pk=case.pk).assignee == colleague
    event = _event(case, EventKind.ASSIGNED, user)
    assert event.data == {
        "from": case.assignee_id,
        "to": colleague.pk,
        "automatic": True,
    }


def _priority_changed(case, user, result):
    assert Case.objects.get(pk=case.pk).priority == "high"
    _event(case, EventKind.PRIORITY_CHANGED, user)


def _replied(case, user, result):
    assert list(case.replies.values_list("text", flat=True)) == [result.text]
    _event(case, EventKind.REPLIED, user)


def _noted(case, user, note):
    assert case.notes.get().author == user
    _event(case, EventKind.NOTE_ADDED, user)


def _status(status):
    def check(case, user, result):
        assert Case.objects.get(pk=case.pk).status == status
        assert _event(case, EventKind.STATUS_CHANGED, user).data["to"] == status

    return check


def _escalated(case, user, escalation):
    assert case.escalations.get().department == "security"
    _event(case, EventKind.ESCALATED, user)


def _escalation(status, kind):
    def check(case, user, escalation):
        assert Escalation.objects.get(pk=escalation.pk).status == status
        _event(case, kind, user)

    return check


def _merged(case, user, result):
    duplicate = Case.objects.get(subject="Dubbel")
    assert duplicate.merged_into_id == case.pk
    assert CaseEvent.objects.filter(kind=EventKind.MERGED, actor=user).exists()


def _commitment_status(status, kind):
    def check(case, user, commitment):
        assert Commitment.objects.get(pk=commitment.pk).status == status
        assert CaseEvent.objects.filter(case=case, kind=kind, actor=user).exists()

    return check


def _assign_automatically(case, user, agent):
    # A colleague who is available: the case (now the agent's) can move to them.
    make_agent(case.team, "dirk", "Dirk")
    return services.case_assign_automatically(case=case, actor=user)


class Operation(NamedTuple):
    call: Callable
    allowed: set[str]
    # Asserts what an allowed call did: (case, user, what the call returned).
    effect: Callable


OPERATIONS = {
    "open": Operation(
        lambda case, user, agent: services.case_open(subject="Nieuw", actor=user),
        {"agent", "manager"},
        _opened,
    ),
    "add_mention": Operation(
        lambda case, user, agent: services.case_add_mention(
            case=case, mention=MentionFactory(), actor=user
        ),
        {"agent", "manager"},
        _mention_added,
    ),
    "assign": Operation(
        lambda case, user, agent: services.case_assign(
            case=case, assignee=None, actor=user
        ),
        {"agent", "manager"},
        _unassigned,
    ),
    "assign_automatically": Operation(
        _assign_automatically, {"agent", "manager"}, _assigned_automatically
    ),
    "update": Operation(
        lambda case, user, agent: services.case_update(
            case=case, priority="high", actor=user
        ),
        {"agent", "manager"},
        _priority_changed,
    ),
    # Signed by who records it (naming someone else: tests/cases/
    # test_record_permissions.py).
    "reply": Operation(
        lambda case, user, agent: services.case_reply(
            case=case, agent=user, text="Hoi!", actor=user
        ),
        {"agent", "manager"},
        _replied,
    ),
    "note": Operation(
        lambda case, user, agent: services.case_add_note(
            case=case, author=user, text="Checked with legal."
        ),
        {"agent", "manager", "spokesperson", "customer_service"},
        _noted,
    ),
    "wait": Operation(
        lambda case, user, agent: services.case_wait_for_customer(
            case=case, actor=user
        ),
        {"agent", "manager"},
        _status(CaseStatus.WAITING),
    ),
    "escalate": Operation(
        lambda case, user, agent: services.case_escalate(
            case=case, department="security", reason="Phishing", actor=user
        ),
        {"agent", "manager"},
        _escalated,
    ),
    "acknowledge": Operation(
        lambda case, user, agent: services.escalation_acknowledge(
            escalation=_open_escalation(case, agent), actor=user
        ),
        # A PR escalation: its department (spokespeople) and managers.
        {"manager", "spokesperson"},
        _escalation(EscalationStatus.ACKNOWLEDGED, EventKind.ESCALATION_ACKNOWLEDGED),
    ),
    "resolve_escalation": Operation(
        lambda case, user, agent: services.escalation_resolve(
            escalation=_open_escalation(case, agent), note="Answered.", actor=user
        ),
        {"manager", "spokesperson"},
        _escalation(EscalationStatus.RESOLVED, EventKind.ESCALATION_RESOLVED),
    ),
    "resolve": Operation(
        lambda case, user, agent: services.case_resolve(case=case, actor=user),
        {"agent", "manager"},
        _status(CaseStatus.RESOLVED),
    ),
    "close": Operation(
        lambda case, user, agent: services.case_close(
            case=case, reason=CloseReason.NO_ACTION, actor=user
        ),
        {"agent", "manager"},
        _status(CaseStatus.CLOSED),
    ),
    "reopen": Operation(
        lambda case, user, agent: services.case_reopen(
            case=services.case_resolve(case=case, actor=agent), actor=user
        ),
        {"agent", "manager"},
        _status(CaseStatus.OPEN),
    ),
    "merge": Operation(
        lambda case, user, agent: services.case_merge(
            duplicate=services.case_open(subject="Dubbel", team=case.team),
            into=case,
            actor=user,
        ),
        {"manager"},
        _merged,
    ),
    "commit": Operation(
        lambda case, user, agent: _commitment(case, user),
        {"agent", "manager"},
        _commitment_status(CommitmentStatus.OPEN, EventKind.COMMITMENT_MADE),
    ),
    "keep": Operation(
        lambda case, user, agent: services.commitment_keep(
            commitment=_commitment(case, agent), actor=user
        ),
        {"agent", "manager"},
        _commitment_status(CommitmentStatus.KEPT, EventKind.COMMITMENT_KEPT),
    ),
    "cancel": Operation(
        lambda case, user, agent: services.commitment_cancel(
            commitment=_commitment(case, agent), actor=user
        ),
        {"agent", "manager"},
        _commitment_status(CommitmentStatus.CANCELLED, EventKind.COMMITMENT_CANCELLED),
    ),
}
ROLES = ("agent", "spokesperson", "customer_service", "manager")


@pytest.mark.parametrize(
    ("operation", "role"), [(op, role) for op in OPERATIONS for role in ROLES]
)
def test_each_role_may_do_only_what_it_allows(operation, role, case, agent, request):
    user = {
        "agent": agent,
        "spokesperson": request.getfixturevalue("spokesperson"),
        "customer_service": request.getfixturevalue("customer_service"),
        "manager": request.getfixturevalue("manager"),
    }[role]
    call, allowed, effect = OPERATIONS[operation]
    if role in allowed:
        effect(case, user, call(case, user, agent))
        return
    counts = (
        Case.objects.count(),
        CaseEvent.objects.count(),
        Escalation.objects.count(),
        Commitment.objects.count(),
    )
    snapshot = Case.objects.filter(pk=case.pk).values().get()
    # The permission refusal itself (403 in the API), not another CaseError such
    # as "nobody is available" that would pass for one.
    with pytest.raises(ServicePermissionDenied, match=r"may not ") as refused:
        call(case, user, agent)
    assert isinstance(refused.value, CasePermissionDenied)
    # Nothing changed: not the case, not its trail (helpers may have added rows
    # before the refused call; the refused call itself added none).
    snapshot.pop("updated_at")
    after = Case.objects.filter(pk=case.pk).values().get()
    after.pop("updated_at")
    if operation not in (
        "acknowledge",
        "resolve_escalation",
        "keep",
        "cancel",
        "merge",
        "reopen",
    ):
        assert after == snapshot
        assert counts == (
            Case.objects.count(),
            CaseEvent.objects.count(),
            Escalation.objects.count(),
            Commitment.objects.count(),
        )


def test_an_inactive_user_may_do_nothing(case, agent):
    agent.is_active = False
    agent.save()
    with pytest.raises(CasePermissionDenied):
        services.case_wait_for_customer(case=case, actor=agent)


def test_an_api_client_or_task_passes_a_label_instead(case, agent):
    services.case_update(case=case, priority="urgent", actor_label="api:crm")
    event = CaseEvent.objects.filter(case=case).last()
    assert event.actor is None
    assert event.actor_label == "api:crm"
    assert event.kind == "priority_changed"


def test_a_reply_needs_an_agent_who_may_reply(case, spokesperson):
    with pytest.raises(CasePermissionDenied, match="Sam .* may not reply"):
        services.case_reply(
            case=case, agent=spokesperson, text="Hallo", actor_label="api:crm"
        )
    assert not case.replies.exists()
