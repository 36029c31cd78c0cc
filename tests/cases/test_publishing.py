"""Replies published where the customer wrote, exactly once, against fakes of the
platforms on 127.0.0.1 that accept a post and then drop the connection."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from cases import services
from cases.models import CaseEvent, PublishStatus, Reply
from cases.services import CaseError, replies
from cases.services.publishing import (
    replies_publishing_sweep,
    reply_publish,
    reply_reconcile,
    reply_seen_on_platform,
)
from sources.connectors import MentionItem
from sources.models import Mention, SourceKind
from sources.services import mentions_store
from tests.cases.conftest import make_agent
from tests.factories import AuthorFactory, MentionFactory, SourceFactory
from tests.fakeplatforms import FakeDiscourse, FakeMastodon
from tests.threads import errors, run_at_once
from webcare.api.models import ApiClient, Webhook, WebhookDelivery
from webcare.errors import StateConflict

pytestmark = pytest.mark.django_db


@pytest.fixture
def mastodon(settings):
    platform = FakeMastodon()
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = True
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        **settings.WEBCARE_CONNECTOR_CREDENTIALS,
        "mastodon": {"access_token": "masto-token", "base_url": platform.url},
    }
    yield platform
    platform.close()


@pytest.fixture
def discourse(settings):
    platform = FakeDiscourse()
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = True
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        **settings.WEBCARE_CONNECTOR_CREDENTIALS,
        "discourse": {
            "api_key": "disc-key",
            "api_username": FakeDiscourse.username,
            "base_url": platform.url,
        },
    }
    yield platform
    platform.close()


def toot(platform_url, team, *, external_id="113555", handle="klant@mastodon.social"):
    source = SourceFactory(kind=SourceKind.MASTODON, url=platform_url, query="#bank")
    author = AuthorFactory(platform=SourceKind.MASTODON, handle=handle)
    mention = MentionFactory(
        source=source,
        author=author,
        external_id=external_id,
        url=f"{platform_url}/@klant/{external_id}",
        conversation_key=f"mastodon:{external_id}",
        text="Mijn pinpas doet het niet",
    )
    case = services.case_open(
        subject="Pinpas", team=team, channel=SourceKind.MASTODON, customer=author
    )
    services.case_add_mention(case=case, mention=mention)
    mention.refresh_from_db()
    return case, mention


def publish(case, agent, mention, text="Hoi! Stuur ons een DM? ^Anna", **kwargs):
    return services.case_reply(
        case=case,
        agent=agent,
        actor=agent,
        text=text,
        in_reply_to=mention,
        publish=True,
        **kwargs,
    )


def due_now(reply):
    Reply.objects.filter(pk=reply.pk).update(publish_due_at=timezone.now())


# --- Published once --------------------------------------------------------------------


def test_a_reply_is_published_on_mastodon_once_after_commit(
    mastodon, team, agent, django_capture_on_commit_callbacks
):
    client = ApiClient.objects.create(
        name="crm", token_prefix="abc", token_hash="0" * 64, scopes=["read"]
    )
    Webhook.objects.create(
        client=client,
        url="http://127.0.0.1:9/hook",
        events=["reply.published"],
        secret="s",
    )
    case, mention = toot(mastodon.url, team)
    with django_capture_on_commit_callbacks(execute=True):
        reply = publish(case, agent, mention)
        assert mastodon.writes() == []  # nothing leaves before the commit
    reply.refresh_from_db()
    assert reply.publish_status == PublishStatus.PUBLISHED
    (status,) = mastodon.posts
    assert reply.external_id == status["id"]
    assert reply.external_url == status["url"]
    assert status["in_reply_to_id"] == "113555"
    assert status["visibility"] == "public"
    (_, _, headers, _) = mastodon.writes()[0]
    assert headers["authorization"] == "Bearer masto-token"
    assert headers["idempotency-key"] == f"webcare-reply-{reply.pk}"
    assert CaseEvent.objects.filter(case=case, kind="reply_published").exists()
    delivery = WebhookDelivery.objects.get(event="reply.published")
    assert delivery.payload["reply"]["external_url"] == status["url"]
    # A second delivery of the task does nothing.
    assert reply_publish(reply.pk).status == "not_due"
    assert len(mastodon.posts) == 1


def test_accepted_then_dropped_is_found_not_sent_again(mastodon, team, agent):
    """The platform took the post and the connection died before its answer: the
    reply is unconfirmed, found among the account's posts, and published once."""
    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    mastodon.next_writes = ["accept_then_drop"]
    assert reply_publish(reply.pk).status == PublishStatus.UNCONFIRMED
    reply.refresh_from_db()
    assert reply.publish_status == PublishStatus.UNCONFIRMED
    assert "no answer" in reply.publish_error
    assert CaseEvent.objects.filter(case=case, kind="reply_unconfirmed").exists()
    # Not sent again, not even by the sweep: looked for first.
    assert replies_publishing_sweep(now=timezone.now()).publish == []
    due_now(reply)
    assert reply_reconcile(reply.pk).status == PublishStatus.PUBLISHED
    reply.refresh_from_db()
    (status,) = mastodon.posts
    assert reply.external_id == status["id"]
    assert len(mastodon.writes()) == 1


def test_dropped_before_it_was_taken_is_sent_again_after_looking(mastodon, team, agent):
    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    mastodon.next_writes = ["drop"]
    assert reply_publish(reply.pk).status == PublishStatus.UNCONFIRMED
    due_now(reply)
    assert reply_reconcile(reply.pk).status == PublishStatus.UNCONFIRMED
    due_now(reply)
    assert reply_reconcile(reply.pk).status == PublishStatus.QUEUED
    assert reply_publish(reply.pk).status == PublishStatus.PUBLISHED
    assert len(mastodon.posts) == 1
    reply.refresh_from_db()
    assert reply.publish_attempts == 2


def test_a_rate_limit_waits_for_retry_after(mastodon, team, agent):
    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    mastodon.next_writes = ["rate_limit"]
    before = timezone.now()
    assert reply_publish(reply.pk).status == PublishStatus.QUEUED
    reply.refresh_from_db()
    assert reply.publish_due_at >= before + timedelta(seconds=119)
    assert mastodon.posts == []
    assert reply_publish(reply.pk).status == "not_due"  # not before its time
    due_now(reply)
    assert reply_publish(reply.pk).status == PublishStatus.PUBLISHED


def test_a_refusal_fails_in_the_platforms_words_and_tells_the_crm(
    mastodon, team, agent
):
    client = ApiClient.objects.create(
        name="crm", token_prefix="abc", token_hash="0" * 64, scopes=["read"]
    )
    Webhook.objects.create(
        client=client,
        url="http://127.0.0.1:9/hook",
        events=["reply.failed"],
        secret="s",
    )
    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    mastodon.next_writes = ["refuse"]
    assert reply_publish(reply.pk).status == PublishStatus.FAILED
    reply.refresh_from_db()
    assert "refused (422): Validation failed" in reply.publish_error
    assert "masto-token" not in reply.publish_error
    assert WebhookDelivery.objects.get().event == "reply.failed"
    assert CaseEvent.objects.filter(case=case, kind="reply_publish_failed").exists()


def test_a_worker_that_died_mid_request_leaves_it_unconfirmed(mastodon, team, agent):
    """The claim lapses: the post may exist, so it is looked for, never resent."""
    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    # The dead worker's request reached the platform; its claim is still there.
    Reply.objects.filter(pk=reply.pk).update(
        publish_status=PublishStatus.PUBLISHING,
        publish_sent_at=timezone.now() - timedelta(minutes=5),
        publish_due_at=timezone.now() - timedelta(minutes=3),
    )
    mastodon.create(
        "/api/v1/statuses",
        {},
        {"status": reply.text, "in_reply_to_id": "113555"},
    )
    report = replies_publishing_sweep()
    assert report.lapsed == 1 and report.publish == []
    reply.refresh_from_db()
    assert reply.publish_status == PublishStatus.UNCONFIRMED
    assert replies_publishing_sweep().check == []  # the platform gets a moment
    due_now(reply)
    assert reply.pk in replies_publishing_sweep().check
    assert reply_reconcile(reply.pk).status == PublishStatus.PUBLISHED
    assert len(mastodon.posts) == 1 and mastodon.writes() == []


def test_what_cannot_be_settled_is_left_to_the_agent_in_words(mastodon, team, agent):
    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    mastodon.next_writes = ["accept_then_drop"]
    reply_publish(reply.pk)
    mastodon.close()  # the platform cannot be asked any more
    for _check in range(5):
        due_now(reply)
        assert reply_reconcile(reply.pk).status == PublishStatus.UNCONFIRMED
    reply.refresh_from_db()
    assert reply.publish_due_at is None  # no more automatic checks
    assert "Could not be settled: check the platform" in reply.publish_error


def test_a_post_on_another_instance_is_looked_up_on_the_teams(mastodon, team, agent):
    case, mention = toot("https://mastodon.social", team)
    mastodon.remote[mention.url] = "42424242"
    reply = publish(case, agent, mention)
    assert reply_publish(reply.pk).status == PublishStatus.PUBLISHED
    assert mastodon.posts[0]["in_reply_to_id"] == "42424242"
    # The token went only to the team's instance.
    assert all(r[2].get("authorization") for r in mastodon.requests)


def test_a_private_reply_is_a_direct_message_to_the_customer(mastodon, team, agent):
    case, mention = toot(mastodon.url, team)
    reply = publish(
        case, agent, mention, text="Wat is je klantnummer?", is_private=True
    )
    assert reply_publish(reply.pk).status == PublishStatus.PUBLISHED
    (status,) = mastodon.posts
    assert status["visibility"] == "direct"
    assert "@klant@mastodon.social Wat is je klantnummer?" in status["content"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_publishing_the_same_reply_post_once(
    on_postgres, mastodon, team, monkeypatch
):
    agent = make_agent(team, "anna3", "Anna")
    case, mention = toot(mastodon.url, team)
    # Queued only: the three workers below are the ones that take it.
    monkeypatch.setattr(replies, "enqueue_on_commit", lambda *args: None)
    reply = publish(case, agent, mention)
    barrier = threading.Barrier(3)

    def worker():
        barrier.wait(timeout=10)
        return reply_publish(reply.pk).status

    workers = run_at_once(worker, worker, worker)
    assert errors(workers) == []
    assert sorted(w.result for w in workers) == ["not_due", "not_due", "published"]
    assert len(mastodon.posts) == 1


# --- Discourse ----------------------------------------------------------------------


def forum_post(platform_url, team):
    source = SourceFactory(kind=SourceKind.DISCOURSE, url=platform_url, query="")
    author = AuthorFactory(platform=SourceKind.DISCOURSE, handle="jan_de_klant")
    mention = MentionFactory(
        source=source,
        author=author,
        external_id="5501",
        url=f"{platform_url}/t/pinpas-kwijt/1148/3",
        conversation_key="discourse:1148",
        raw={"post_number": 3, "topic_id": 1148},
    )
    case = services.case_open(
        subject="Pinpas", team=team, channel=SourceKind.DISCOURSE, customer=author
    )
    services.case_add_mention(case=case, mention=mention)
    mention.refresh_from_db()
    return case, mention


def test_a_forum_reply_answers_the_post_in_its_topic(discourse, team, agent):
    case, mention = forum_post(discourse.url, team)
    reply = publish(case, agent, mention)
    assert reply_publish(reply.pk).status == PublishStatus.PUBLISHED
    (post,) = discourse.posts
    assert (post["topic_id"], post["reply_to_post_number"]) == (1148, 3)
    reply.refresh_from_db()
    assert reply.external_url == (
        f"{discourse.url}/t/pinpas-kwijt/1148/{post['post_number']}"
    )
    assert reply.external_id == str(post["id"])


def test_a_dropped_forum_reply_is_found_by_its_topic_and_post(discourse, team, agent):
    case, mention = forum_post(discourse.url, team)
    reply = publish(case, agent, mention)
    discourse.next_writes = ["accept_then_drop"]
    assert reply_publish(reply.pk).status == PublishStatus.UNCONFIRMED
    due_now(reply)
    assert reply_reconcile(reply.pk).status == PublishStatus.PUBLISHED
    assert len(discourse.posts) == 1


def test_a_private_forum_reply_is_a_private_message(discourse, team, agent):
    case, mention = forum_post(discourse.url, team)
    reply = publish(case, agent, mention, text="Mail ons je gegevens.", is_private=True)
    discourse.next_writes = ["accept_then_drop"]
    assert reply_publish(reply.pk).status == PublishStatus.UNCONFIRMED
    due_now(reply)
    assert reply_reconcile(reply.pk).status == PublishStatus.PUBLISHED
    (post,) = discourse.posts
    assert post["private"] and post["target_recipients"] == "jan_de_klant"
    assert f"(case {case.pk}, reply {reply.pk})" in post["title"]


# --- What cannot be published ---------------------------------------------------------


def test_a_feed_reply_is_posted_by_hand_with_its_link(team, agent):
    case = services.case_open(subject="Blog", team=team, channel=SourceKind.FEED)
    with pytest.raises(CaseError, match="post it by hand"):
        services.case_reply(
            case=case, agent=agent, actor=agent, text="Reactie", publish=True
        )
    reply = services.case_reply(
        case=case,
        agent=agent,
        actor=agent,
        text="Reactie",
        posted_url="https://blog.example.com/post#comment-9",
    )
    assert reply.publish_status == PublishStatus.BY_HAND
    assert reply.external_url == "https://blog.example.com/post#comment-9"


def test_an_unconfigured_platform_says_so(team, agent, settings):
    case, mention = toot("https://mastodon.social", team)
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        **settings.WEBCARE_CONNECTOR_CREDENTIALS,
        "mastodon": {"access_token": "", "base_url": ""},
    }
    with pytest.raises(CaseError, match="not supported or not configured"):
        publish(case, agent, mention)
    assert not Reply.objects.exists()


def test_a_public_reply_must_say_what_it_answers(mastodon, team, agent):
    case, _mention = toot(mastodon.url, team)
    with pytest.raises(CaseError, match="Say which post the reply answers"):
        services.case_reply(
            case=case, agent=agent, actor=agent, text="Hoi", publish=True
        )


# --- The team's own accounts ---------------------------------------------------------


def test_the_teams_own_posts_are_never_a_customers_mention(
    mastodon, team, agent, settings
):
    """Polled back, our post is left out of the store (no mention, no triage, no
    case) and settles the reply whose publishing was unconfirmed."""
    settings.WEBCARE_OWN_ACCOUNTS = {"mastodon": ["Webcare", "1091"]}
    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    mastodon.next_writes = ["accept_then_drop"]
    reply_publish(reply.pk)
    (status,) = mastodon.posts
    ours = MentionItem(
        external_id=status["id"],
        text="Hoi! Stuur ons een DM? ^Anna",
        url=status["url"],
        author_id="1091",
        author_handle="webcare",
        in_reply_to="113555",
    )
    customer = MentionItem(external_id="113999", text="Dank!", author_id="77")
    result = mentions_store(source=mention.source, items=[ours, customer])
    assert (result.own, result.new) == (1, 1)
    assert not Mention.objects.filter(external_id=status["id"]).exists()
    reply.refresh_from_db()
    assert reply.publish_status == PublishStatus.PUBLISHED
    assert reply.external_id == status["id"]
    # Met again: already linked, nothing changes.
    assert mentions_store(source=mention.source, items=[ours]).own == 1
    assert len(mastodon.writes()) == 1


def test_the_case_page_publishes_in_answer_to_the_latest_post(
    mastodon, team, agent, client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from tests.cases.test_admin import _form_data

    case, mention = toot(mastodon.url, team)
    services.case_assign(case=case, assignee=agent, actor=agent)
    client.force_login(agent)
    url = reverse("admin:cases_case_change", args=[case.pk])
    data = _form_data(client.get(url))
    # Publishing is on where the platform is configured; the latest post is chosen.
    assert data["replies-2-0-publish"] == "on"
    assert str(data["replies-2-0-in_reply_to"]) == str(mention.pk)
    data["replies-2-0-publish"] = "on"
    data["replies-2-0-text"] = "Hoi! We kijken ernaar. ^Anna"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, data).status_code == 302
    reply = Reply.objects.get(case=case)
    assert (reply.in_reply_to, reply.publish_status) == (mention, "published")
    page = client.get(url).content.decode()
    assert f'href="{reply.external_url}"' in page and "published" in page


# --- What a hostile reviewer tried ---------------------------------------------------


def test_a_direct_message_names_the_customer_on_their_own_instance(
    mastodon, team, agent
):
    """A bare handle read from mastodon.social is someone else on the team's
    instance: it is qualified with its home."""
    case, mention = toot("https://mastodon.social", team, handle="klant")
    mastodon.remote[mention.url] = "42424242"
    reply = publish(
        case, agent, mention, text="Wat is je klantnummer?", is_private=True
    )
    assert reply_publish(reply.pk).status == PublishStatus.PUBLISHED
    assert mastodon.posts[0]["content"].startswith("<p>@klant@mastodon.social Wat")


def test_a_handle_inside_the_text_does_not_replace_the_recipient(mastodon, team, agent):
    case, mention = toot(mastodon.url, team, handle="jan")
    reply = publish(
        case, agent, mention, text="Zie ook @janssen_bank voor meer.", is_private=True
    )
    reply_publish(reply.pk)
    assert mastodon.posts[0]["content"].startswith("<p>@jan Zie ook @janssen_bank")


def test_a_private_reply_goes_to_the_customer_never_to_a_bystander(
    mastodon, team, agent
):
    case, mention = toot(mastodon.url, team, handle="klant")
    bystander = MentionFactory(
        source=mention.source,
        author=AuthorFactory(platform=SourceKind.MASTODON, handle="piet"),
        external_id="113600",
        url=f"{mastodon.url}/@piet/113600",
        conversation_key="mastodon:113555",
    )
    services.case_add_mention(case=case, mention=bystander)
    reply = publish(case, agent, bystander, text="Je IBAN klopt.", is_private=True)
    reply_publish(reply.pk)
    assert mastodon.posts[0]["content"].startswith("<p>@klant Je IBAN")


def test_a_private_reply_to_a_customer_on_another_platform_is_refused(
    mastodon, team, agent
):
    case, mention = toot(mastodon.url, team)
    case.customer = AuthorFactory(platform=SourceKind.X_SEARCH, handle="jan")
    case.save()
    with pytest.raises(CaseError, match="would reach someone else"):
        publish(case, agent, mention, text="Je BSN", is_private=True)


def test_a_post_on_another_forum_is_not_answered_in_ours(discourse, team, agent):
    case, mention = forum_post("https://community.partner.example", team)
    reply = publish(case, agent, mention)
    assert reply_publish(reply.pk).status == PublishStatus.FAILED
    reply.refresh_from_db()
    assert "another forum" in reply.publish_error
    assert discourse.posts == []


def test_two_forum_replies_to_one_post_are_not_confused(discourse, team, agent):
    case, mention = forum_post(discourse.url, team)
    first = publish(case, agent, mention, text="Hoi! Stuur ons een DM? ^Anna")
    assert reply_publish(first.pk).status == PublishStatus.PUBLISHED
    second = publish(case, agent, mention, text="Aanvulling: bel ook even. ^Anna")
    discourse.next_writes = ["drop"]  # lost before the forum took it
    assert reply_publish(second.pk).status == PublishStatus.UNCONFIRMED
    for _check in range(6):
        due_now(second)
        reply_reconcile(second.pk)
    second.refresh_from_db()
    # Not the first reply's post; and, without an idempotency key, never resent
    # by itself: left to the agent.
    assert second.external_id == ""
    assert second.publish_status == PublishStatus.UNCONFIRMED
    assert "Could not be settled" in second.publish_error
    assert len(discourse.posts) == 1


def test_the_same_words_twice_are_two_posts(mastodon, team, agent):
    case, mention = toot(mastodon.url, team)
    first = publish(case, agent, mention, text="Dank je! ^Anna")
    reply_publish(first.pk)
    second = publish(case, agent, mention, text="Dank je! ^Anna")
    mastodon.next_writes = ["drop"]
    reply_publish(second.pk)
    due_now(second)
    reply_reconcile(second.pk)
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.external_id != first.external_id


@pytest.mark.parametrize("retry_after", ["1e12", "inf", "315360000", "-5"])
def test_a_hostile_retry_after_waits_an_hour_at_most(
    mastodon, team, agent, retry_after
):
    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    mastodon.retry_after = retry_after
    mastodon.next_writes = ["rate_limit"]
    assert reply_publish(reply.pk).status == PublishStatus.QUEUED
    reply.refresh_from_db()
    assert reply.publish_due_at <= timezone.now() + timedelta(hours=1, seconds=5)


def test_a_stranger_with_the_teams_id_or_name_elsewhere_is_a_customer(
    mastodon, team, settings
):
    settings.WEBCARE_OWN_ACCOUNTS = {"mastodon": ["webcare", "1091"]}
    elsewhere = SourceFactory(kind=SourceKind.MASTODON, url="https://evil.example")
    items = [
        MentionItem(external_id="1", text="Ik ben niet de bank", author_id="1091"),
        MentionItem(external_id="2", text="Ik ook niet", author_handle="webcare"),
    ]
    result = mentions_store(source=elsewhere, items=items)
    assert (result.own, result.new) == (0, 2)
    home = SourceFactory(kind=SourceKind.MASTODON, url=mastodon.url)
    ours = [
        MentionItem(external_id="3", text="Wij", author_id="1091"),
        MentionItem(external_id="4", text="Wij", author_handle="webcare"),
    ]
    assert mentions_store(source=home, items=ours).own == 2


def test_an_own_post_settles_only_the_reply_it_answers(mastodon, team, agent):
    case, mention = toot(mastodon.url, team)
    other_case, other = toot(mastodon.url, team, external_id="113777")
    reply = publish(other_case, agent, other, text="Graag gedaan! ^Anna")
    mastodon.next_writes = ["drop"]
    reply_publish(reply.pk)
    # Our post in answer to the first case's post, ending in the same words.
    assert (
        reply_seen_on_platform(
            kind="mastodon",
            external_id="999",
            url="",
            in_reply_to=mention.external_id,
            text="Fijn dat het is gelukt, Piet. Graag gedaan! ^Anna",
        )
        is None
    )
    assert (
        reply_seen_on_platform(
            kind="mastodon",
            external_id="998",
            url="",
            in_reply_to=other.external_id,
            text="Fijn dat het is gelukt, Piet. Graag gedaan! ^Anna",
        )
        is None
    )
    reply.refresh_from_db()
    assert reply.publish_status == PublishStatus.UNCONFIRMED


def test_the_agent_settles_what_the_checks_could_not(mastodon, team, agent, client):
    from django.urls import reverse

    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    mastodon.next_writes = ["accept_then_drop"]
    reply_publish(reply.pk)
    client.force_login(agent)
    url = reverse("admin:cases_reply_changelist")
    response = client.post(
        url,
        {
            "action": "mark_published",
            "_selected_action": [reply.pk],
            "apply": "1",
            "url": "javascript:alert(1)",
        },
    )
    assert response.status_code == 200  # the form again, with its error
    reply.refresh_from_db()
    assert reply.publish_status == PublishStatus.UNCONFIRMED
    client.post(
        url,
        {
            "action": "mark_published",
            "_selected_action": [reply.pk],
            "apply": "1",
            "url": mastodon.posts[0]["url"],
        },
    )
    reply.refresh_from_db()
    assert (reply.publish_status, reply.external_url) == (
        PublishStatus.PUBLISHED,
        mastodon.posts[0]["url"],
    )
    # A published reply is not sent again.
    with pytest.raises(StateConflict):
        services.reply_send_again(reply=reply, actor=agent)


def test_the_agent_sends_again_a_reply_not_on_the_platform(mastodon, team, agent):
    case, mention = toot(mastodon.url, team)
    reply = publish(case, agent, mention)
    mastodon.next_writes = ["drop"]
    reply_publish(reply.pk)
    services.reply_send_again(reply=reply, actor=agent)
    assert reply_publish(reply.pk).status == PublishStatus.PUBLISHED
    assert len(mastodon.posts) == 1
