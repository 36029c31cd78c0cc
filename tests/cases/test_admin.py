"""The admin as a workplace: queues, the case page, actions, per staff group, with
bounded query counts."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import (
    Agent,
    Case,
    CaseEvent,
    CaseStatus,
    Commitment,
    Escalation,
    EscalationStatus,
    EventKind,
    Holiday,
    Note,
    Reply,
    ServiceTarget,
    Team,
    Topic,
)
from tests.cases.conftest import make_agent
from tests.factories import AuthorFactory, MentionFactory, TeamFactory, TopicFactory

pytestmark = pytest.mark.django_db

ROLES = ("agent", "spokesperson", "customer_service", "manager")


@pytest.fixture
def users(agent, spokesperson, customer_service, manager):
    return {
        "agent": agent,
        "spokesperson": spokesperson,
        "customer_service": customer_service,
        "manager": manager,
    }


@pytest.fixture
def workload(team, agent, other_agent):
    """Enough cases, each with a conversation, replies, notes, escalations and
    promises, that a query per row would show."""
    topic = TopicFactory(name="Payments")
    cases = []
    for number in range(12):
        mention = MentionFactory(
            text=f"<script>alert({number})</script> mijn pas", author=AuthorFactory()
        )
        case = services.case_open(
            subject=f"<b>Pas {number}</b>",
            mention=mention,
            team=team,
            priority=("urgent", "high", "normal", "low")[number % 4],
        )
        services.case_add_mention(
            case=case, mention=MentionFactory(author=mention.author), actor_label="t"
        )
        owner = agent if number % 2 else other_agent
        services.case_reply(case=case, agent=owner, text="Stuur ons een DM")
        services.case_add_note(case=case, author=owner, text="Klant belt terug")
        services.case_update(case=case, topics=[topic], is_structural=True, actor=owner)
        services.commitment_make(
            case=case,
            owner=owner,
            description="Bel terug",
            due_at=timezone.now() + timedelta(hours=1 + number),
            actor=owner,
        )
        services.case_escalate(
            case=case,
            department="customer_service",
            reason="Pas blokkeren",
            actor=owner,
        )
        cases.append(case)
    Holiday.objects.create(
        date=timezone.now().date() + timedelta(days=30), name="Teamdag"
    )
    return cases


CHANGELISTS = {
    # model name: roles that may see it
    "case": set(ROLES),
    "escalation": set(ROLES),
    "reply": {"agent", "spokesperson", "customer_service", "manager"},
    "note": set(ROLES),
    "caseevent": set(ROLES),
    "commitment": {"agent", "manager"},
    "team": {"agent", "manager"},
    "agent": {"agent", "manager"},
    "topic": set(ROLES),
    "servicetarget": {"manager"},
    "holiday": {"manager"},
}


@pytest.mark.parametrize(
    ("model", "role"), [(model, role) for model in CHANGELISTS for role in ROLES]
)
def test_changelists_per_group_with_bounded_queries(
    model, role, users, workload, client, django_assert_max_num_queries
):
    client.force_login(users[role])
    url = reverse(f"admin:cases_{model}_changelist")
    with django_assert_max_num_queries(12):
        response = client.get(url)
    if role in CHANGELISTS[model]:
        assert response.status_code == 200
        assert b"<script>alert" not in response.content
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("queue", ["mine", "team", "overdue", "unassigned"])
def test_the_queue_filters_are_bounded_too(
    queue, users, workload, queues, client, django_assert_max_num_queries
):
    client.force_login(users["agent"])
    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:cases_case_changelist"), {"queue": queue})
    assert response.status_code == 200
    assert response.context["cl"].result_count > 0


@pytest.fixture
def queues(team, agent, other_agent):
    """One case of each kind the queues tell apart, by name; due in a day unless
    the name says it is late."""
    now = timezone.now()
    other_team = TeamFactory(name="Zakelijk")
    dirk = make_agent(other_team, "dirk", "Dirk")

    def case(subject, *, team=team, assignee=None, due=timedelta(days=1)):
        opened = services.case_open(subject=subject, team=team)
        if assignee is not None:
            opened = services.case_assign(
                case=opened, assignee=assignee, actor_label="t"
            )
        Case.objects.filter(pk=opened.pk).update(next_due_at=now + due)
        return opened

    cases = {
        "mine": case("mine", assignee=agent),
        "mine, resolved": services.case_resolve(
            case=case("mine, resolved", assignee=agent), actor_label="t"
        ),
        "mine, late": case("mine, late", assignee=agent, due=-timedelta(minutes=5)),
        "colleague's": case("colleague's", assignee=other_agent),
        "unassigned": case("unassigned"),
        "unassigned, closed": services.case_close(
            case=case("unassigned, closed"), reason="spam", actor_label="t"
        ),
        "other team, unassigned": case("other team, unassigned", team=other_team),
        "other team, Dirk's": case(
            "other team, Dirk's", team=other_team, assignee=dirk
        ),
        "promise overdue": case("promise overdue", assignee=other_agent),
        "first reply breached": case("first reply breached"),
        "resolution breached": case("resolution breached", assignee=agent),
        "late, resolved": services.case_resolve(
            case=case("late, resolved", assignee=agent, due=-timedelta(hours=2)),
            actor_label="t",
        ),
    }
    promise = services.commitment_make(
        case=cases["promise overdue"],
        owner=other_agent,
        description="Bel terug",
        due_at=now + timedelta(hours=1),
        actor=other_agent,
    )
    Commitment.objects.filter(pk=promise.pk).update(due_at=now - timedelta(minutes=1))
    Case.objects.filter(pk=cases["first reply breached"].pk).update(
        first_response_breached_at=now - timedelta(minutes=10), first_response_at=None
    )
    Case.objects.filter(pk=cases["resolution breached"].pk).update(
        resolution_breached_at=now - timedelta(minutes=10)
    )
    return cases


QUEUES = {
    # Only active cases, in each queue.
    "mine": {"mine", "mine, late", "resolution breached"},
    "team": {
        "mine",
        "mine, late",
        "colleague's",
        "unassigned",
        "promise overdue",
        "first reply breached",
        "resolution breached",
    },
    "overdue": {
        "mine, late",
        "promise overdue",
        "first reply breached",
        "resolution breached",
    },
    "unassigned": {"unassigned", "other team, unassigned", "first reply breached"},
}


@pytest.mark.parametrize("queue", list(QUEUES))
def test_each_queue_lists_its_cases_and_no_others(queue, users, queues, client):
    client.force_login(users["agent"])
    response = client.get(reverse("admin:cases_case_changelist"), {"queue": queue})
    assert response.status_code == 200
    listed = {case.subject for case in response.context["cl"].result_list}
    assert listed == QUEUES[queue]
    assert response.context["cl"].result_count == len(QUEUES[queue])


def test_the_team_queue_is_the_viewers_team(users, queues, client):
    dirk = Agent.objects.get(user__username="dirk").user
    dirk.is_staff = True
    dirk.save()
    client.force_login(dirk)
    response = client.get(reverse("admin:cases_case_changelist"), {"queue": "team"})
    listed = {case.subject for case in response.context["cl"].result_list}
    assert listed == {"other team, unassigned", "other team, Dirk's"}


@pytest.mark.parametrize("role", ROLES)
def test_the_case_page_per_group_with_bounded_queries(
    role, users, workload, client, django_assert_max_num_queries
):
    client.force_login(users[role])
    case = workload[0]
    # 27: the page also offers templates in the case's language, shows who is
    # answering, carries the conversation's position and the posts to answer;
    # none of it grows with the case's rows.
    with django_assert_max_num_queries(27):
        response = client.get(reverse("admin:cases_case_change", args=[case.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    # The conversation is shown, escaped, in time order.
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in content
    assert "<script>alert" not in content
    assert "&lt;b&gt;Pas 0&lt;/b&gt;" in content
    formsets = {
        formset.formset.prefix for formset in response.context["inline_admin_formsets"]
    }
    can_reply = role in ("agent", "manager")
    assert ("replies-2" in formsets) is can_reply
    # Spokespeople and customer service see the case but cannot change it.
    assert (b'name="_save"' in response.content) is can_reply


@pytest.mark.parametrize(
    "model", ["escalation", "commitment", "note", "reply", "caseevent"]
)
def test_other_change_pages_are_bounded(
    model, users, workload, client, django_assert_max_num_queries
):
    client.force_login(users["manager"])
    obj = {
        "escalation": Escalation,
        "commitment": Commitment,
        "note": Note,
        "reply": Reply,
        "caseevent": CaseEvent,
    }[model].objects.first()
    with django_assert_max_num_queries(20):
        response = client.get(reverse(f"admin:cases_{model}_change", args=[obj.pk]))
    assert response.status_code == 200


def test_the_queue_is_sorted_by_urgency(users, team, client, clock):
    low = services.case_open(subject="Laag", team=team, priority="low")
    urgent = services.case_open(subject="Spoed", team=team, priority="urgent")
    normal = services.case_open(subject="Normaal", team=team)
    # Same due time for two: priority decides, then reach.
    Case.objects.filter(pk__in=[low.pk, normal.pk]).update(next_due_at=clock.now)
    client.force_login(users["agent"])
    response = client.get(reverse("admin:cases_case_changelist"))
    ids = [case.pk for case in response.context["cl"].result_list]
    assert ids == [normal.pk, low.pk, urgent.pk]
    expected = list(Case.objects.for_queue().values_list("pk", flat=True))
    assert ids == expected


def test_due_badges_show_breached_and_due(users, team, client, clock):
    breached = services.case_open(subject="Te laat", team=team)
    Case.objects.filter(pk=breached.pk).update(
        next_due_at=clock.now - timedelta(minutes=5)
    )
    services.case_open(subject="Op tijd", team=team)
    client.force_login(users["agent"])
    content = client.get(reverse("admin:cases_case_changelist")).content.decode()
    assert 'title="breached"' in content
    assert 'title="due"' in content or 'title="due within an hour"' in content


def test_assign_to_me_action(users, team, client):
    case = services.case_open(subject="Vraag", team=team)
    client.force_login(users["agent"])
    response = client.post(
        reverse("admin:cases_case_changelist"),
        {"action": "assign_to_me", ACTION_CHECKBOX_NAME: [case.pk]},
        follow=True,
    )
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.assignee == users["agent"]
    assert case.status == CaseStatus.OPEN


def test_actions_are_offered_by_role(users, client):
    work = {"assign_to_me", "assign_automatically", "escalate", "resolve"}
    work.add("send_survey_now")
    expected = {
        "agent": work,
        "spokesperson": set(),
        "customer_service": set(),
        "manager": work,
    }
    for role, actions in expected.items():
        client.force_login(users[role])
        response = client.get(reverse("admin:cases_case_changelist"))
        form = response.context["action_form"]
        offered = (
            {name for name, _ in form.fields["action"].choices} - {""}
            if form
            else set()
        )
        assert offered == actions, role


def test_a_refused_action_shows_the_service_message(users, team, client):
    case = services.case_close(
        case=services.case_open(subject="Spam", team=team),
        reason="spam",
        actor_label="t",
    )
    client.force_login(users["agent"])
    response = client.post(
        reverse("admin:cases_case_changelist"),
        {"action": "resolve", ACTION_CHECKBOX_NAME: [case.pk]},
        follow=True,
    )
    text = [str(message) for message in response.context["messages"]]
    assert text == [f"#{case.pk}: A closed case cannot be resolved; reopen it first."]


def test_escalate_action_asks_for_department_and_reason(
    users, team, client, mailoutbox
):
    case = services.case_open(subject="Phishing", team=team)
    client.force_login(users["agent"])
    url = reverse("admin:cases_case_changelist")
    page = client.post(url, {"action": "escalate", ACTION_CHECKBOX_NAME: [case.pk]})
    assert page.status_code == 200
    assert b'name="reason"' in page.content
    response = client.post(
        url,
        {
            "action": "escalate",
            ACTION_CHECKBOX_NAME: [case.pk],
            "apply": "1",
            "department": "security",
            "reason": "Phishing link",
        },
    )
    assert response.status_code == 302
    escalation = Escalation.objects.get(case=case)
    assert escalation.department == "security"
    assert escalation.requested_by == users["agent"]


def test_department_inbox_acknowledge_and_resolve(users, team, agent, client):
    case = services.case_open(subject="Pers", team=team)
    escalation = services.case_escalate(
        case=case, department="pr", reason="Journalist", actor=agent
    )
    client.force_login(users["spokesperson"])
    url = reverse("admin:cases_escalation_changelist")
    inbox = client.get(url, {"department__exact": "pr", "status__exact": "open"})
    assert [e.pk for e in inbox.context["cl"].result_list] == [escalation.pk]
    client.post(url, {"action": "acknowledge", ACTION_CHECKBOX_NAME: [escalation.pk]})
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.ACKNOWLEDGED
    assert escalation.acknowledged_by == users["spokesperson"]
    client.post(
        url,
        {
            "action": "resolve",
            ACTION_CHECKBOX_NAME: [escalation.pk],
            "apply": "1",
            "note": "Reactie gegeven aan de journalist",
        },
    )
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.RESOLVED
    assert escalation.resolution_note == "Reactie gegeven aan de journalist"
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_an_agent_cannot_act_in_the_department_inbox(users, team, agent, client):
    case = services.case_open(subject="Pers", team=team)
    escalation = services.case_escalate(
        case=case, department="pr", reason="Journalist", actor=agent
    )
    client.force_login(agent)
    response = client.get(reverse("admin:cases_escalation_changelist"))
    assert response.status_code == 200
    assert response.context["action_form"] is None  # no action is offered
    client.post(
        reverse("admin:cases_escalation_changelist"),
        {"action": "acknowledge", ACTION_CHECKBOX_NAME: [escalation.pk]},
    )
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.OPEN


def _form_data(response):
    """POST data for a change page as it was rendered: main form and inlines."""
    data = {}

    def add(form):
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            if isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(v) for v in value]
            else:
                data[form.add_prefix(name)] = "on" if value is True else str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in formset.forms:
            add(form)
    return data


def test_recording_a_reply_on_the_case_page_goes_through_the_service(
    users, team, agent, client
):
    case = services.case_open(subject="Vraag", team=team, channel="x_search")
    client.force_login(agent)
    url = reverse("admin:cases_case_change", args=[case.pk])
    data = _form_data(client.get(url))
    data["replies-2-0-text"] = "Vervelend! Stuur je ons een DM?"
    data["notes-2-0-text"] = "Klant is journalist"
    data["priority"] = "high"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    reply = Reply.objects.get(case=case)
    assert reply.signature == "Anna"
    assert reply.channel == "x_search"
    case.refresh_from_db()
    assert case.first_response_at == reply.sent_at
    assert case.assignee == agent
    assert case.priority == "high"
    kinds = set(case.events.values_list("kind", flat=True))
    assert {
        EventKind.REPLIED,
        EventKind.NOTE_ADDED,
        EventKind.PRIORITY_CHANGED,
    } <= kinds


def test_adding_a_case_in_the_admin_opens_it_through_the_service(users, team, client):
    client.force_login(users["agent"])
    response = client.post(
        reverse("admin:cases_case_add"),
        {
            "subject": "Telefoontje",
            "priority": "normal",
            "team": team.pk,
            "channel": "manual",
        },
    )
    assert response.status_code == 302
    case = Case.objects.get(subject="Telefoontje")
    assert case.first_response_due_at is not None
    assert case.events.filter(kind=EventKind.CREATED, actor=users["agent"]).exists()


def test_the_case_page_shows_due_times_and_open_escalations(users, workload, client):
    client.force_login(users["agent"])
    content = client.get(
        reverse("admin:cases_case_change", args=[workload[0].pk])
    ).content.decode()
    assert "first response due" in content.lower()
    assert "Pas blokkeren" in content  # the open escalation
    assert "Bel terug" in content  # the promise


def test_events_cannot_be_added_changed_or_deleted(users, workload, client):
    client.force_login(users["manager"])
    event = CaseEvent.objects.first()
    assert client.get(reverse("admin:cases_caseevent_add")).status_code == 403
    assert (
        client.get(reverse("admin:cases_caseevent_delete", args=[event.pk])).status_code
        == 403
    )
    response = client.post(
        reverse("admin:cases_caseevent_change", args=[event.pk]), {"kind": "merged"}
    )
    assert response.status_code == 403
    assert CaseEvent.objects.get(pk=event.pk).kind == event.kind


def test_nobody_deletes_a_case(users, workload, client):
    client.force_login(users["manager"])
    url = reverse("admin:cases_case_delete", args=[workload[0].pk])
    assert client.get(url).status_code == 403
    assert Case.objects.filter(pk=workload[0].pk).exists()


def test_team_opening_hours_are_validated(users, client):
    client.force_login(users["manager"])
    response = client.post(
        reverse("admin:cases_team_add"),
        {
            "name": "Nacht",
            "email": "",
            "opening_hours": '{"blocks": {"mon": ["25:00-26:00"]}}',
        },
    )
    assert response.status_code == 200
    assert "invalid time" in str(response.context["adminform"].form.errors)
    assert not Team.objects.filter(name="Nacht").exists()


def test_an_agent_marks_themself_away_but_not_a_colleague(
    users, team, agent, other_agent, client
):
    client.force_login(agent)
    url = reverse("admin:cases_agent_changelist")
    mine = Agent.objects.get(user=agent)
    theirs = Agent.objects.get(user=other_agent)
    client.post(
        url, {"action": "mark_away", ACTION_CHECKBOX_NAME: [mine.pk, theirs.pk]}
    )
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert not mine.is_available
    assert theirs.is_available


def test_manager_pages_for_targets_and_topics(users, client):
    client.force_login(users["manager"])
    target = ServiceTarget.objects.get(priority="urgent", channel="")
    response = client.get(reverse("admin:cases_servicetarget_change", args=[target.pk]))
    assert response.status_code == 200
    Topic.objects.create(name="Hypotheken")
    assert (
        client.get(reverse("admin:cases_topic_changelist"), {"q": "hypo"}).status_code
        == 200
    )
    make_agent(Team.objects.create(name="Zakelijk"), "zoe", "Zoë")
    assert client.get(reverse("admin:cases_agent_changelist")).status_code == 200


def test_setup_roles_restores_the_groups(users):
    agents = Group.objects.get(name="agent")
    agents.permissions.remove(*agents.permissions.filter(codename="reply_case"))
    assert not agents.permissions.filter(codename="reply_case").exists()
    call_command("setup_roles", stdout=StringIO())
    assert agents.permissions.filter(codename="reply_case").exists()


def test_send_survey_now_schedules_and_sends_at_once(users, team, agent, client, clock):
    from reporting.models import Survey, SurveyStatus

    customer = AuthorFactory(email="klant@example.com")
    case = services.case_open(
        subject="Geholpen", customer=customer, team=team, channel="x_search"
    )
    services.case_reply(case=case, agent=agent, text="Opgelost!")
    services.case_resolve(case=case, actor=agent)
    survey = Survey.objects.get(case=case)
    assert survey.scheduled_for > clock.now  # the usual delay
    open_case = services.case_open(subject="Nog open", team=team)
    client.force_login(agent)
    response = client.post(
        reverse("admin:cases_case_changelist"),
        {"action": "send_survey_now", ACTION_CHECKBOX_NAME: [case.pk, open_case.pk]},
        follow=True,
    )
    text = sorted(str(message) for message in response.context["messages"])
    assert text == [
        f"#{open_case.pk}: only a resolved case gets a survey.",
        f"Survey sent: #{case.pk}.",
    ]
    survey.refresh_from_db()
    assert survey.scheduled_for == clock.now
    assert survey.status in (SurveyStatus.SCHEDULED, SurveyStatus.SENT)
    assert not Survey.objects.filter(case=open_case).exists()


def test_making_a_commitment_in_the_past_or_on_a_closed_case_shows_the_rule(
    users, team, agent, client, clock
):
    open_case = services.case_open(subject="Terugbellen", team=team)
    closed_case = services.case_close(
        case=services.case_open(subject="Spam", team=team),
        reason="spam",
        actor_label="t",
    )
    client.force_login(agent)
    url = reverse("admin:cases_commitment_add")
    future = clock.now + timedelta(days=1)
    tries = [
        (open_case, clock.now - timedelta(hours=1), "must be in the future"),
        (closed_case, future, "A closed case takes no new commitments"),
    ]
    for case, due_at, message in tries:
        local = timezone.localtime(due_at)
        response = client.post(
            url,
            {
                "case": case.pk,
                "description": "Bel de klant terug",
                "owner": agent.pk,
                "due_at_0": local.strftime("%Y-%m-%d"),
                "due_at_1": local.strftime("%H:%M:%S"),
            },
        )
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not Commitment.objects.exists()


def test_assigning_someone_who_may_not_reply_shows_the_rule(users, team, client):
    case = services.case_open(subject="Vraag", team=team)
    # An Agent profile, but in a group that may not reply to cases.
    Agent.objects.create(user=users["spokesperson"], team=team)
    client.force_login(users["manager"])
    url = reverse("admin:cases_case_change", args=[case.pk])
    data = _form_data(client.get(url))
    data["assignee"] = str(users["spokesperson"].pk)
    response = client.post(url, data)
    assert response.status_code == 200
    assert "cannot be assigned cases" in response.content.decode()
    response = client.post(
        reverse("admin:cases_case_add"),
        {
            "subject": "Telefoontje",
            "priority": "normal",
            "team": team.pk,
            "channel": "manual",
            "assignee": users["spokesperson"].pk,
        },
    )
    assert response.status_code == 200
    assert "cannot be assigned cases" in response.content.decode()
    case.refresh_from_db()
    assert case.assignee is None
    assert not Case.objects.filter(subject="Telefoontje").exists()


def test_a_public_reply_with_personal_data_keeps_the_text_and_says_what(
    users, team, agent, client
):
    case = services.case_open(subject="Pas", team=team, channel="x_search")
    client.force_login(agent)
    url = reverse("admin:cases_case_change", args=[case.pk])
    data = _form_data(client.get(url))
    data["replies-2-0-text"] = "Je pas op NL91ABNA0417164300 is geblokkeerd."
    response = client.post(url, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "must not contain personal data; found an IBAN (…4300)" in page
    assert "NL91ABNA0417164300 is geblokkeerd.</textarea>" in page
    assert not Reply.objects.filter(case=case).exists()
    data["replies-2-0-is_private"] = "on"
    assert client.post(url, data).status_code == 302
    assert Reply.objects.get(case=case).is_private


def test_a_reply_on_a_case_without_a_channel_asks_for_one(users, team, agent, client):
    case = services.case_open(subject="Uit het CRM", team=team)  # no channel
    client.force_login(agent)
    url = reverse("admin:cases_case_change", args=[case.pk])
    data = _form_data(client.get(url))
    data["replies-2-0-text"] = "We bellen je morgen."
    response = client.post(url, data)
    assert response.status_code == 200
    assert "This case has no channel" in response.content.decode()
    assert "We bellen je morgen.</textarea>" in response.content.decode()
    assert not Reply.objects.filter(case=case).exists()
    data["replies-2-0-channel"] = "manual"
    assert client.post(url, data).status_code == 302
    reply = Reply.objects.get(case=case)
    assert (reply.channel, reply.text) == ("manual", "We bellen je morgen.")
