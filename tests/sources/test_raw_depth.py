"""A raw record nested deeper than anyone reads is cut at ingest (the mention and
its text are kept, with a note), and the admin page of one stored before that rule
still renders."""

import json
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from sources.connectors import MentionItem
from sources.models import Mention
from sources.services import mentions_store
from sources.services.cleaning import RAW_MAX_DEPTH
from tests.factories import MentionFactory, SourceFactory, UserFactory
from webcare.api.auth import api_client_create

pytestmark = pytest.mark.django_db


def nested(depth: int, leaf="bottom"):
    value = leaf
    for _ in range(depth):
        value = {"child": value}
    return value


def depth_of(value) -> int:
    depth = 0
    while isinstance(value, dict) and "child" in value:
        value, depth = value["child"], depth + 1
    return depth


def test_a_raw_record_nested_900_deep_is_cut_and_the_mention_kept():
    source = SourceFactory()
    item = MentionItem(
        external_id="deep",
        text="@oranjebank help",
        published_at=datetime(2024, 5, 1, tzinfo=UTC),
        raw={"id": "deep", "payload": nested(900)},
    )

    result = mentions_store(source=source, items=[item])

    assert (result.new, result.failed) == (1, 0)
    mention = Mention.objects.get(external_id="deep")
    assert mention.text == "@oranjebank help"
    assert mention.raw["id"] == "deep"
    assert depth_of(mention.raw["payload"]) < RAW_MAX_DEPTH
    assert "deeper than" in mention.raw["_webcare"]["raw"]
    json.dumps(mention.raw, indent=2)  # what the admin does with it


def test_a_record_of_ordinary_depth_is_kept_whole():
    source = SourceFactory()
    raw = {"payload": nested(RAW_MAX_DEPTH - 2)}
    item = MentionItem(external_id="ok", text="hoi", raw=raw)
    mentions_store(source=source, items=[item])
    assert Mention.objects.get(external_id="ok").raw == raw


def test_the_ingest_endpoint_takes_a_deep_raw_record_and_cuts_it():
    client = Client()
    source = SourceFactory(kind="manual")
    _, token = api_client_create(name="crm", scopes=["ingest"])
    item = {"external_id": "x", "text": "hallo", "raw": nested(900)}
    response = client.post(
        "/api/v1/mentions/ingest/",
        json.dumps({"source": source.pk, "items": [item]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["new"] == 1
    assert Mention.objects.get(external_id="x").text == "hallo"


def test_the_admin_shows_a_deep_raw_record_stored_before_the_rule():
    client = Client()
    mention = MentionFactory()
    # As stored before the depth was bounded.
    Mention.objects.filter(pk=mention.pk).update(raw=nested(900))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:sources_mention_change", args=[mention.pk]))
    assert response.status_code == 200
    assert "nested deeper than" in response.content.decode()
