import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from sources.connectors import MentionItem
from sources.models import Author, Mention, ReachSample, SourceKind
from sources.services import mentions_store
from tests.factories import MentionFactory, SourceFactory
from webcare.api.auth import api_client_create

pytestmark = pytest.mark.django_db

PUBLISHED = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def item(external_id, text="@oranjebank mijn pinpas werkt niet", **fields):
    fields.setdefault("author_id", "42")
    fields.setdefault("author_handle", "klant42")
    fields.setdefault("published_at", PUBLISHED)
    return MentionItem(external_id=external_id, text=text, **fields)


def test_it_stores_the_same_items_twice_as_one_mention_each():
    source = SourceFactory()
    items = [item("1"), item("2"), item("3")]

    first = mentions_store(source=source, items=items)
    second = mentions_store(source=source, items=items)

    assert (first.new, first.updated, first.unchanged) == (3, 0, 0)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 3)
    assert sorted(first.mention_ids_new) == sorted(
        Mention.objects.values_list("pk", flat=True)
    )
    assert second.mention_ids_new == []
    assert Mention.objects.filter(source=source).count() == 3


def test_it_stores_overlapping_pages_once():
    source = SourceFactory()
    page_one = [item(str(n)) for n in range(1, 6)]
    page_two = [item(str(n)) for n in range(4, 9)]

    first = mentions_store(source=source, items=page_one)
    second = mentions_store(source=source, items=page_two)

    assert first.new + second.new == 8
    assert second.unchanged == 2
    assert sorted(Mention.objects.values_list("external_id", flat=True), key=int) == [
        str(n) for n in range(1, 9)
    ]


def test_it_counts_a_repeated_item_within_one_call_once():
    source = SourceFactory()

    result = mentions_store(
        source=source, items=[item("7", "first"), item("7", "second copy")]
    )

    assert (result.new, result.unchanged) == (1, 1)
    assert Mention.objects.get().text == "second copy"


def test_the_same_external_id_on_another_source_is_another_mention():
    one, other = SourceFactory(), SourceFactory()

    mentions_store(source=one, items=[item("5")])
    mentions_store(source=other, items=[item("5")])

    assert Mention.objects.filter(external_id="5").count() == 2
    # Both sources are X searches: one author for both.
    assert Author.objects.count() == 1


def test_it_upserts_authors_by_platform_and_id_or_handle():
    source = SourceFactory(kind=SourceKind.X_SEARCH)
    mentions_store(
        source=source,
        items=[
            item("1", author_id="42", author_handle="old", author_followers=10),
            item("2", author_id="", author_handle="@bloggerjan", author_name="Jan"),
            item("3", author_id="", author_handle=""),
        ],
    )
    mentions_store(
        source=source,
        items=[item("4", author_id="42", author_handle="new", author_followers=99)],
    )

    by_id = Author.objects.get(platform="x_search", platform_id="42")
    assert (by_id.handle, by_id.follower_count) == ("new", 99)
    by_handle = Author.objects.get(platform_id="bloggerjan")
    assert (by_handle.handle, by_handle.display_name) == ("bloggerjan", "Jan")
    assert Author.objects.count() == 2
    assert Mention.objects.get(external_id="3").author is None
    assert Mention.objects.filter(author=by_id).count() == 2


def test_an_edit_updates_the_text_and_keeps_first_seen_at():
    source = SourceFactory()
    mentions_store(source=source, items=[item("1", "oorspronkelijk")])
    first_seen = Mention.objects.get().first_seen_at
    edited = PUBLISHED + timedelta(minutes=5)

    result = mentions_store(
        source=source, items=[item("1", "aangepast", edited_at=edited)]
    )

    mention = Mention.objects.get()
    assert result.updated == 1
    assert mention.text == "aangepast"
    assert mention.edited_at == edited
    assert mention.first_seen_at == first_seen
    assert [edit["text"] for edit in mention.raw["_webcare"]["edits"]] == [
        "oorspronkelijk"
    ]


@pytest.mark.parametrize(
    "forged",
    ["not a dict", {"edits": 5}, {"edits": [{"text": "never said"}]}, [1, 2]],
)
def test_a_sender_cannot_forge_the_edit_history(forged):
    # "_webcare" in raw is ours (notes, edit history); a pushed or platform copy
    # of it must neither break the next edit nor show up as history.
    source = SourceFactory()
    mentions_store(source=source, items=[item("1", "eerst", raw={"_webcare": forged})])
    assert "_webcare" not in Mention.objects.get().raw

    result = mentions_store(
        source=source, items=[item("1", "daarna", raw={"_webcare": forged})]
    )

    mention = Mention.objects.get()
    assert result.updated == 1
    assert mention.text == "daarna"
    assert [edit["text"] for edit in mention.raw["_webcare"]["edits"]] == ["eerst"]


def test_an_edit_of_a_mention_stored_with_a_forged_history_still_updates():
    # Rows stored before the sender's copy was dropped may hold anything there.
    source = SourceFactory()
    MentionFactory(
        source=source, external_id="1", text="eerst", raw={"_webcare": "not a dict"}
    )

    result = mentions_store(source=source, items=[item("1", "daarna")])

    mention = Mention.objects.get()
    assert result.updated == 1
    assert mention.text == "daarna"
    assert [edit["text"] for edit in mention.raw["_webcare"]["edits"]] == ["eerst"]


def test_the_ingest_endpoint_answers_a_forged_history_without_a_500():
    client = Client()
    source = SourceFactory(kind=SourceKind.MANUAL)
    _, token = api_client_create(name="pusher", scopes=["ingest"])
    body = {
        "source": source.pk,
        "items": [{"external_id": "1", "text": "eerst", "raw": {"_webcare": "x"}}],
    }

    first = client.post(
        "/api/v1/mentions/ingest/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    body["items"][0]["text"] = "daarna"
    second = client.post(
        "/api/v1/mentions/ingest/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["updated"] == 1
    mention = Mention.objects.get(source=source)
    assert mention.text == "daarna"
    assert mention.raw["_webcare"]["edits"][0]["text"] == "eerst"


def test_a_stale_copy_does_not_undo_an_edit():
    source = SourceFactory()
    edited = PUBLISHED + timedelta(minutes=5)
    mentions_store(source=source, items=[item("1", "nieuw", edited_at=edited)])

    result = mentions_store(source=source, items=[item("1", "oud")])

    assert result.unchanged == 1
    assert Mention.objects.get().text == "nieuw"


def test_a_deleted_post_is_marked_and_its_text_kept():
    source = SourceFactory()
    mentions_store(source=source, items=[item("1", "dit wordt verwijderd")])

    result = mentions_store(source=source, items=[item("1", "", deleted=True)])
    again = mentions_store(source=source, items=[item("1", "dit wordt verwijderd")])

    mention = Mention.objects.get()
    assert result.updated == 1
    assert again.unchanged == 1
    assert mention.is_deleted is True
    assert mention.deleted_at is not None
    assert mention.text == "dit wordt verwijderd"


def test_a_post_first_seen_deleted_is_stored_marked_and_not_triaged():
    source = SourceFactory()

    result = mentions_store(source=source, items=[item("9", "", deleted=True)])

    mention = Mention.objects.get()
    assert result.new == 1
    assert result.mention_ids_new == []
    assert mention.is_deleted and mention.deleted_at is not None


def test_replies_join_the_conversation_of_the_post_they_answer():
    source = SourceFactory(kind=SourceKind.MASTODON)
    mentions_store(source=source, items=[item("100")])

    # The reply to a reply comes before its parent in the batch.
    mentions_store(
        source=source,
        items=[
            item("102", in_reply_to="101"),
            item("101", in_reply_to="100"),
            item("200", conversation_key="thread-9"),
            item("300", in_reply_to="unknown-parent"),
        ],
    )

    keys = dict(Mention.objects.values_list("external_id", "conversation_key"))
    assert keys["100"] == keys["101"] == keys["102"] == "mastodon:100"
    assert keys["200"] == "mastodon:thread-9"
    assert keys["300"] == "mastodon:300"
    assert Mention.objects.in_conversation("mastodon:100").count() == 3


def test_a_reply_cycle_does_not_loop():
    source = SourceFactory()

    mentions_store(
        source=source, items=[item("1", in_reply_to="2"), item("2", in_reply_to="1")]
    )

    assert Mention.objects.count() == 2
    assert Mention.objects.values("conversation_key").distinct().count() == 1


def test_a_changed_reach_updates_counters_and_samples_it():
    source = SourceFactory()
    mentions_store(source=source, items=[item("1", likes=3)])

    mentions_store(source=source, items=[item("1", likes=3)])
    result = mentions_store(source=source, items=[item("1", likes=8, reposts=2)])

    mention = Mention.objects.get()
    assert result.updated == 1
    assert (mention.likes, mention.reposts, mention.reach) == (8, 2, 10)
    assert list(mention.reach_samples.values_list("reach", flat=True)) == [3, 10]


def age(mention, **delta):
    """Pretend the mention and its samples were stored `delta` ago."""
    Mention.objects.filter(pk=mention.pk).update(
        first_seen_at=mention.first_seen_at - timedelta(**delta)
    )
    ReachSample.objects.filter(mention=mention).update(
        sampled_at=mention.first_seen_at - timedelta(**delta)
    )


def test_a_fast_growing_reach_mails_the_team_once(
    settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.WEBCARE_REACH_ALERT_GROWTH = 100
    settings.WEBCARE_REACH_ALERT_WINDOW_MINUTES = 60
    source = SourceFactory(name="X: oranjebank")
    old = timezone.now() - timedelta(days=1)
    mentions_store(source=source, items=[item("1", likes=5, published_at=old)])
    age(Mention.objects.get(), hours=2)

    with django_capture_on_commit_callbacks(execute=True):
        mentions_store(source=source, items=[item("1", likes=150, published_at=old)])
        mentions_store(source=source, items=[item("1", likes=400, published_at=old)])

    mention = Mention.objects.get()
    assert mention.reach_alerted_at is not None
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [settings.WEBCARE_TEAM_EMAIL]
    assert "X: oranjebank" in mailoutbox[0].subject
    assert "up 145 within 60 minutes" in mailoutbox[0].body


def test_a_slowly_growing_reach_does_not_alert(
    settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.WEBCARE_REACH_ALERT_GROWTH = 100
    settings.WEBCARE_REACH_ALERT_WINDOW_MINUTES = 60
    source = SourceFactory()
    old = timezone.now() - timedelta(days=1)
    mentions_store(source=source, items=[item("1", likes=5, published_at=old)])
    mention = Mention.objects.get()
    age(mention, hours=3)
    mentions_store(source=source, items=[item("1", likes=60, published_at=old)])
    ReachSample.objects.filter(mention=mention, reach=60).update(
        sampled_at=timezone.now() - timedelta(minutes=90)
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        mentions_store(source=source, items=[item("1", likes=150, published_at=old)])

    assert callbacks == []
    assert Mention.objects.get().reach_alerted_at is None
    assert mailoutbox == []


def test_a_new_post_published_within_the_window_grew_from_zero(
    settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.WEBCARE_REACH_ALERT_GROWTH = 100
    source = SourceFactory()
    recent = timezone.now() - timedelta(minutes=10)
    old = timezone.now() - timedelta(days=3)

    with django_capture_on_commit_callbacks(execute=True):
        mentions_store(
            source=source,
            items=[
                item("1", likes=120, published_at=recent),
                item("2", likes=5000, published_at=old),
            ],
        )

    alerted = Mention.objects.filter(reach_alerted_at__isnull=False)
    assert list(alerted.values_list("external_id", flat=True)) == ["1"]
    assert len(mailoutbox) == 1


def test_bad_items_are_counted_and_the_rest_kept(settings, caplog):
    settings.WEBCARE_MENTION_MAX_TEXT = 50
    source = SourceFactory()
    items = [
        item(""),
        item("x" * 201),
        item("1", "nul\x00byte en \ud800 losse surrogate"),
        item("2", "lang " * 40),
        item("3", url="javascript:alert(1)", likes=-5, replies=10**12),
        item("4", raw={"text": "in raw\x00", "nested": [{"when": PUBLISHED}]}),
    ]

    result = mentions_store(source=source, items=items)

    assert (result.new, result.failed) == (4, 2)
    assert result.errors[0] == "item without an external id"
    assert "external id longer than 200" in result.errors[1]
    stored = {m.external_id: m for m in Mention.objects.all()}
    assert stored["1"].text == "nulbyte en  losse surrogate"
    assert stored["1"].raw["_webcare"]["unstorable_characters_removed"] is True
    assert len(stored["2"].text) == 50
    assert stored["2"].raw["_webcare"]["text_truncated_from"] == 200
    assert stored["3"].url == ""
    assert (stored["3"].likes, stored["3"].replies) == (0, 2_147_483_647)
    assert stored["4"].raw["text"] == "in raw"
    assert stored["4"].raw["nested"] == [{"when": PUBLISHED.isoformat()}]
    assert "item without an external id" in caplog.text


def test_an_oversized_raw_record_is_dropped_and_noted(settings):
    settings.WEBCARE_MENTION_MAX_RAW = 100
    source = SourceFactory()

    mentions_store(source=source, items=[item("1", raw={"blob": "x" * 500})])

    raw = Mention.objects.get().raw
    assert "blob" not in raw
    assert raw["_webcare"]["raw"].startswith("dropped")


def test_new_mentions_mark_the_source_alive():
    source = SourceFactory(silence_alerted_at=timezone.now())

    mentions_store(source=source, items=[item("1")])

    source.refresh_from_db()
    assert source.last_item_at is not None
    assert source.silence_alerted_at is None


@pytest.mark.parametrize("count", [20, 200])
def test_queries_grow_with_batches_not_items(
    settings, django_assert_max_num_queries, count
):
    settings.WEBCARE_STORE_BATCH_SIZE = 500
    source = SourceFactory()
    MentionFactory(source=source, external_id="0")
    items = [
        item(str(n), author_id=str(n % 7), in_reply_to="0", likes=n)
        for n in range(count)
    ]

    # 21: one query per batch looks for posts of erased authors before their
    # authors are upserted (issue 16, privacy).
    with django_assert_max_num_queries(21):
        result = mentions_store(source=source, items=items)

    assert result.new == count - 1
    assert result.updated == 1


def test_batches_are_stored_one_after_the_other(settings):
    settings.WEBCARE_STORE_BATCH_SIZE = 2
    source = SourceFactory()

    result = mentions_store(source=source, items=(item(str(n)) for n in range(5)))

    assert result.new == 5
    assert Mention.objects.count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_storing_the_same_items_store_each_once(on_postgres):
    source = SourceFactory()
    items = [item(str(n), author_id=str(n % 13), likes=n) for n in range(600)]
    results = []
    errors = []
    start = threading.Barrier(2)

    def worker():
        try:
            start.wait()
            results.append(mentions_store(source=source, items=items))
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(result.new for result in results) == 600
    assert sum(result.unchanged for result in results) == 600
    new_ids = results[0].mention_ids_new + results[1].mention_ids_new
    assert len(new_ids) == len(set(new_ids)) == 600
    assert Mention.objects.filter(source=source).count() == 600
    assert Author.objects.count() == 13


def test_new_mentions_are_queued_for_triage_once_stored(
    django_capture_on_commit_callbacks,
):
    source = SourceFactory()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = mentions_store(
            source=source,
            items=[item("1"), item("2", "", deleted=True)],
        )
    with django_capture_on_commit_callbacks(execute=True) as repeated:
        mentions_store(source=source, items=[item("1")])

    assert len(callbacks) == 1
    assert repeated == []
    triaged = Mention.objects.exclude(triage_status="pending")
    assert list(triaged.values_list("pk", flat=True)) == result.mention_ids_new
    assert Mention.objects.get(external_id="2").triage_status == "pending"
