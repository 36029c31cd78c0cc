"""A person's data on request (issue 16, privacy): exported across their linked
accounts, erased with every aggregate kept, audited without personal data."""

import json
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from cases.models import Case, CaseEvent, Commitment, Escalation, EventKind, Note, Reply
from reporting.models import Survey, SurveyStatus
from reporting.selectors import nps_figures
from reporting.services.privacy import (
    person_erase,
    person_erase_preview,
    person_export,
    person_linked_authors,
)
from sources.connectors import MentionItem
from sources.models import Author, Mention, SourceKind
from sources.services import mentions_store
from tests.api.conftest import Crm
from tests.factories import (
    AuthorFactory,
    CaseFactory,
    MentionFactory,
    NoteFactory,
    ReplyFactory,
    SourceFactory,
    SurveyFactory,
    UserFactory,
)
from tests.threads import errors, run_at_once
from webcare.errors import ServiceError, ServicePermissionDenied
from webcare.roles import apply_roles

SECRET_WORD = "Zwanenhalsje"  # in every text the person wrote
NAME = "Jantje Geheimzinnig"


@pytest.fixture(autouse=True)
def site_urls(settings):
    # The admin, the API and the survey pages, as in production.
    settings.ROOT_URLCONF = "webcare.urls"


@pytest.fixture
def manager(db):
    if not Group.objects.filter(name="manager").exists():
        # A test with committed transactions runs after others emptied the tables.
        apply_roles(django_apps)
    return UserFactory(username="mira", first_name="Mira", groups=["manager"])


def make_world():
    """One person with three linked accounts (X, a forum, Mastodon), cases with
    replies, notes, an escalation, a promise and surveys; and someone else."""
    now = timezone.now()
    x_source = SourceFactory(kind=SourceKind.X_SEARCH, name="X")
    forum = SourceFactory(kind=SourceKind.FEED, name="Forum")
    mastodon = SourceFactory(kind=SourceKind.MASTODON, name="Mastodon")
    on_x = AuthorFactory(
        platform=SourceKind.X_SEARCH,
        platform_id="plid4455",
        handle="jantje",
        display_name=NAME,
        email="Jantje@Example.com",
        crm_customer_id="CRM-77",
        is_repeat_complainer=True,
        follower_count=321,
    )
    on_forum = AuthorFactory(
        platform=SourceKind.FEED,
        platform_id="jantje-forum",
        handle="jantje_forum",
        display_name=NAME,
        email="jantje@example.com",
    )
    on_mastodon = AuthorFactory(
        platform=SourceKind.MASTODON,
        platform_id="jantje@mastodon.example",
        handle="jantje_m",
        crm_customer_id="CRM-77",
    )
    other = AuthorFactory(handle="someone_else", email="other@example.com")
    agent = UserFactory(username="anna", first_name="Anna", groups=["agent"])

    cases = []
    for index, (author, source, score) in enumerate(
        [(on_x, x_source, 9), (on_forum, forum, 3), (other, x_source, 10)]
    ):
        opened = now - timedelta(days=3, hours=index)
        case = CaseFactory(
            customer=author,
            subject=f"{SECRET_WORD} pinpas kwijt {index}",
            crm_customer_id=author.crm_customer_id,
            channel=source.kind,
            conversation_key=f"{source.kind}:post-{index}",
            created_at=opened,
            status="resolved",
            first_response_at=opened + timedelta(minutes=20 + index),
            resolved_at=opened + timedelta(hours=2),
            assignee=agent,
        )
        cases.append(case)
        for number in range(2):
            mention = MentionFactory(
                source=source,
                author=author,
                external_id=f"post-{index}-{number}",
                text=f"@oranjebank {SECRET_WORD} mijn pas {number}",
                url=f"https://example.com/{author.handle}/{number}",
                raw={"user": {"name": NAME}, "text": SECRET_WORD},
                conversation_key=f"{source.kind}:post-{index}",
                case=case,
                published_at=opened - timedelta(minutes=number),
                first_seen_at=opened,
            )
        ReplyFactory(
            case=case,
            agent=agent,
            in_reply_to=mention,
            text=f"@{author.handle} Hoi {NAME}, stuur ons een DM",
            sent_at=opened + timedelta(minutes=20 + index),
            external_id=f"reply-{index}",
        )
        NoteFactory(case=case, author=agent, text=f"{NAME} belt morgen")
        Escalation.objects.create(
            case=case,
            department="customer_service",
            reason=f"{SECRET_WORD}: rekening van {NAME}",
            requested_at=opened + timedelta(minutes=30),
            requested_by=agent,
        )
        Commitment.objects.create(
            case=case,
            owner=agent,
            description=f"{NAME} terugbellen",
            due_at=now + timedelta(days=1),
            created_by=agent,
        )
        CaseEvent.objects.create(
            case=case,
            kind=EventKind.ESCALATED,
            data={"reason": f"{SECRET_WORD} rekening", "department": "pr"},
        )
        survey = SurveyFactory(
            case=case,
            recipient=author,
            email=author.email or "x@example.com",
            status=SurveyStatus.ANSWERED,
            score=score,
            comment=f"{SECRET_WORD} was fijn, groet {NAME}",
            subject=case.subject,
            scheduled_for=opened + timedelta(days=1),
            sent_at=opened + timedelta(days=1),
            responded_at=opened + timedelta(days=1, hours=1),
        )
        CaseEvent.objects.create(
            case=case,
            kind=EventKind.SURVEY_ANSWERED,
            data={"survey_id": survey.pk, "score": score, "comment": survey.comment},
        )
    # An open survey of the Mastodon account, and a follow-up case of it.
    mastodon_case = CaseFactory(customer=on_mastodon, subject=f"{SECRET_WORD} app")
    SurveyFactory(case=mastodon_case, recipient=on_mastodon, email="")
    MentionFactory(
        source=mastodon,
        author=on_mastodon,
        text=f"{SECRET_WORD} toot",
        case=mastodon_case,
    )
    return {
        "person": [on_x, on_forum, on_mastodon],
        "other": other,
        "cases": cases,
        "sources": (x_source, forum, mastodon),
    }


def figures(crm, now):
    start = (now - timedelta(days=30)).isoformat()
    end = (now + timedelta(days=1)).isoformat()
    period = {"start": start, "end": end}
    return {
        "nps": crm.get("/api/v1/reports/nps/", {**period, "group_by": "source"}).json(),
        "nps_by_period": crm.get(
            "/api/v1/reports/nps/", {**period, "group_by": "period", "period": "day"}
        ).json(),
        "volumes": crm.get(
            "/api/v1/reports/volumes/", {**period, "period": "day"}
        ).json(),
        "response_times": crm.get(
            "/api/v1/reports/response-times/", {**period, "group_by": "priority"}
        ).json(),
        "nps_total": nps_figures(start=now - timedelta(days=30), end=now).as_dict(),
    }


def everything_written_about(person) -> str:
    """Every stored text that could still hold the person's words or identity."""
    ids = [author.pk for author in person]
    case_ids = list(
        Case.objects.filter(customer_id__in=ids).values_list("pk", flat=True)
    )
    parts = [
        repr(list(Author.objects.filter(pk__in=ids).values())),
        repr(list(Mention.objects.filter(author_id__in=ids).values())),
        repr(list(Case.objects.filter(pk__in=case_ids).values())),
        repr(list(Reply.objects.filter(case_id__in=case_ids).values())),
        repr(list(Note.objects.filter(case_id__in=case_ids).values())),
        repr(list(Escalation.objects.filter(case_id__in=case_ids).values())),
        repr(list(Commitment.objects.filter(case_id__in=case_ids).values())),
        repr(list(CaseEvent.objects.filter(case_id__in=case_ids).values())),
        repr(list(Survey.objects.filter(case_id__in=case_ids).values())),
        repr(list(LogEntry.objects.values("object_repr", "change_message"))),
    ]
    return "\n".join(parts)


@pytest.mark.django_db
def test_linked_accounts_are_found_by_email_in_any_case_and_crm_id():
    world = make_world()
    on_x, on_forum, on_mastodon = world["person"]
    for author in world["person"]:
        assert person_linked_authors(author=author) == [on_x, on_forum, on_mastodon]
    assert person_linked_authors(author=world["other"]) == [world["other"]]


@pytest.mark.django_db
def test_the_export_holds_everything_about_every_linked_account_and_never_a_token(
    manager,
):
    world = make_world()
    on_x, on_forum, on_mastodon = world["person"]
    export = person_export(author=on_forum, actor=manager)
    text = json.dumps(export)  # serialisable as it is
    assert [a["id"] for a in export["authors"]] == [
        on_x.pk,
        on_forum.pk,
        on_mastodon.pk,
    ]
    assert {m["author_id"] for m in export["mentions"]} == {
        on_x.pk,
        on_forum.pk,
        on_mastodon.pk,
    }
    assert len(export["mentions"]) == 5
    assert export["mentions"][0]["raw"] == {"user": {"name": NAME}, "text": SECRET_WORD}
    assert len(export["cases"]) == 3 and len(export["replies"]) == 2
    assert len(export["notes"]) == 2 and len(export["escalations"]) == 2
    assert len(export["commitments"]) == 2 and len(export["surveys"]) == 3
    assert {e["kind"] for e in export["case_events"]} >= {
        "escalated",
        "survey_answered",
    }
    assert export["surveys"][0]["comment"].startswith(SECRET_WORD)
    assert export["cases"][0]["first_response_at"].endswith("+00:00")
    for survey in Survey.objects.all():
        assert survey.token not in text
    assert "someone_else" not in text
    assert person_export(author=on_x, actor=manager)["mentions"] == export["mentions"]
    # The export is on the record of each account: who, not what.
    entries = LogEntry.objects.filter(object_id=str(on_x.pk))
    assert entries.count() == 2 and entries.first().user == manager


@pytest.mark.django_db
def test_erasing_removes_texts_raw_payloads_and_identity_of_every_linked_account(
    manager,
):
    world = make_world()
    person = world["person"]
    assert SECRET_WORD in everything_written_about(person)
    result = person_erase(author=person[1], actor=manager, reason="AVG-2026-113")
    assert result.author_ids == [a.pk for a in person]
    stored = everything_written_about(person)
    for secret in (
        SECRET_WORD,
        NAME,
        "jantje",
        "Jantje@Example.com".lower(),
        "CRM-77",
        "plid4455",
        "post-0",
        "reply-0",
        "https://example.com",
    ):
        assert secret.lower() not in stored.lower(), secret
    for author in Author.objects.filter(pk__in=result.author_ids):
        assert author.platform_id.startswith("erased-")
        assert (author.handle, author.display_name, author.email) == ("", "", "")
        assert author.watch_flags == frozenset() and author.is_blocked
    assert Author.objects.get(pk=person[0].pk).follower_count == 321
    for mention in Mention.objects.filter(author__in=person):
        assert (mention.text, mention.url, mention.raw) == ("", "", {})
        assert mention.external_id.startswith("erased:")
    case = Case.objects.get(customer=person[0])
    assert case.subject == f"Erased (case #{case.pk})"
    # The open survey is closed: its link takes no new comment.
    assert Survey.objects.get(recipient=person[2]).status == SurveyStatus.CANCELLED
    # Someone else's data is untouched.
    other = world["other"]
    assert Author.objects.get(pk=other.pk).handle == "someone_else"
    assert all(
        SECRET_WORD in text
        for text in Mention.objects.filter(author=other).values_list("text", flat=True)
    )
    assert SECRET_WORD in Survey.objects.get(recipient=other).comment


@pytest.mark.django_db
def test_nps_volumes_and_response_times_are_the_same_before_and_after(manager):
    world = make_world()
    crm = Crm("dashboard", ["read"])
    now = timezone.now()
    before = figures(crm, now)
    assert before["nps"]["total"]["sent"] == 3
    assert before["volumes"]["total"]["cases_opened"] == 4
    assert before["response_times"]["total"]["first_response"]["count"] == 3
    person_erase(author=world["person"][0], actor=manager, reason="AVG-2026-113")
    assert figures(crm, now) == before


@pytest.mark.django_db
def test_the_erasure_is_audited_without_personal_data(manager):
    world = make_world()
    person = world["person"]
    before = set(person_erase_preview(author=person[0]).case_ids)
    result = person_erase(author=person[0], actor=manager, reason="AVG-2026-113")
    assert set(result.case_ids) == before
    events = CaseEvent.objects.filter(kind=EventKind.PERSON_ERASED)
    assert sorted(events.values_list("case_id", flat=True)) == sorted(result.case_ids)
    event = events.first()
    assert event.actor == manager
    assert event.data["reason"] == "AVG-2026-113"
    assert event.data["rows"]["mentions"] == 5 and event.data["rows"]["surveys"] == 3
    entries = LogEntry.objects.filter(object_id__in=[str(a.pk) for a in person])
    assert entries.count() == 3
    assert all("AVG-2026-113" in entry.change_message for entry in entries)
    audit = repr(list(events.values())) + repr(list(entries.values()))
    for secret in (SECRET_WORD, NAME, "jantje", "CRM-77"):
        assert secret.lower() not in audit.lower()


@pytest.mark.django_db
def test_erasing_needs_a_reason_and_the_permission(manager):
    world = make_world()
    author = world["person"][0]
    with pytest.raises(ServiceError):
        person_erase(author=author, actor=manager, reason="  ")
    for role in ("agent", "customer_service", "spokesperson"):
        user = UserFactory(groups=[role])
        with pytest.raises(ServicePermissionDenied):
            person_erase(author=author, actor=user, reason="AVG-1")
        with pytest.raises(ServicePermissionDenied):
            person_export(author=author, actor=user)
    assert Author.objects.get(pk=author.pk).handle == "jantje"


@pytest.mark.django_db
def test_erasing_twice_is_harmless(manager):
    world = make_world()
    ids = [a.pk for a in world["person"]]

    def pseudonyms():
        return dict(Author.objects.filter(pk__in=ids).values_list("pk", "platform_id"))

    person_erase(author=world["person"][0], actor=manager, reason="AVG-1")
    erased = pseudonyms()
    again = person_erase(author=world["person"][0], actor=manager, reason="AVG-1")
    assert again.author_ids == [ids[0]]  # no longer linked: nothing links them
    assert pseudonyms() == erased


@pytest.mark.django_db
def test_a_post_served_again_after_erasure_does_not_come_back(manager):
    world = make_world()
    x_source = world["sources"][0]
    on_x = world["person"][0]
    authors_before = Author.objects.count()
    mentions_before = Mention.objects.filter(source=x_source).count()
    person_erase(author=on_x, actor=manager, reason="AVG-1")
    again = MentionItem(
        external_id="post-0-0",
        text=f"@oranjebank {SECRET_WORD} mijn pas 0",
        author_id="plid4455",
        author_handle="jantje",
        author_name=NAME,
        raw={"text": SECRET_WORD},
    )
    result = mentions_store(source=x_source, items=[again])
    assert (result.new, result.updated, result.unchanged) == (0, 0, 1)
    assert result.mention_ids_new == []
    assert Mention.objects.filter(source=x_source).count() == mentions_before
    assert not Mention.objects.filter(
        author__in=world["person"], text__contains=SECRET_WORD
    )
    # Nor does its author come back from it.
    assert Author.objects.count() == authors_before
    assert not Author.objects.filter(handle="jantje").exists()
    # A new post of the same account is new data and is stored as such.
    new = mentions_store(
        source=x_source,
        items=[MentionItem(external_id="post-new", text="nieuw", author_id="plid4455")],
    )
    assert new.new == 1


def sync(crm, path, cursor=None):
    """Every page of an incremental sync from `cursor`: (rows, the next cursor)."""
    rows = []
    while True:
        response = crm.get(path, {"cursor": cursor} if cursor else {})
        assert response.status_code == 200, response.content
        body = response.json()
        rows.extend(body["results"])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return rows, cursor


@pytest.mark.django_db(transaction=True)
def test_the_erasure_reaches_the_crm_through_sync(manager):
    world = make_world()
    crm = Crm("crm", ["read"])
    ids = [a.pk for a in world["person"]]
    case_ids = set(
        Case.objects.filter(customer_id__in=ids).values_list("pk", flat=True)
    )
    erased = {
        "/api/v1/mentions/": set(
            Mention.objects.filter(author_id__in=ids).values_list("pk", flat=True)
        ),
        "/api/v1/cases/": case_ids,
        "/api/v1/authors/": set(ids),
        "/api/v1/surveys/": set(
            Survey.objects.filter(case_id__in=case_ids).values_list("pk", flat=True)
        ),
    }
    cursors = {path: sync(crm, path)[1] for path in erased}
    since = timezone.now().isoformat()
    person_erase(author=world["person"][0], actor=manager, reason="AVG-1")
    for path, expected in erased.items():
        rows, _cursor = sync(crm, path, cursors[path])
        assert {row["id"] for row in rows} == expected, path
        assert SECRET_WORD not in json.dumps(rows), path
        assert NAME not in json.dumps(rows), path
    served = crm.get("/api/v1/mentions/", {"updated_since": since}).json()["results"]
    assert {row["id"] for row in served} == erased["/api/v1/mentions/"]


@pytest.mark.django_db
def test_a_manager_erases_a_surveyed_author_in_the_admin_and_nobody_deletes_one(
    client, manager
):
    world = make_world()
    on_x = world["person"][0]
    assert Survey.objects.filter(recipient=on_x).exists()
    client.force_login(manager)
    # Deleting is refused: it would fail on the survey, or leave the texts behind.
    assert client.get(f"/admin/sources/author/{on_x.pk}/delete/").status_code == 403
    never_surveyed = MentionFactory(text=SECRET_WORD).author
    assert (
        client.get(f"/admin/sources/author/{never_surveyed.pk}/delete/").status_code
        == 403
    )
    changelist = client.get("/admin/sources/author/")
    actions = [
        value
        for value, _label in changelist.context["action_form"].fields["action"].choices
    ]
    assert "delete_selected" not in actions
    assert {"export_personal_data", "erase_personal_data"} <= set(actions)
    change = client.get(f"/admin/sources/author/{on_x.pk}/change/")
    assert change.status_code == 200
    assert f"/admin/sources/author/{on_x.pk}/erase/".encode() in change.content
    assert f"/admin/sources/author/{on_x.pk}/export/".encode() in change.content
    page = client.get(f"/admin/sources/author/{on_x.pk}/erase/")
    assert page.status_code == 200
    assert b"3 linked accounts" in page.content
    assert Author.objects.get(pk=on_x.pk).handle == "jantje"  # a GET changes nothing
    assert (
        client.post(
            f"/admin/sources/author/{on_x.pk}/erase/", {"reason": ""}
        ).status_code
        == 400
    )
    response = client.post(
        f"/admin/sources/author/{on_x.pk}/erase/", {"reason": "AVG-2026-7"}
    )
    assert response.status_code == 302
    assert Author.objects.get(pk=on_x.pk).platform_id.startswith("erased-")
    assert CaseEvent.objects.filter(
        kind=EventKind.PERSON_ERASED, actor=manager
    ).exists()


@pytest.mark.django_db
def test_a_manager_downloads_the_export_from_the_admin(client, manager):
    world = make_world()
    on_x = world["person"][0]
    client.force_login(manager)
    response = client.post(
        "/admin/sources/author/",
        {"action": "export_personal_data", "_selected_action": [on_x.pk]},
    )
    assert response.status_code == 200
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="person-{on_x.pk}.json"'
    )
    assert len(json.loads(response.content)["authors"]) == 3
    direct = client.post(f"/admin/sources/author/{on_x.pk}/export/")
    assert json.loads(direct.content)["cases"] == json.loads(response.content)["cases"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agent", "customer_service", "spokesperson"])
def test_other_roles_get_neither_action(client, role):
    world = make_world()
    on_x = world["person"][0]
    client.force_login(UserFactory(groups=[role]))
    change = client.get(f"/admin/sources/author/{on_x.pk}/change/")
    assert b"/erase/" not in change.content
    changelist = client.get("/admin/sources/author/")
    if changelist.status_code == 200 and changelist.context.get("action_form"):
        actions = {
            v for v, _l in changelist.context["action_form"].fields["action"].choices
        }
        assert not actions & {"export_personal_data", "erase_personal_data"}
    assert client.get(f"/admin/sources/author/{on_x.pk}/erase/").status_code in (
        403,
        404,
    )
    assert client.post(
        f"/admin/sources/author/{on_x.pk}/erase/", {"reason": "x"}
    ).status_code in (403, 404)
    assert client.get(f"/admin/sources/author/{on_x.pk}/export/").status_code in (
        403,
        404,
    )
    response = client.post(
        "/admin/sources/author/",
        {"action": "erase_personal_data", "_selected_action": [on_x.pk]},
    )
    assert response.status_code in (200, 302, 403)
    assert Author.objects.get(pk=on_x.pk).handle == "jantje"


@pytest.mark.django_db
def test_the_management_commands_export_and_erase(manager, capsys, tmp_path):
    world = make_world()
    on_x = world["person"][0]
    call_command("person_export", "--author", str(on_x.pk), "--actor", "mira")
    export = json.loads(capsys.readouterr().out)
    assert len(export["authors"]) == 3
    output = tmp_path / "export.json"
    call_command(
        "person_export",
        "--author",
        str(on_x.pk),
        "--actor",
        "mira",
        "--output",
        str(output),
    )
    assert json.loads(output.read_text())["cases"] == export["cases"]
    call_command(
        "person_erase", "--author", str(on_x.pk), "--actor", "mira", "--dry-run"
    )
    assert json.loads(capsys.readouterr().out)["rows"]["mentions"] == 5
    assert Author.objects.get(pk=on_x.pk).handle == "jantje"
    with pytest.raises(CommandError):
        call_command("person_erase", "--author", str(on_x.pk), "--actor", "mira")
    with pytest.raises(CommandError):
        call_command(
            "person_erase",
            "--author",
            str(on_x.pk),
            "--actor",
            "nobody",
            "--reason",
            "x",
        )
    call_command(
        "person_erase", "--author", str(on_x.pk), "--actor", "mira", "--reason", "AVG-9"
    )
    done = json.loads(capsys.readouterr().out)
    assert done["dry_run"] is False and len(done["author_ids"]) == 3
    assert Author.objects.get(pk=on_x.pk).platform_id.startswith("erased-")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_erasure_and_a_poll_of_the_same_posts_at_once_leave_nothing(
    on_postgres, manager
):
    """Real threads on PostgreSQL: a poll storing an edit of the person's post
    while the person is erased. Whichever takes the source first, neither waits
    for the other forever and no text of the person is left."""
    world = make_world()
    x_source = world["sources"][0]
    on_x = world["person"][0]
    edited = [
        MentionItem(
            external_id=f"post-0-{number}",
            text=f"{SECRET_WORD} bewerkt {number}",
            author_id="plid4455",
            author_handle="jantje",
            edited_at=timezone.now(),
            raw={"text": SECRET_WORD},
        )
        for number in range(2)
    ]
    workers = run_at_once(
        lambda: person_erase(author=on_x, actor=manager, reason="AVG-1"),
        lambda: mentions_store(source=x_source, items=edited),
    )
    assert errors(workers) == []
    assert not Mention.objects.filter(text__contains=SECRET_WORD).exclude(
        author=world["other"]
    )
    assert Mention.objects.filter(source=x_source).count() == 4


def test_staff_mail_about_the_persons_records_goes_and_other_peoples_lines_stay(
    manager,
):
    """The reviewer's findings: an escalation notice kept the reason and the quoted
    post, and a short CRM number ("2026"), handle ("bank") or subject ("Help")
    blanked other people's lines."""
    from cases.notifications import escalation_notify
    from reporting.models import DailySummary
    from webcare.notices.models import Notice

    customer = AuthorFactory(
        platform=SourceKind.X_SEARCH,
        platform_id="99",
        handle="bank",
        crm_customer_id="2026",
    )
    case = CaseFactory(customer=customer, subject="Help")
    MentionFactory(author=customer, case=case, text="Mijn geheime schuld\nDorpsstraat")
    agent = UserFactory(username="anna", groups=["agent"])
    escalation = Escalation.objects.create(
        case=case,
        department="customer_service",
        reason="Belt over zijn scheiding",
        requested_by=agent,
        requested_at=timezone.now(),
    )
    escalation_notify(escalation_id=escalation.pk)
    others = (
        "New: 3\n#9999997 [Open] Help with bank card of someone else\ncustomer: @piet"
    )
    mine = f"#{case.pk} [Open] Help\n#{case.pk + 1000} [Open] Help too"
    digest = Notice.objects.create(
        kind="daily_summary",
        subject="Team: contacts of 2026-12-01",
        body=f"{others}\n{mine}",
    )
    summary = DailySummary.objects.create(date="2026-12-01", body=f"{others}\n{mine}")

    person_erase(author=customer, actor=manager, reason="AVG-1")

    about = Notice.objects.get(about=f"escalation:{escalation.pk}")
    assert "scheiding" not in about.subject + about.body
    assert "schuld" not in about.subject + about.body
    digest.refresh_from_db()
    summary.refresh_from_db()
    assert digest.subject == "Team: contacts of 2026-12-01"
    expected = f"{others}\n[erased]\n#{case.pk + 1000} [Open] Help too"
    assert digest.body == summary.body == expected


def test_a_person_erased_again_under_a_new_account_row(manager):
    """The person posts again after an erasure (a new account row with the old
    platform id) and asks again: no clash between the two pseudonyms."""
    first = AuthorFactory(platform=SourceKind.X_SEARCH, platform_id="plid4455")
    person_erase(author=first, actor=manager, reason="AVG-1")
    again = AuthorFactory(platform=SourceKind.X_SEARCH, platform_id="plid4455")
    person_erase(author=again, actor=manager, reason="AVG-2")
    first.refresh_from_db()
    again.refresh_from_db()
    assert first.platform_id != again.platform_id
    assert "plid4455" not in first.platform_id + again.platform_id
