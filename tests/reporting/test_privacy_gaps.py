"""The reviewer's second round on erasure and export: what the person left in the
API's records, in dry runs, in other customers' cases and in the admin's log; a
case known only by the CRM id; a post served by another source; a read-only GET."""

import json

import pytest
from django.apps import apps as django_apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType

from cases.api.webhooks import case_payload
from cases.models import Case, Commitment, Escalation, Note
from reporting.api.webhooks import survey_payload
from reporting.services.privacy import (
    person_erase,
    person_erase_preview,
    person_export,
)
from sources.connectors import MentionItem
from sources.models import Author, Mention, ReviewMention, RuleDryRun, SourceKind
from sources.services import mentions_store
from sources.services.erasure import erased_reference
from tests.api.conftest import Crm
from tests.factories import (
    AuthorFactory,
    CaseFactory,
    MentionFactory,
    NoteFactory,
    SourceFactory,
    UserFactory,
)
from tests.reporting.test_privacy import NAME, SECRET_WORD, make_world
from webcare.api.models import (
    DeliveryStatus,
    IdempotencyKey,
    Webhook,
    WebhookDelivery,
)
from webcare.api.webhooks import delivery_body, webhook_event
from webcare.notices.models import Notice
from webcare.roles import apply_roles

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site_urls(settings):
    settings.ROOT_URLCONF = "webcare.urls"
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def manager(db):
    if not Group.objects.filter(name="manager").exists():
        apply_roles(django_apps)
    return UserFactory(username="mira", first_name="Mira", groups=["manager"])


def test_it_rewrites_webhook_payloads_and_stored_api_answers_about_the_person(
    manager,
):
    world = make_world()
    on_x = world["person"][0]
    case = Case.objects.get(customer=on_x)
    survey = case.survey
    other_case = world["cases"][2]
    crm = Crm("crm", ["read", "write"])
    Webhook.objects.create(
        client=crm.record,
        url="http://127.0.0.1:9/hook",
        events=["case.resolved", "survey.answered"],
        secret="whsec_x",
    )
    webhook_event(event="case.resolved", data={"case": case_payload(case)})
    webhook_event(
        event="survey.answered",
        data={"case": case_payload(case), "survey": survey_payload(survey)},
    )
    webhook_event(event="case.resolved", data={"case": case_payload(other_case)})
    WebhookDelivery.objects.filter(event="survey.answered").update(
        status=DeliveryStatus.FAILED, attempts=8
    )
    note = {"text": f"{NAME} belt morgen over {SECRET_WORD}"}
    first = crm.post(
        f"/api/v1/cases/{case.pk}/note/",
        note,
        format="json",
        HTTP_IDEMPOTENCY_KEY="note-1",
    )
    assert first.status_code == 201, first.content
    case_answer = crm.post(
        f"/api/v1/cases/{other_case.pk}/note/",
        {"text": "Andere klant"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="note-2",
    )
    assert case_answer.status_code == 201
    stored = [
        json.dumps(delivery.payload) for delivery in WebhookDelivery.objects.all()
    ]
    assert any(SECRET_WORD in payload for payload in stored)
    counts = list(
        WebhookDelivery.objects.order_by("pk").values_list("pk", "status", "attempts")
    )

    person_erase(author=on_x, actor=manager, reason="AVG-1")

    assert (
        list(
            WebhookDelivery.objects.order_by("pk").values_list(
                "pk", "status", "attempts"
            )
        )
        == counts
    )
    for delivery in WebhookDelivery.objects.filter(payload__case__id=case.pk):
        body = delivery_body(delivery).decode()
        for secret in (SECRET_WORD, NAME, "CRM-77"):
            assert secret not in body, (delivery.event, secret)
        assert delivery.payload["case"]["id"] == case.pk
        assert delivery.payload["case"]["subject"] == f"Erased (case #{case.pk})"
    answered = WebhookDelivery.objects.get(event="survey.answered")
    assert answered.payload["survey"]["score"] == 9
    assert answered.payload["survey"]["comment"] == ""
    # Someone else's delivery is as it was.
    others = WebhookDelivery.objects.get(payload__case__id=other_case.pk)
    assert others.payload["case"]["subject"] == other_case.subject
    # A replay returns the first answer's status and ids, none of the person's words.
    replay = crm.post(
        f"/api/v1/cases/{case.pk}/note/",
        note,
        format="json",
        HTTP_IDEMPOTENCY_KEY="note-1",
    )
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert NAME not in replay.content.decode()
    assert SECRET_WORD not in replay.content.decode()
    assert IdempotencyKey.objects.count() == 2
    kept = IdempotencyKey.objects.get(key="note-2")
    assert kept.response_body["text"] == "Andere klant"


def test_it_blanks_the_persons_examples_in_rule_dry_runs(manager):
    world = make_world()
    on_x = world["person"][0]
    mine = Mention.objects.filter(author=on_x).first()
    theirs = Mention.objects.filter(author=world["other"]).first()

    def example(mention):
        return {
            "mention_id": mention.pk,
            "text": mention.text[:280],
            "source_kind": "x_search",
            "first_seen_at": str(mention.first_seen_at),
            "category": "complaint",
            "confidence": 0.9,
            "old_outcome": "ignore",
            "old_rule": "",
            "new_outcome": "engage",
            "new_rule": "Pinpas",
            "new_reason": "pattern",
        }

    dry_run = RuleDryRun.objects.create(
        mode="edited",
        status="done",
        result={"examined": 7, "examples": [example(mine), example(theirs)]},
    )
    person_erase(author=on_x, actor=manager, reason="AVG-1")
    dry_run.refresh_from_db()
    assert SECRET_WORD not in dry_run.result["examples"][0]["text"]
    assert dry_run.result["examples"][0]["new_outcome"] == "engage"
    assert dry_run.result["examples"][1]["text"] == theirs.text[:280]
    assert dry_run.result["examined"] == 7


def test_a_case_linked_only_by_the_crm_id_is_exported_and_erased(manager):
    world = make_world()
    on_x = world["person"][0]
    by_crm = CaseFactory(
        customer=None,
        crm_customer_id="CRM-77",
        subject=f"Telefoon: {SECRET_WORD}",
    )
    NoteFactory(case=by_crm, text=f"{NAME} belde")
    unrelated = CaseFactory(customer=None, crm_customer_id="CRM-78", subject="Anders")
    export = person_export(author=on_x, actor=manager)
    assert by_crm.pk in {case["id"] for case in export["cases"]}
    assert unrelated.pk not in {case["id"] for case in export["cases"]}
    assert by_crm.pk in person_erase_preview(author=on_x).case_ids
    result = person_erase(author=on_x, actor=manager, reason="AVG-1")
    assert by_crm.pk in result.case_ids
    by_crm.refresh_from_db()
    assert by_crm.subject == f"Erased (case #{by_crm.pk})"
    assert by_crm.crm_customer_id == ""
    assert Note.objects.get(case=by_crm).text == ""
    assert Case.objects.get(pk=unrelated.pk).crm_customer_id == "CRM-78"


def test_quotes_of_the_persons_post_in_someone_elses_case_are_blanked(manager):
    from cases.notifications import escalation_notify

    source = SourceFactory(kind=SourceKind.X_SEARCH)
    person = AuthorFactory(handle="jantje", display_name=NAME)
    customer = AuthorFactory(handle="piet")
    words = f"@oranjebank ook bij mij crasht de app, {SECRET_WORD} zegt het ook"
    case = CaseFactory(customer=customer, subject=words)
    MentionFactory(
        source=source, author=person, text=words, case=case, external_id="p-1"
    )
    MentionFactory(
        source=source,
        author=customer,
        text="Mijn app crasht ook sinds gisteren",
        case=case,
        external_id="c-1",
    )
    note = NoteFactory(case=case, text=f"Citaat: {words}\nPiet bellen om 10 uur.")
    staff_note = NoteFactory(case=case, text="Storing gemeld bij IT.")
    agent = UserFactory(username="anna", groups=["agent"])
    escalation = Escalation.objects.create(
        case=case,
        department="customer_service",
        reason="App crasht bij Piet",
        requested_by=agent,
        requested_at=case.created_at,
    )
    escalation_notify(escalation_id=escalation.pk)

    person_erase(author=person, actor=manager, reason="AVG-1")

    case.refresh_from_db()
    assert SECRET_WORD not in case.subject and case.subject
    note.refresh_from_db()
    assert note.text == "Citaat: [erased]\nPiet bellen om 10 uur."
    assert Note.objects.get(pk=staff_note.pk).text == "Storing gemeld bij IT."
    notice = Notice.objects.get(about=f"escalation:{escalation.pk}")
    assert SECRET_WORD not in notice.subject + notice.body
    assert "App crasht bij Piet" in notice.body
    # The other customer's own words and case stay.
    assert Mention.objects.get(external_id="c-1").text.startswith("Mijn app crasht")
    assert Case.objects.get(pk=case.pk).customer_id == customer.pk
    assert Escalation.objects.get(pk=escalation.pk).reason == "App crasht bij Piet"


def test_replies_of_others_to_the_persons_post_keep_only_the_hashed_id(manager):
    source = SourceFactory(kind=SourceKind.X_SEARCH)
    person = AuthorFactory(handle="jantje")
    key = f"{SourceKind.X_SEARCH}:p-77"
    MentionFactory(
        source=source, author=person, external_id="p-77", conversation_key=key
    )
    reply = MentionFactory(
        source=source,
        author=AuthorFactory(handle="piet"),
        external_id="r-1",
        in_reply_to="p-77",
        conversation_key=key,
        text="Ik heb hetzelfde",
    )
    elsewhere = MentionFactory(
        source=source, external_id="r-2", in_reply_to="q-1", conversation_key="x:q-1"
    )
    other_case = CaseFactory(customer=reply.author, conversation_key=key)
    person_erase(author=person, actor=manager, reason="AVG-1")
    reply.refresh_from_db()
    assert reply.in_reply_to == erased_reference(SourceKind.X_SEARCH, "p-77")
    assert reply.conversation_key == erased_reference("conversation", key)
    assert reply.text == "Ik heb hetzelfde"
    # Still the conversation of the person's (erased) post.
    assert Mention.objects.get(external_id__startswith="erased:").conversation_key == (
        reply.conversation_key
    )
    assert Case.objects.get(pk=other_case.pk).conversation_key == (
        reply.conversation_key
    )
    elsewhere.refresh_from_db()
    assert (elsewhere.in_reply_to, elsewhere.conversation_key) == ("q-1", "x:q-1")


def test_the_admin_log_of_every_model_of_the_persons_records_is_cleaned(manager):
    world = make_world()
    on_x = world["person"][0]
    commitment = Commitment.objects.get(case__customer=on_x)
    mention = Mention.objects.filter(author=on_x).first()
    in_queue = ReviewMention(pk=mention.pk, external_id=mention.external_id)
    in_queue.source = mention.source
    other_commitment = Commitment.objects.get(case__customer=world["other"])
    for obj, message in (
        (commitment, f"Changed description: {NAME} terugbellen"),
        (in_queue, "Engaged"),
        (other_commitment, "Changed description"),
    ):
        LogEntry.objects.log_actions(
            user_id=manager.pk,
            queryset=[obj],
            action_flag=CHANGE,
            change_message=message,
            single_object=True,
        )
    person_erase(author=on_x, actor=manager, reason="AVG-1")
    mine = LogEntry.objects.filter(
        content_type__in=[
            ContentType.objects.get_for_model(Commitment),
            ContentType.objects.get_for_model(ReviewMention, for_concrete_model=False),
        ],
        object_id__in=[str(commitment.pk), str(mention.pk)],
    ).exclude(object_id=str(other_commitment.pk))
    assert mine.count() == 2
    text = repr(list(mine.values("object_repr", "change_message")))
    for secret in (NAME, mention.external_id):
        assert secret not in text, secret
    other = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Commitment),
        object_id=str(other_commitment.pk),
    )
    assert other.object_repr == str(other_commitment)


def test_a_post_served_again_by_another_source_of_the_same_kind_is_not_stored(
    manager,
):
    world = make_world()
    on_x = world["person"][0]
    second_x = SourceFactory(kind=SourceKind.X_SEARCH, name="X again")
    authors_before = Author.objects.count()
    person_erase(author=on_x, actor=manager, reason="AVG-1")
    again = MentionItem(
        external_id="post-0-0",
        text=f"@oranjebank {SECRET_WORD} mijn pas 0",
        author_id="plid4455",
        author_handle="jantje",
        author_name=NAME,
    )
    result = mentions_store(source=second_x, items=[again])
    assert (result.new, result.unchanged) == (0, 1)
    assert not Mention.objects.filter(source=second_x).exists()
    assert Author.objects.count() == authors_before
    # Another platform's post with the same id is someone else's.
    feed = world["sources"][1]
    other_kind = mentions_store(
        source=feed,
        items=[MentionItem(external_id="post-0-0", text="nieuw", author_id="9")],
    )
    assert other_kind.new == 1


def test_a_get_of_the_export_page_writes_nothing_and_the_post_downloads(
    client, manager
):
    world = make_world()
    on_x = world["person"][0]
    client.force_login(manager)
    url = f"/admin/sources/author/{on_x.pk}/export/"
    entries = LogEntry.objects.count()
    page = client.get(url)
    assert page.status_code == 200
    assert "Content-Disposition" not in page
    assert b"<form" in page.content and b'method="post"' in page.content
    assert LogEntry.objects.count() == entries
    download = client.post(url)
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        f'attachment; filename="person-{on_x.pk}.json"'
    )
    assert len(json.loads(download.content)["authors"]) == 3
    assert LogEntry.objects.count() == entries + 3
