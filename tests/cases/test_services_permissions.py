"""Each service checks the acting user's role; API clients and tasks pass a label."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases import services
from cases.models import Case, CaseEvent, CloseReason, Commitment, Escalation
from cases.services import CasePermissionDenied
from tests.factories import AuthorFactory, MentionFactory

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


# name -> (call, roles allowed)
OPERATIONS = {
    "open": (
        lambda case, user, agent: services.case_open(subject="Nieuw", actor=user),
        {"agent", "manager"},
    ),
    "add_mention": (
        lambda case, user, agent: services.case_add_mention(
            case=case, mention=MentionFactory(), actor=user
        ),
        {"agent", "manager"},
    ),
    "assign": (
        lambda case, user, agent: services.case_assign(
            case=case, assignee=None, actor=user
        ),
        {"agent", "manager"},
    ),
    "assign_automatically": (
        lambda case, user, agent: services.case_assign_automatically(
            case=case, actor=user
        ),
        # The only agent already has it: allowed, but nobody else is available.
        set(),
    ),
    "update": (
        lambda case, user, agent: services.case_update(
            case=case, priority="high", actor=user
        ),
        {"agent", "manager"},
    ),
    "reply": (
        lambda case, user, agent: services.case_reply(
            case=case, agent=agent, text="Hoi!", actor=user
        ),
        {"agent", "manager"},
    ),
    "note": (
        lambda case, user, agent: services.case_add_note(
            case=case, author=user, text="Checked with legal."
        ),
        {"agent", "manager", "spokesperson", "customer_service"},
    ),
    "wait": (
        lambda case, user, agent: services.case_wait_for_customer(
            case=case, actor=user
        ),
        {"agent", "manager"},
    ),
    "escalate": (
        lambda case, user, agent: services.case_escalate(
            case=case, department="security", reason="Phishing", actor=user
        ),
        {"agent", "manager"},
    ),
    "acknowledge": (
        lambda case, user, agent: services.escalation_acknowledge(
            escalation=_open_escalation(case, agent), actor=user
        ),
        {"manager", "spokesperson", "customer_service"},
    ),
    "resolve_escalation": (
        lambda case, user, agent: services.escalation_resolve(
            escalation=_open_escalation(case, agent), note="Answered.", actor=user
        ),
        {"manager", "spokesperson", "customer_service"},
    ),
    "resolve": (
        lambda case, user, agent: services.case_resolve(case=case, actor=user),
        {"agent", "manager"},
    ),
    "close": (
        lambda case, user, agent: services.case_close(
            case=case, reason=CloseReason.NO_ACTION, actor=user
        ),
        {"agent", "manager"},
    ),
    "reopen": (
        lambda case, user, agent: services.case_reopen(
            case=services.case_resolve(case=case, actor=agent), actor=user
        ),
        {"agent", "manager"},
    ),
    "merge": (
        lambda case, user, agent: services.case_merge(
            duplicate=services.case_open(subject="Dubbel", team=case.team),
            into=case,
            actor=user,
        ),
        {"manager"},
    ),
    "commit": (
        lambda case, user, agent: _commitment(case, user),
        {"agent", "manager"},
    ),
    "keep": (
        lambda case, user, agent: services.commitment_keep(
            commitment=_commitment(case, agent), actor=user
        ),
        {"agent", "manager"},
    ),
    "cancel": (
        lambda case, user, agent: services.commitment_cancel(
            commitment=_commitment(case, agent), actor=user
        ),
        {"agent", "manager"},
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
    call, allowed = OPERATIONS[operation]
    if operation == "assign_automatically":
        error = services.CaseError
        with pytest.raises(error):
            call(case, user, agent)
        return
    if role in allowed:
        call(case, user, agent)
        return
    counts = (
        Case.objects.count(),
        CaseEvent.objects.count(),
        Escalation.objects.count(),
        Commitment.objects.count(),
    )
    snapshot = Case.objects.filter(pk=case.pk).values().get()
    with pytest.raises(CasePermissionDenied, match=r"may not "):
        call(case, user, agent)
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
