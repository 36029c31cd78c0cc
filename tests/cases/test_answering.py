"""Two agents never answer the same post: who is answering is shown, and a reply
written before the conversation changed is refused with what is new."""

import threading
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import Answering, Reply
from cases.selectors import conversation_position
from cases.services import CaseError, CasePermissionDenied, ConversationChanged
from tests.cases.conftest import make_agent
from tests.factories import MentionFactory, UserFactory
from tests.threads import errors, run_at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(team):
    return services.case_open(subject="Pinpas", team=team, channel="x_search")


def reply(case, agent, seen, text="Hoi! We kijken ernaar."):
    return services.case_reply(
        case=case, agent=agent, actor=agent, text=text, conversation_seen=seen
    )


# --- The conversation's position ------------------------------------------------------


def test_a_reply_written_before_a_new_post_is_refused_with_the_post(case, agent):
    seen = conversation_position(case)
    MentionFactory(
        case=case, author__handle="klant7", text="Hallo?? Nog steeds niks gehoord"
    )
    with pytest.raises(ConversationChanged) as refused:
        reply(case, agent, seen)
    message = str(refused.value)
    assert "Not sent: the conversation changed" in message
    assert "@klant7 wrote" in message and "Nog steeds niks gehoord" in message
    assert not Reply.objects.exists()
    # Written again at the new position, it goes.
    reply(case, agent, refused.value.position)
    assert Reply.objects.count() == 1


def test_a_colleagues_reply_in_between_refuses_mine(case, agent, other_agent):
    seen = conversation_position(case)
    reply(case, other_agent, seen, text="Dag! Stuur ons een DM. ^Bram")
    with pytest.raises(ConversationChanged) as refused:
        reply(case, agent, seen)
    assert "Bram replied" in str(refused.value)
    assert "Stuur ons een DM" in str(refused.value)
    assert Reply.objects.count() == 1


@pytest.mark.parametrize("forged", ["", "x", "1.2", "9.9.9.9.9", "-1.-1.-1.-1"])
def test_a_forged_position_is_refused_not_a_crash(case, agent, forged):
    MentionFactory(case=case)
    with pytest.raises(ConversationChanged):
        reply(case, agent, forged)


def test_without_a_position_nothing_is_checked(case, agent):
    """Tasks and the API today record replies sent elsewhere: no position."""
    MentionFactory(case=case)
    reply(case, agent, None)
    assert Reply.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_agents_replying_at_once_give_one_reply(on_postgres, team):
    anna, bram = make_agent(team, "anna2", "Anna"), make_agent(team, "bram2", "Bram")
    case = services.case_open(subject="Pinpas", team=team, channel="x_search")
    MentionFactory(case=case)
    seen = conversation_position(case)
    for _round in range(5):
        barrier = threading.Barrier(2)

        def send(agent, barrier=barrier):
            def run():
                barrier.wait(timeout=10)
                return reply(case, agent, seen, text=f"Antwoord van {agent.first_name}")

            return run

        workers = run_at_once(send(anna), send(bram))
        failures = errors(workers)
        assert len(failures) == 1, failures
        assert isinstance(failures[0], ConversationChanged)
        assert Reply.objects.filter(case=case).count() == 1
        Reply.objects.filter(case=case).delete()


# --- Who is answering -------------------------------------------------------------------


def test_colleagues_see_who_is_answering_and_since_when(case, agent, other_agent):
    assert services.case_start_answering(case=case, agent=agent) == []
    others = services.case_start_answering(case=case, agent=other_agent)
    assert [row.agent for row in others] == [agent]
    # Her reply ends it; so does closing the composer.
    reply(case, agent, None)
    assert services.case_start_answering(case=case, agent=other_agent) == []
    services.case_stop_answering(case=case, agent=other_agent)
    assert not Answering.objects.exists()


def test_an_agent_who_stopped_typing_long_ago_is_not_answering(
    case, agent, other_agent, settings
):
    services.case_start_answering(case=case, agent=agent)
    old = timezone.now() - settings.WEBCARE_ANSWERING_TIMEOUT - timedelta(seconds=1)
    Answering.objects.update(started_at=old, seen_at=old)
    assert services.case_start_answering(case=case, agent=other_agent) == []
    # Coming back is a new start.
    services.case_start_answering(case=case, agent=agent)
    assert Answering.objects.get(agent=agent).started_at > old + timedelta(seconds=1)


def test_only_who_may_reply_answers_an_active_case(case, agent, spokesperson):
    with pytest.raises(CasePermissionDenied):
        services.case_start_answering(case=case, agent=spokesperson)
    services.case_assign(case=case, assignee=agent, actor=agent)
    services.case_resolve(case=case, actor=agent)
    with pytest.raises(CaseError, match="reopen it first"):
        services.case_start_answering(case=case, agent=agent)


# --- In the admin --------------------------------------------------------------------------


def _form_data(client, url):
    from tests.cases.test_admin import _form_data as form_data

    return form_data(client.get(url))


def test_the_case_page_refuses_a_stale_reply_and_keeps_the_text(
    client, case, agent, other_agent
):
    services.case_assign(case=case, assignee=agent, actor=agent)
    url = reverse("admin:cases_case_change", args=[case.pk])
    client.force_login(agent)
    data = _form_data(client, url)
    data["replies-2-0-text"] = "Wat vervelend! ^Anna"
    reply(case, other_agent, None, text="Al opgelost via DM. ^Bram")

    response = client.post(url, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "the conversation changed after you started" in page
    assert "Al opgelost via DM." in page
    assert "Wat vervelend! ^Anna</textarea>" in page
    assert Reply.objects.count() == 1
    # The page now carries the new position: sending again goes through.
    data["replies-2-0-conversation_seen"] = conversation_position(case)
    assert client.post(url, data).status_code == 302
    assert Reply.objects.count() == 2


def test_the_queue_and_the_case_page_show_who_is_answering(
    client, case, agent, other_agent
):
    services.case_start_answering(case=case, agent=other_agent)
    client.force_login(agent)
    queue = client.get(reverse("admin:cases_case_changelist")).content.decode()
    assert "Bram" in queue and "is writing a reply" in queue
    page = client.get(reverse("admin:cases_case_change", args=[case.pk]))
    assert "Bram is answering this case (since" in page.content.decode()


def test_the_composers_signal_answers_who_else_is_answering(
    client, case, agent, other_agent
):
    url = reverse("admin:cases_case_answering", args=[case.pk])
    services.case_start_answering(case=case, agent=other_agent)
    client.force_login(agent)
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["others"]] == ["Bram"]
    assert Answering.objects.filter(agent=agent).exists()
    assert client.post(url, {"stop": "1"}).json()["others"][0]["name"] == "Bram"
    assert not Answering.objects.filter(agent=agent).exists()

    reader = UserFactory(groups=["spokesperson"])
    client.force_login(reader)
    assert client.post(url).status_code == 403
    assert client.post(
        reverse("admin:cases_case_answering", args=[999999])
    ).status_code in (404, 302)
