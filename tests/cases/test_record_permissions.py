"""Checked by role *and* by record in the services: escalations by department,
reassignment by owner, team lead, manager or policy, replies signed by who records
them, and the re-attribution of a mention on the record."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from cases import access, services
from cases.models import (
    Agent,
    CaseEvent,
    DepartmentMembership,
    Escalation,
    EscalationStatus,
    EventKind,
    Team,
)
from cases.services import CaseError, CasePermissionDenied
from reporting.selectors import daily_contacts
from sources.models import Mention
from sources.services import mention_reattribute
from tests.cases.conftest import make_agent
from tests.factories import AuthorFactory, MentionFactory, UserFactory
from webcare.api.models import ApiClient, Webhook, WebhookDelivery
from webcare.errors import ServiceError, ServicePermissionDenied

pytestmark = pytest.mark.django_db


@pytest.fixture
def security_member(db):
    user = UserFactory(
        username="sofie", first_name="Sofie", groups=["customer_service"]
    )
    DepartmentMembership.objects.create(user=user, department="security")
    return user


@pytest.fixture
def case(team, agent):
    case = services.case_open(subject="Phishing-sms", team=team, channel="x_search")
    return services.case_assign(case=case, assignee=agent, actor=agent)


@pytest.fixture
def security(case, agent):
    return services.case_escalate(
        case=case, department="security", reason="Nep-sms met link", actor=agent
    )


@pytest.fixture
def pr(case, agent):
    return services.case_escalate(
        case=case, department="pr", reason="Journalist belt", actor=agent
    )


def _visible(user):
    return set(access.escalations_visible_to(user).values_list("department", flat=True))


# --- Departments -------------------------------------------------------------------


def test_departments_come_from_the_role_and_from_memberships(
    spokesperson, customer_service, security_member, agent, manager
):
    assert access.departments_of(spokesperson) == {"pr"}
    assert access.departments_of(customer_service) == {"customer_service"}
    assert access.departments_of(security_member) == {"customer_service", "security"}
    assert access.departments_of(agent) == frozenset()
    assert access.departments_of(manager) == frozenset()
    assert access.handles_every_department(manager)
    assert not access.handles_every_department(security_member)


def test_the_role_defaults_are_a_setting(settings, spokesperson):
    settings.WEBCARE_ROLE_DEPARTMENTS = {"spokesperson": ["pr", "offices"]}
    assert access.departments_of(spokesperson) == {"pr", "offices"}


# --- Seeing escalations ------------------------------------------------------------


def test_security_escalations_are_seen_only_by_who_is_involved(
    security,
    pr,
    agent,
    other_agent,
    spokesperson,
    customer_service,
    security_member,
    manager,
):
    # The requester (also the assignee), the department, managers: both.
    assert _visible(agent) == {"security", "pr"}
    assert _visible(security_member) == {"security", "pr"}
    assert _visible(manager) == {"security", "pr"}
    # Everyone else with view_escalation: not the restricted department's.
    assert _visible(other_agent) == {"pr"}
    assert _visible(spokesperson) == {"pr"}
    assert _visible(customer_service) == {"pr"}


def test_the_cases_assignee_sees_its_security_escalation(security, case, other_agent):
    assert _visible(other_agent) == set()
    services.case_assign(case=case, assignee=other_agent, actor=None)
    other_agent = type(other_agent).objects.get(pk=other_agent.pk)
    assert _visible(other_agent) == {"security"}


def test_api_clients_never_see_restricted_departments(security, pr):
    class ApiClientUser:  # what webcare.api.auth makes request.user for a client
        pk = None
        is_active = True

    assert _visible(ApiClientUser()) == {"pr"}
    # The system (a task) sees everything.
    assert _visible(None) == {"security", "pr"}


def test_the_restricted_departments_are_a_setting(settings, security, pr, other_agent):
    settings.WEBCARE_RESTRICTED_DEPARTMENTS = []
    assert _visible(other_agent) == {"security", "pr"}


# --- Acknowledging and resolving ---------------------------------------------------


def test_a_spokesperson_may_not_acknowledge_or_resolve_a_security_escalation(
    security, spokesperson
):
    """The reviewers' finding: a spokesperson acknowledged and resolved it."""
    with pytest.raises(CasePermissionDenied, match="Sam .* may not handle"):
        services.escalation_acknowledge(escalation=security, actor=spokesperson)
    with pytest.raises(CasePermissionDenied, match="only the department's members"):
        services.escalation_resolve(
            escalation=security, note="Opgelost", actor=spokesperson
        )
    security.refresh_from_db()
    assert security.status == EscalationStatus.OPEN
    assert not CaseEvent.objects.filter(
        kind__in=[EventKind.ESCALATION_ACKNOWLEDGED, EventKind.ESCALATION_RESOLVED]
    ).exists()


def test_customer_service_handles_its_own_department_only(
    case, agent, customer_service, pr
):
    with pytest.raises(CasePermissionDenied):
        services.escalation_acknowledge(escalation=pr, actor=customer_service)
    own = services.case_escalate(
        case=case, department="customer_service", reason="Pas blokkeren", actor=agent
    )
    services.escalation_acknowledge(escalation=own, actor=customer_service)
    assert Escalation.objects.get(pk=own.pk).acknowledged_by == customer_service


def test_the_department_member_and_managers_handle_security(
    security, security_member, manager, case, agent
):
    services.escalation_acknowledge(escalation=security, actor=security_member)
    services.escalation_resolve(escalation=security, note="Link offline", actor=manager)
    security.refresh_from_db()
    assert security.acknowledged_by == security_member
    assert security.resolved_by == manager


def test_a_requesting_agent_sees_but_does_not_handle_its_escalation(security, agent):
    with pytest.raises(CasePermissionDenied):
        services.escalation_acknowledge(escalation=security, actor=agent)


def test_an_api_client_may_not_handle_a_security_escalation(security, pr):
    with pytest.raises(CasePermissionDenied, match="API clients may not"):
        services.escalation_acknowledge(escalation=security, actor_label="api:crm")
    services.escalation_acknowledge(escalation=pr, actor_label="api:crm")
    # A task (no API label) may: its access was decided by the scheduler.
    services.escalation_resolve(escalation=security, note="Klaar", actor_label="")
    assert Escalation.objects.get(pk=pr.pk).status == EscalationStatus.ACKNOWLEDGED


# --- Reassignment ------------------------------------------------------------------


@pytest.fixture
def bram_case(team, other_agent):
    case = services.case_open(subject="Hypotheek", team=team)
    return services.case_assign(case=case, assignee=other_agent, actor=other_agent)


def test_an_agent_may_not_take_a_colleagues_case(bram_case, agent, other_agent):
    """The reviewers' finding: an agent reassigned a colleague's case to herself."""
    with pytest.raises(CasePermissionDenied, match="assigned to Bram"):
        services.case_assign(case=bram_case, assignee=agent, actor=agent)
    with pytest.raises(CasePermissionDenied):
        services.case_assign(case=bram_case, assignee=None, actor=agent)
    with pytest.raises(CasePermissionDenied):
        services.case_assign_automatically(case=bram_case, actor=agent)
    bram_case.refresh_from_db()
    assert bram_case.assignee == other_agent
    assert (
        CaseEvent.objects.filter(case=bram_case, kind=EventKind.ASSIGNED).count() == 1
    )


def test_an_agent_assigns_an_unassigned_case_to_herself_or_a_colleague(
    team, agent, other_agent
):
    case = services.case_open(subject="Vraag", team=team)
    case = services.case_assign(case=case, assignee=other_agent, actor=agent)
    assert case.assignee == other_agent


def test_an_agent_hands_her_own_case_on_or_unassigns_it(case, agent, other_agent):
    services.case_assign(case=case, assignee=other_agent, actor=agent)
    services.case_assign(case=case, assignee=None, actor=other_agent)
    case.refresh_from_db()
    assert case.assignee is None


def test_the_team_lead_and_managers_move_colleagues_cases(
    bram_case, team, agent, manager
):
    lead = make_agent(team, "tess", "Tess")
    Agent.objects.filter(user=lead).update(is_team_lead=True)
    services.case_assign(case=bram_case, assignee=lead, actor=lead)
    services.case_assign(case=bram_case, assignee=agent, actor=manager)
    bram_case.refresh_from_db()
    assert bram_case.assignee == agent


def test_a_lead_of_another_team_may_not(bram_case, agent):
    other = Team.objects.create(name="Zakelijk")
    lead = make_agent(other, "olga", "Olga")
    Agent.objects.filter(user=lead).update(is_team_lead=True)
    with pytest.raises(CasePermissionDenied):
        services.case_assign(case=bram_case, assignee=agent, actor=lead)


def test_a_lead_of_another_team_may_not_move_the_case_into_her_team_first(
    bram_case, other_agent
):
    """The reviewer's bypass: change the team, then take the case as its lead."""
    other = Team.objects.create(name="Zakelijk")
    lead = make_agent(other, "olga", "Olga")
    Agent.objects.filter(user=lead).update(is_team_lead=True)
    with pytest.raises(CasePermissionDenied, match="assigned to Bram"):
        services.case_update(case=bram_case, team=other, actor=lead)
    with pytest.raises(CasePermissionDenied):
        services.case_assign(case=bram_case, assignee=lead, actor=lead)
    bram_case.refresh_from_db()
    assert (bram_case.team_id, bram_case.assignee) != (other.pk, lead)
    assert bram_case.assignee == other_agent
    # Her own case, or an unassigned one, she moves freely.
    case = services.case_open(subject="Vraag", team=bram_case.team)
    services.case_update(case=case, team=other, actor=lead)


def test_the_team_lead_moves_a_case_of_her_team_to_another_team(
    bram_case, team, manager
):
    lead = make_agent(team, "tess", "Tess")
    Agent.objects.filter(user=lead).update(is_team_lead=True)
    other = Team.objects.create(name="Zakelijk")
    services.case_update(case=bram_case, team=other, actor=lead)
    bram_case.refresh_from_db()
    assert bram_case.team == other


def test_an_agent_takes_over_from_an_away_or_inactive_colleague(
    bram_case, agent, other_agent, settings
):
    Agent.objects.filter(user=other_agent).update(is_available=False)
    services.case_assign(case=bram_case, assignee=agent, actor=agent)
    bram_case.refresh_from_db()
    assert bram_case.assignee == agent
    # And back to an inactive colleague's case: also allowed.
    Agent.objects.filter(user=other_agent).update(is_available=True)
    services.case_assign(case=bram_case, assignee=other_agent, actor=agent)
    other_agent.is_active = False
    other_agent.save()
    services.case_assign(case=bram_case, assignee=agent, actor=agent)


def test_taking_over_from_away_colleagues_is_a_setting(
    bram_case, agent, other_agent, settings
):
    settings.WEBCARE_TAKE_OVER_FROM_AWAY = False
    Agent.objects.filter(user=other_agent).update(is_available=False)
    with pytest.raises(CasePermissionDenied):
        services.case_assign(case=bram_case, assignee=agent, actor=agent)


def test_the_system_and_api_clients_still_assign_automatically(
    bram_case, agent, other_agent
):
    services.case_assign_automatically(case=bram_case, actor=None)
    bram_case.refresh_from_db()
    assert bram_case.assignee == agent
    services.case_assign(case=bram_case, assignee=other_agent, actor_label="api:crm")


# --- The signature -----------------------------------------------------------------


def test_a_person_may_not_sign_a_reply_with_a_colleagues_name(
    case, agent, other_agent, manager
):
    """The reviewers' finding: a reply with "agent": 3 was signed by that colleague."""
    for actor in (agent, manager):
        with pytest.raises(CasePermissionDenied, match="signed by who records it"):
            services.case_reply(case=case, agent=other_agent, text="Hoi", actor=actor)
    assert not case.replies.exists()
    reply = services.case_reply(case=case, agent=agent, text="Hoi", actor=agent)
    assert reply.signature == "Anna"


def test_an_api_client_names_the_agent_who_sent_it(case, other_agent):
    reply = services.case_reply(
        case=case, agent=other_agent, text="Hoi", actor_label="api:crm"
    )
    assert reply.signature == "Bram"


# --- Re-attributing a mention ------------------------------------------------------


@pytest.fixture
def mention(case):
    return MentionFactory(case=case)


def test_re_attributing_a_mention_of_a_case_is_on_its_trail_and_log(
    mention, case, agent
):
    old = mention.author
    new = AuthorFactory(platform=old.platform)
    before = Mention.objects.values_list("updated_at", flat=True).get(pk=mention.pk)

    mention_reattribute(
        mention=mention, author=new, reason="Verkeerd account gekoppeld", actor=agent
    )

    row = Mention.objects.get(pk=mention.pk)
    assert row.author == new
    # Saved, not updated behind the model's back: the row's version moves (its
    # sync position too; on PostgreSQL that is the transaction's id).
    assert row.updated_at > before
    event = CaseEvent.objects.get(case=case, kind=EventKind.MENTION_REATTRIBUTED)
    assert event.actor == agent
    assert event.data == {
        "mention_id": mention.pk,
        "from": old.pk,
        "to": new.pk,
        "reason": "Verkeerd account gekoppeld",
    }
    log = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Mention),
        object_id=str(mention.pk),
    )
    assert log.user == agent
    assert "Verkeerd account gekoppeld" in log.change_message


def test_re_attributing_a_mention_outside_a_case_is_in_its_history(agent):
    mention = MentionFactory()
    new = AuthorFactory(platform=mention.author.platform)
    mention_reattribute(mention=mention, author=new, reason="Dubbel", actor=agent)
    assert LogEntry.objects.filter(object_id=str(mention.pk), user=agent).exists()
    assert not CaseEvent.objects.filter(kind=EventKind.MENTION_REATTRIBUTED).exists()


def test_re_attribution_needs_a_reason_and_the_permission(
    mention, agent, customer_service
):
    new = AuthorFactory(platform=mention.author.platform)
    with pytest.raises(ServiceError, match="Say why"):
        mention_reattribute(mention=mention, author=new, reason=" ", actor=agent)
    with pytest.raises(ServicePermissionDenied, match="may not re-attribute"):
        mention_reattribute(
            mention=mention, author=new, reason="Fout", actor=customer_service
        )
    with pytest.raises(ServiceError, match="another platform"):
        mention_reattribute(
            mention=mention,
            author=AuthorFactory(platform="reddit"),
            reason="Fout",
            actor=agent,
        )
    assert Mention.objects.get(pk=mention.pk).author == mention.author
    assert not LogEntry.objects.exists()
    assert not CaseEvent.objects.filter(kind=EventKind.MENTION_REATTRIBUTED).exists()


def test_the_requester_sees_the_trail_of_her_security_escalation(
    team, agent, other_agent, spokesperson
):
    """Not the assignee, but she asked for it: the trail entries are hers to see;
    an uninvolved colleague's trail has only the PR entry."""
    case = services.case_open(subject="Phishing-sms", team=team, channel="x_search")
    case = services.case_assign(case=case, assignee=other_agent, actor=other_agent)
    services.case_escalate(
        case=case, department="security", reason="Nep-sms", actor=agent
    )
    services.case_escalate(case=case, department="pr", reason="Pers", actor=agent)
    kinds = EventKind.ESCALATED

    def departments(user):
        rows = access.events_visible_to(user).filter(case=case, kind=kinds)
        return {event.data["department"] for event in rows}

    assert departments(agent) == {"security", "pr"}
    assert departments(other_agent) == {"security", "pr"}  # the assignee
    assert departments(spokesperson) == {"pr"}


# --- What an uninvolved person learns of a security escalation ----------------------


def test_escalating_again_does_not_reveal_a_hidden_security_escalation(
    security, case, agent, other_agent
):
    """The requester hears it is already open; an uninvolved colleague (or an API
    client) is refused without being told there is a security escalation."""
    with pytest.raises(CaseError, match="already has an open escalation to Security"):
        services.case_escalate(
            case=case, department="security", reason="Nog een", actor=agent
        )
    for actor, label in ((other_agent, ""), (None, "api:crm")):
        with pytest.raises(CaseError) as refused:
            services.case_escalate(
                case=case,
                department="security",
                reason="Nog een",
                actor=actor,
                actor_label=label,
            )
        assert "already has" not in str(refused.value)
        assert "ask the department" in str(refused.value)
    assert case.escalations.count() == 1


def test_the_crm_is_not_told_of_a_security_escalation(case, agent):
    client = ApiClient.objects.create(
        name="crm", token_prefix="abc", token_hash="0" * 64, scopes=["read"]
    )
    Webhook.objects.create(
        client=client,
        url="http://127.0.0.1:9/hook",
        events=["case.escalated"],
        secret="s3cret",
    )
    services.case_escalate(case=case, department="security", reason="x", actor=agent)
    assert not WebhookDelivery.objects.exists()
    services.case_escalate(case=case, department="pr", reason="y", actor=agent)
    assert WebhookDelivery.objects.get().event == "case.escalated"


def test_the_daily_summary_leaves_security_escalations_out(case, agent):
    services.case_escalate(case=case, department="security", reason="x", actor=agent)
    services.case_escalate(case=case, department="pr", reason="y", actor=agent)
    now = timezone.now()
    day = daily_contacts(start=now - timedelta(hours=1), end=now)
    (row,) = day["contacts"]
    assert row["escalated_to"] == ["pr"]
    assert day["escalations"] == 1
