"""A person's data on request: exported as JSON, or erased (anonymised) for good.

A person's data spans every app: their accounts and posts (sources), their cases
with the team's replies, internal notes, escalations, promises and trail (cases),
and their surveys (reporting). So this service lives in the top app. It acts on
one account and on every account linked to it: the same e-mail address (in any
case) or the same CRM customer id, followed until no new account turns up.

Erasing keeps the rows and every number, time, status, score and relation that
reports count (NPS, volumes, response times stay exactly as they were) and
removes what says who the person is or what they wrote: texts and raw payloads
emptied, the account renamed to a pseudonym, the platform's ids of their posts
kept only as a one-way hash (so a post served again is recognised and not stored
again). Rows are written through the ORM, so their sync positions move and the
CRM's next sync sees the erasure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.events import case_event
from cases.intake import SUBJECT_CHARS
from cases.models import (
    Case,
    CaseEvent,
    Commitment,
    Escalation,
    EventKind,
    Note,
    Reply,
)
from reporting.models import DailySummary, Survey, SurveyStatus, new_survey_token
from sources.models import Author, Mention, RuleDryRun, Source
from sources.services.erasure import (
    ERASED_PREFIX,
    erased_author_id,
    erased_reference,
)
from webcare import bus
from webcare.errors import ServiceError, ServicePermissionDenied
from webcare.notices.models import Notice

EXPORT_PERMISSION = "sources.export_author_data"
ERASE_PERMISSION = "sources.erase_author_data"
EXPORT_FORMAT = "webcare-person-export/1"
ERASED = "[erased]"
# Accounts linked through accounts linked through ...: stop somewhere.
MAX_LINK_ROUNDS = 10
# Keys of a case event's data that may hold what the person (or staff about the
# person) wrote: an escalation's reason, notes, a promise, a survey comment, an
# edited subject. Ids, times, scores and statuses stay.
PERSONAL_EVENT_KEYS = frozenset(
    {"reason", "note", "description", "comment", "old_comment", "changes", "text"}
)
# A quote of the person's post found in someone else's record is blanked only
# from this length: a short post ("Thanks!") would blank other people's words.
MIN_QUOTE_CHARS = 12
OPEN_SURVEY_STATUSES = (
    SurveyStatus.SCHEDULED,
    SurveyStatus.SENT,
    SurveyStatus.REMINDED,
)


@dataclass
class ErasureResult:
    """What an erasure changed (or, for a preview, would change): counts and ids,
    never anything about the person."""

    author_ids: list[int] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def person_linked_authors(*, author: Author) -> list[Author]:
    """The author and every account linked to it by e-mail (any case) or CRM id,
    transitively, in id order."""
    found = {author.pk: author}
    for _round in range(MAX_LINK_ROUNDS):
        emails = {a.email.strip() for a in found.values() if a.email.strip()}
        crm_ids = {
            a.crm_customer_id.strip()
            for a in found.values()
            if a.crm_customer_id.strip()
        }
        condition = Q(pk__in=list(found))
        for email in sorted(emails):
            condition |= Q(email__iexact=email)
        if crm_ids:
            condition |= Q(crm_customer_id__in=sorted(crm_ids))
        linked = {a.pk: a for a in Author.objects.filter(condition)}
        if linked.keys() == found.keys():
            break
        found = linked
    return sorted(found.values(), key=lambda a: a.pk)


def _person_cases(authors: list[Author]) -> Q:
    """The person's cases: theirs as the customer, or as the CRM's customer (a
    case the CRM opened for them, with no post of theirs)."""
    condition = Q(customer_id__in=[a.pk for a in authors])
    crm_ids = sorted({a.crm_customer_id.strip() for a in authors} - {""})
    if crm_ids:
        condition |= Q(crm_customer_id__in=crm_ids)
    return condition


# --- Export ------------------------------------------------------------------------


def person_export(*, author: Author, actor: AbstractBaseUser) -> dict[str, Any]:
    """Everything stored about the person, across their linked accounts, as a
    JSON-serialisable dict in a fixed order (times in UTC, ISO 8601).

    Never a survey's token: it would let the reader answer as the customer. The
    export is logged on each account (who, when), not its content.
    """
    _check_permission(actor, EXPORT_PERMISSION, _("export a person's data"))
    authors = person_linked_authors(author=author)
    author_ids = [a.pk for a in authors]
    mentions = (
        Mention.objects.filter(author_id__in=author_ids)
        .select_related("source")
        .order_by("pk")
    )
    cases = list(Case.objects.filter(_person_cases(authors)).order_by("pk"))
    case_ids = [case.pk for case in cases]
    export = {
        "format": EXPORT_FORMAT,
        "exported_at": _time(timezone.now()),
        "requested_for_author_id": author.pk,
        "linked_by": "the same e-mail address or the same CRM customer id",
        "cases_by": "the customer is one of the accounts, or the CRM customer id",
        "authors": [_author_dict(a) for a in authors],
        "mentions": [_mention_dict(m) for m in mentions],
        "cases": [_case_dict(case) for case in cases],
        "replies": [
            {
                "id": reply.pk,
                "case_id": reply.case_id,
                "in_reply_to_mention_id": reply.in_reply_to_id,
                "channel": reply.channel,
                "is_private": reply.is_private,
                "text": reply.text,
                "signature": reply.signature,
                "sent_at": _time(reply.sent_at),
            }
            for reply in Reply.objects.filter(case_id__in=case_ids).order_by("pk")
        ],
        "notes": [
            {
                "id": note.pk,
                "case_id": note.case_id,
                "text": note.text,
                "created_at": _time(note.created_at),
            }
            for note in Note.objects.filter(case_id__in=case_ids).order_by("pk")
        ],
        "escalations": [
            {
                "id": escalation.pk,
                "case_id": escalation.case_id,
                "department": escalation.department,
                "reason": escalation.reason,
                "status": escalation.status,
                "requested_at": _time(escalation.requested_at),
                "acknowledged_at": _time(escalation.acknowledged_at),
                "resolved_at": _time(escalation.resolved_at),
                "resolution_note": escalation.resolution_note,
            }
            for escalation in Escalation.objects.filter(case_id__in=case_ids).order_by(
                "pk"
            )
        ],
        "commitments": [
            {
                "id": commitment.pk,
                "case_id": commitment.case_id,
                "description": commitment.description,
                "status": commitment.status,
                "due_at": _time(commitment.due_at),
                "kept_at": _time(commitment.kept_at),
                "created_at": _time(commitment.created_at),
            }
            for commitment in Commitment.objects.filter(case_id__in=case_ids).order_by(
                "pk"
            )
        ],
        "case_events": [
            {
                "id": event.pk,
                "case_id": event.case_id,
                "kind": event.kind,
                "data": event.data,
                "created_at": _time(event.created_at),
            }
            for event in CaseEvent.objects.filter(case_id__in=case_ids).order_by(
                "created_at", "pk"
            )
        ],
        "surveys": [
            {
                "id": survey.pk,
                "case_id": survey.case_id,
                "recipient_author_id": survey.recipient_id,
                "email": survey.email,
                "channel": survey.channel,
                "language": survey.language,
                "status": survey.status,
                "score": survey.score,
                "comment": survey.comment,
                "scheduled_for": _time(survey.scheduled_for),
                "sent_at": _time(survey.sent_at),
                "reminded_at": _time(survey.reminded_at),
                "responded_at": _time(survey.responded_at),
                "corrected_at": _time(survey.corrected_at),
                "expired_at": _time(survey.expired_at),
                "cancelled_at": _time(survey.cancelled_at),
            }
            for survey in Survey.objects.filter(
                Q(recipient_id__in=author_ids) | Q(case_id__in=case_ids)
            ).order_by("pk")
        ],
    }
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=authors,
        action_flag=CHANGE,
        change_message=_("Personal data exported (%(count)s linked accounts).")
        % {"count": len(authors)},
    )
    return export


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _author_dict(author: Author) -> dict:
    return {
        "id": author.pk,
        "platform": author.platform,
        "platform_id": author.platform_id,
        "handle": author.handle,
        "display_name": author.display_name,
        "email": author.email,
        "crm_customer_id": author.crm_customer_id,
        "language": author.language,
        "follower_count": author.follower_count,
        "watch_flags": sorted(author.watch_flags),
        "is_blocked": author.is_blocked,
        "survey_opt_out_at": _time(author.survey_opt_out_at),
        "created_at": _time(author.created_at),
    }


def _mention_dict(mention: Mention) -> dict:
    return {
        "id": mention.pk,
        "author_id": mention.author_id,
        "case_id": mention.case_id,
        "source": {
            "id": mention.source_id,
            "name": mention.source.name,
            "kind": mention.source.kind,
        },
        "external_id": mention.external_id,
        "url": mention.url,
        "text": mention.text,
        "language": mention.language,
        "published_at": _time(mention.published_at),
        "first_seen_at": _time(mention.first_seen_at),
        "edited_at": _time(mention.edited_at),
        "is_deleted": mention.is_deleted,
        "category": mention.category,
        "triage_status": mention.triage_status,
        "likes": mention.likes,
        "reposts": mention.reposts,
        "replies": mention.replies,
        "raw": mention.raw,
    }


def _case_dict(case: Case) -> dict:
    return {
        "id": case.pk,
        "customer_author_id": case.customer_id,
        "subject": case.subject,
        "status": case.status,
        "priority": case.priority,
        "category": case.category,
        "channel": case.channel,
        "crm_customer_id": case.crm_customer_id,
        "structural_note": case.structural_note,
        "created_at": _time(case.created_at),
        "first_response_at": _time(case.first_response_at),
        "resolved_at": _time(case.resolved_at),
        "closed_at": _time(case.closed_at),
    }


# --- Erasure -----------------------------------------------------------------------


def person_erase_preview(*, author: Author) -> ErasureResult:
    """What `person_erase` would touch, counted; writes nothing."""
    authors = person_linked_authors(author=author)
    author_ids = [a.pk for a in authors]
    own_case_ids = list(
        Case.objects.filter(_person_cases(authors))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    mentions = Mention.objects.filter(author_id__in=author_ids)
    other_case_ids = set(
        mentions.exclude(case_id__isnull=True).values_list("case_id", flat=True)
    )
    return ErasureResult(
        author_ids=author_ids,
        case_ids=sorted(set(own_case_ids) | other_case_ids),
        rows={
            "authors": len(author_ids),
            "mentions": mentions.count(),
            "cases": len(own_case_ids),
            "replies": Reply.objects.filter(case_id__in=own_case_ids).count(),
            "notes": Note.objects.filter(case_id__in=own_case_ids).count(),
            "escalations": Escalation.objects.filter(case_id__in=own_case_ids).count(),
            "commitments": Commitment.objects.filter(case_id__in=own_case_ids).count(),
            "surveys": Survey.objects.filter(
                Q(recipient_id__in=author_ids) | Q(case_id__in=own_case_ids)
            ).count(),
        },
    )


def person_erase(
    *, author: Author, actor: AbstractBaseUser, reason: str
) -> ErasureResult:
    """Erase the person behind `author` and every linked account; one transaction.

    Rows stay (so case history, survey and reach figures stay whole); what they
    said and who they are goes. The account keeps its platform and follower count
    under a pseudonym, and is blocked (never surveyed or engaged automatically).
    Their cases are those of their accounts and those the CRM opened under their
    CRM id. Where their post sits in someone else's case, only their words go
    (a subject taken from the post, quotes in notes and staff mail); other
    people's replies to their posts keep the post's id only as its pseudonym.
    Each affected case gets a `person_erased` event and each account an admin log
    entry: who, when, why and how many rows, nothing about the person. Running it
    again is harmless.
    """
    _check_permission(actor, ERASE_PERMISSION, _("erase a person's data"))
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Say why the data is erased (e.g. the request's number)."))
    now = timezone.now()
    with transaction.atomic():
        linked = person_linked_authors(author=author)
        author_ids = [a.pk for a in linked]
        # One lock order everywhere: cases, then the customer's author rows, then
        # surveys. The sources of their posts come before the authors: storing a
        # mention holds its source and then refers to the author row. Every source
        # of the same kind is held, as one that polls the same post again looks for
        # its pseudonym across them. Sources and authors are held FOR NO KEY UPDATE
        # (their keys do not change): a case opened meanwhile, holding its mention,
        # may still refer to the author (a key-share lock) and finish, instead of
        # deadlocking with us.
        # Their cases and the other customers' cases holding one of their posts.
        locked_case_ids = list(
            Case.objects.select_for_update()
            .filter(
                _person_cases(linked)
                | Q(
                    pk__in=Mention.objects.filter(
                        author_id__in=author_ids, case__isnull=False
                    ).values("case_id")
                )
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        own_case_ids = list(
            Case.objects.filter(pk__in=locked_case_ids)
            .filter(_person_cases(linked))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        kinds = sorted(
            set(
                Mention.objects.filter(author_id__in=author_ids).values_list(
                    "source__kind", flat=True
                )
            )
        )
        list(
            Source.objects.select_for_update(no_key=True)
            .filter(kind__in=kinds)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        authors = list(
            Author.objects.select_for_update(no_key=True)
            .filter(pk__in=author_ids)
            .order_by("pk")
        )
        surveys = list(
            Survey.objects.select_for_update()
            .filter(Q(recipient_id__in=author_ids) | Q(case_id__in=own_case_ids))
            .order_by("pk")
        )
        mentions = list(
            Mention.objects.select_for_update(of=("self",))
            .select_related("source")
            .filter(author_id__in=author_ids)
            .order_by("pk")
        )
        cases = list(Case.objects.filter(pk__in=own_case_ids).order_by("pk"))
        needles = _identity_needles(authors)
        other_case_ids = sorted(
            {m.case_id for m in mentions if m.case_id is not None} - set(own_case_ids)
        )
        # Taken before the posts are emptied: afterwards their words exist only
        # where someone copied them.
        texts_by_case: dict[int, list[str]] = {}
        for mention in mentions:
            if mention.case_id in other_case_ids:
                texts_by_case.setdefault(mention.case_id, []).append(mention.text)
        quotes = _quote_needles(
            [m for m in mentions if m.case_id in set(other_case_ids)]
        )
        post_ids = [(m.source.kind, m.external_id) for m in mentions]

        rows: dict[str, int] = {}
        rows["authors"] = _erase_authors(authors)
        rows["mentions"] = _erase_mentions(mentions)
        rows["replies_to_posts"] = _erase_reply_references(post_ids, mentions)
        rows["cases"] = _erase_cases(cases)
        rows["replies"] = _erase_replies(own_case_ids)
        rows["notes"] = Note.objects.filter(case_id__in=own_case_ids).update(text="")
        rows["escalations"] = Escalation.objects.filter(
            case_id__in=own_case_ids
        ).update(reason="", resolution_note="")
        rows["commitments"] = Commitment.objects.filter(
            case_id__in=own_case_ids
        ).update(description="")
        rows["case_events"] = _erase_case_events(own_case_ids)
        rows["surveys"] = _erase_surveys(surveys, now)
        rows["quoted_in_other_cases"] = _erase_quotes_in_cases(
            other_case_ids, texts_by_case, quotes
        )
        rows["rule_dry_runs"] = _erase_dry_run_examples({m.pk for m in mentions})
        other_cases = list(Case.objects.filter(pk__in=other_case_ids))
        rows["log_entries"] = _erase_log_entries(
            authors=authors,
            mentions=mentions,
            cases=cases + other_cases,
            own_case_ids=own_case_ids,
            surveys=surveys,
            needles=needles + quotes,
        )
        # Staff mail about the person's own records goes whole; in mail about many
        # (daily summaries, digests) only the lines of their cases or naming them;
        # in mail about someone else's case, the quotes of their posts.
        about = _notice_references(own_case_ids, mentions)
        rows["notices"] = _erase_notices(Notice.objects.filter(about__in=about))
        rows["notices"] += _erase_lines(
            Notice.objects.exclude(about__in=about),
            ("subject", "body"),
            needles,
            own_case_ids,
        )
        rows["notices"] += _erase_quotes(
            Notice.objects.exclude(about__in=about), ("subject", "body"), quotes
        )
        rows["daily_summaries"] = _erase_lines(
            DailySummary.objects.all(), ("body",), needles, own_case_ids
        )
        rows["daily_summaries"] += _erase_quotes(
            DailySummary.objects.all(), ("body",), quotes
        )
        # Webhook payloads and stored API answers: the api package rewrites them.
        bus.publish(
            bus.PersonErased(
                author_ids=tuple(author_ids),
                case_ids=tuple(own_case_ids),
                other_case_ids=tuple(other_case_ids),
                survey_ids=tuple(survey.pk for survey in surveys),
                quotes=tuple(quotes),
            )
        )

        affected_case_ids = sorted(set(own_case_ids) | set(other_case_ids))
        for case_id in affected_case_ids:
            case_event(
                case=case_id,
                kind=EventKind.PERSON_ERASED,
                actor=actor,
                reason=reason,
                author_ids=author_ids,
                rows=rows,
            )
        if authors:
            LogEntry.objects.log_actions(
                user_id=actor.pk,
                queryset=authors,
                action_flag=CHANGE,
                change_message=_("Personal data erased: %(reason)s (%(rows)s)")
                % {
                    "reason": reason,
                    "rows": ", ".join(
                        f"{name} {count}" for name, count in rows.items()
                    ),
                },
            )
    return ErasureResult(author_ids=author_ids, case_ids=affected_case_ids, rows=rows)


def _check_permission(actor: AbstractBaseUser | None, permission: str, what: str):
    if actor is None or not actor.is_active or not actor.has_perm(permission):
        name = (actor.get_full_name() or actor.get_username()) if actor else ""
        raise ServicePermissionDenied(
            _("%(name)s may not %(what)s.")
            % {"name": name or _("Nobody"), "what": what}
        )


def _identity_needles(authors: list[Author]) -> list[str]:
    """What names the person unmistakably in free text elsewhere (staff mail, the
    admin's log): an @handle, an e-mail address, a full name. Not a bare handle,
    CRM number or subject: "bank", "2026" or "Help" would erase other people's lines.
    """
    values: set[str] = set()
    for author in authors:
        values.add(f"@{author.handle}" if author.handle else "")
        values.add(author.email)
        if " " in author.display_name.strip():
            values.add(author.display_name.strip())
    return sorted((v for v in values if v and len(v) >= 6), key=lambda v: -len(v))


def _notice_references(case_ids: list[int], mentions: list[Mention]) -> list[str]:
    """The `about` of every notice about the person's own records."""
    references = [f"case:{pk}" for pk in case_ids]
    references += [
        f"escalation:{pk}"
        for pk in Escalation.objects.filter(case_id__in=case_ids).values_list(
            "pk", flat=True
        )
    ]
    references += [
        f"commitment:{pk}"
        for pk in Commitment.objects.filter(case_id__in=case_ids).values_list(
            "pk", flat=True
        )
    ]
    references += [f"mention:{mention.pk}" for mention in mentions]
    return references


def _erase_notices(queryset) -> int:
    changed = list(queryset)
    for notice in changed:
        notice.subject = ERASED
        notice.body = ERASED
    if changed:
        Notice.objects.bulk_update(changed, ["subject", "body"], batch_size=500)
    return len(changed)


def _erase_authors(authors: list[Author]) -> int:
    for author in authors:
        author.platform_id = erased_author_id(author.platform_id)
        author.handle = ""
        author.display_name = ""
        author.email = ""
        author.crm_customer_id = ""
        for flag in Author.WATCH_FLAGS:
            setattr(author, f"is_{flag}", False)
        author.is_blocked = True
        author.save(
            update_fields=[
                "platform_id",
                "handle",
                "display_name",
                "email",
                "crm_customer_id",
                *(f"is_{flag}" for flag in Author.WATCH_FLAGS),
                "is_blocked",
                "updated_at",
            ]
        )
    return len(authors)


def _erase_mentions(mentions: list[Mention]) -> int:
    now = timezone.now()
    for mention in mentions:
        kind = mention.source.kind
        mention.external_id = erased_reference(kind, mention.external_id)
        mention.in_reply_to = erased_reference(kind, mention.in_reply_to)
        mention.conversation_key = erased_reference(
            "conversation", mention.conversation_key
        )
        mention.text = ""
        mention.url = ""
        mention.raw = {}
        mention.triage_signals = {}
        mention.updated_at = now
    Mention.objects.bulk_update(
        mentions,
        [
            "external_id",
            "in_reply_to",
            "conversation_key",
            "text",
            "url",
            "raw",
            "triage_signals",
            "updated_at",
        ],
        batch_size=500,
    )
    return len(mentions)


def _erase_cases(cases: list[Case]) -> int:
    for case in cases:
        # Subjects are taken from the first post's words: a neutral one instead.
        case.subject = _("Erased (case #%(id)s)") % {"id": case.pk}
        case.crm_customer_id = ""
        case.structural_note = ""
        case.conversation_key = erased_reference("conversation", case.conversation_key)
        case.save(
            update_fields=[
                "subject",
                "crm_customer_id",
                "structural_note",
                "conversation_key",
                "updated_at",
            ]
        )
    return len(cases)


def _erase_replies(case_ids: list[int]) -> int:
    replies = list(Reply.objects.filter(case_id__in=case_ids).order_by("pk"))
    for reply in replies:
        # The team's public answer names the customer; its id would find it.
        reply.text = ""
        reply.external_id = erased_reference(reply.channel, reply.external_id)
    Reply.objects.bulk_update(replies, ["text", "external_id"], batch_size=500)
    return len(replies)


def _erase_case_events(case_ids: list[int]) -> int:
    # The trail is append-only for everyone else: this is the one rewrite, by a
    # queryset update (CaseEvent.save refuses), and it leaves every event in place.
    events = []
    for event in (
        CaseEvent.objects.filter(case_id__in=case_ids)
        .exclude(kind=EventKind.PERSON_ERASED)
        .order_by("pk")
    ):
        if not isinstance(event.data, dict):
            continue
        personal = PERSONAL_EVENT_KEYS & event.data.keys()
        if any(event.data[key] not in ("", None, {}, []) for key in personal):
            event.data = {
                **event.data,
                **{key: ERASED for key in personal if event.data[key]},
            }
            events.append(event)
    CaseEvent.objects.bulk_update(events, ["data"], batch_size=500)
    return len(events)


def _erase_surveys(surveys: list[Survey], now: datetime) -> int:
    for survey in surveys:
        survey.comment = ""
        survey.email = ""
        survey.subject = ""
        survey.last_error = ""
        # The old personal link must not open a page that takes a new comment.
        survey.token = new_survey_token()
        if survey.status in OPEN_SURVEY_STATUSES:
            survey.status = SurveyStatus.CANCELLED
            survey.cancelled_at = now
            survey.send_claimed_until = None
        survey.save(
            update_fields=[
                "comment",
                "email",
                "subject",
                "last_error",
                "token",
                "status",
                "cancelled_at",
                "send_claimed_until",
            ]
        )
    return len(surveys)


def _erase_log_entries(
    *,
    authors: list[Author],
    mentions: list[Mention],
    cases: list[Case],
    own_case_ids: list[int],
    surveys: list[Survey],
    needles: list[str],
) -> int:
    """The admin's log of every record of the person, under the model or any proxy
    of it (the review queue is a proxy of Mention): the name it had then becomes
    the erased one, and their identity or words leave the message."""
    targets: list[tuple[type, dict[str, str]]] = [
        (Author, {str(a.pk): str(a) for a in authors}),
        (Mention, {str(m.pk): str(m) for m in mentions}),
        (Case, {str(c.pk): str(c) for c in cases}),
        (Survey, {str(survey.pk): str(survey) for survey in surveys}),
    ]
    for model in (Reply, Note, Escalation, Commitment, CaseEvent):
        rows = model.objects.filter(case_id__in=own_case_ids)
        targets.append((model, {str(row.pk): str(row) for row in rows}))
    changed = []
    for model, reprs in targets:
        if not reprs:
            continue
        models = [
            model,
            *(
                other
                for other in apps.get_models()
                if other._meta.proxy and other._meta.concrete_model is model
            ),
        ]
        content_types = ContentType.objects.get_for_models(
            *models, for_concrete_models=False
        ).values()
        for entry in LogEntry.objects.filter(
            content_type__in=list(content_types), object_id__in=list(reprs)
        ):
            entry.object_repr = reprs[entry.object_id][:200]
            entry.change_message = _replace(entry.change_message, needles)
            changed.append(entry)
    LogEntry.objects.bulk_update(
        changed, ["object_repr", "change_message"], batch_size=500
    )
    return len(changed)


def _replace(text: str, needles: Iterable[str]) -> str:
    for needle in needles:
        text = text.replace(needle, ERASED)
    return text


_CASE_REFERENCE = re.compile(r"#(\d+)\b")


def _erase_lines(
    queryset, fields: tuple[str, ...], needles: list[str], case_ids: list[int]
) -> int:
    """Staff mail about many (daily summaries, digests) kept in the database: each
    line about one of the person's cases (`#12`) or naming them becomes a marker."""
    cases = {str(pk) for pk in case_ids}
    if not needles and not cases:
        return 0

    def personal(line: str) -> bool:
        return any(needle in line for needle in needles) or any(
            number in cases for number in _CASE_REFERENCE.findall(line)
        )

    condition = Q()
    for name in fields:
        for needle in [*needles, *(f"#{pk}" for pk in cases)]:
            condition |= Q(**{f"{name}__contains": needle})
    changed = []
    for row in queryset.filter(condition):
        touched = False
        for name in fields:
            lines = getattr(row, name).splitlines()
            kept = [ERASED if personal(line) else line for line in lines]
            if kept != lines:
                setattr(row, name, "\n".join(kept))
                touched = True
        if touched:
            changed.append(row)
    if changed:
        type(changed[0]).objects.bulk_update(changed, list(fields), batch_size=500)
    return len(changed)


# --- The person's words elsewhere -----------------------------------------------


def replace_quotes(text: str, quotes: Iterable[str]) -> str:
    """`text` with every quote of the person's posts replaced by the marker."""
    return _replace(text, quotes)


def _quote_needles(mentions: list[Mention]) -> list[str]:
    """How the person's posts appear when copied: whole, flattened to one line
    (a case subject, a mail header, cut short as those cut it), line by line (a
    quote in mail), and their links. Longest first, so a whole quote goes as one."""
    values: set[str] = set()
    for mention in mentions:
        flat = " ".join(mention.text.split())
        values.update((mention.text.strip(), flat, mention.url))
        values.update(line.strip() for line in mention.text.splitlines())
        # Where a subject or a mail header cut the words short.
        for limit in (SUBJECT_CHARS, 60, 300):
            values.add(flat[: limit - 1].rstrip())
    return sorted(
        (v for v in values if len(v) >= MIN_QUOTE_CHARS), key=lambda v: (-len(v), v)
    )


def _is_quoted_subject(subject: str, texts: list[str]) -> bool:
    """Was the case's subject taken from one of these posts (as intake does)?"""
    words = " ".join(subject.split()).removesuffix("…").rstrip()
    for text in texts:
        flat = " ".join(text.split())
        if words and (
            words == flat or (len(words) >= MIN_QUOTE_CHARS and flat.startswith(words))
        ):
            return True
    return False


def _erase_quotes_in_cases(
    case_ids: list[int], texts_by_case: dict[int, list[str]], quotes: list[str]
) -> int:
    """Someone else's case holding the person's post: a subject taken from the
    post becomes a neutral one; quotes of it in the case's notes, replies,
    escalations, promises and trail become the marker. The rest is theirs."""
    changed = 0
    for case in Case.objects.filter(pk__in=case_ids).order_by("pk"):
        if _is_quoted_subject(case.subject, texts_by_case.get(case.pk, [])):
            subject = _("Subject erased (case #%(id)s)") % {"id": case.pk}
        else:
            subject = _replace(case.subject, quotes)
        if subject != case.subject:
            case.subject = subject
            case.save(update_fields=["subject", "updated_at"])
            changed += 1
    if not quotes:
        return changed
    for model, fields in (
        (Note, ("text",)),
        (Reply, ("text",)),
        (Escalation, ("reason", "resolution_note")),
        (Commitment, ("description",)),
    ):
        changed += _erase_quotes(
            model.objects.filter(case_id__in=case_ids), fields, quotes
        )
    events = []
    for event in CaseEvent.objects.filter(case_id__in=case_ids).order_by("pk"):
        data = _replace_in_json(event.data, quotes)
        if data != event.data:
            event.data = data
            events.append(event)
    # As in _erase_case_events: the one rewrite of the trail, every event stays.
    CaseEvent.objects.bulk_update(events, ["data"], batch_size=500)
    return changed + len(events)


def _replace_in_json(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        return _replace(value, needles)
    if isinstance(value, list):
        return [_replace_in_json(item, needles) for item in value]
    if isinstance(value, dict):
        return {key: _replace_in_json(item, needles) for key, item in value.items()}
    return value


def _erase_quotes(queryset, fields: tuple[str, ...], quotes: list[str]) -> int:
    """Rows of `queryset` quoting the person: each quote becomes the marker."""
    if not quotes:
        return 0
    condition = Q()
    for name in fields:
        for quote in quotes:
            condition |= Q(**{f"{name}__contains": quote})
    changed = []
    for row in queryset.filter(condition):
        for name in fields:
            setattr(row, name, _replace(getattr(row, name), quotes))
        changed.append(row)
    if changed:
        type(changed[0]).objects.bulk_update(changed, list(fields), batch_size=500)
    return len(changed)


def _erase_reply_references(
    post_ids: list[tuple[str, str]], mentions: list[Mention]
) -> int:
    """Other people's posts answering the person's: the id of the post they
    answer, and a conversation named after it, get the pseudonym the person's
    post got, so the dialogue still hangs together and names no post id."""
    by_kind: dict[str, set[str]] = {}
    for kind, external_id in post_ids:
        if external_id and not external_id.startswith(ERASED_PREFIX):
            by_kind.setdefault(kind, set()).add(external_id)
    roots = {f"{kind}:{pk}" for kind, ids in by_kind.items() for pk in ids}
    if not roots:
        return 0
    condition = Q(conversation_key__in=sorted(roots))
    for kind, ids in by_kind.items():
        condition |= Q(source__kind=kind, in_reply_to__in=sorted(ids))
    now = timezone.now()
    replies = list(
        Mention.objects.filter(condition)
        .exclude(pk__in=[m.pk for m in mentions])
        .select_related("source")
        .order_by("pk")
    )
    for reply in replies:
        kind = reply.source.kind
        if reply.in_reply_to in by_kind.get(kind, ()):
            reply.in_reply_to = erased_reference(kind, reply.in_reply_to)
        if reply.conversation_key in roots:
            reply.conversation_key = erased_reference(
                "conversation", reply.conversation_key
            )
        reply.updated_at = now
    Mention.objects.bulk_update(
        replies, ["in_reply_to", "conversation_key", "updated_at"], batch_size=500
    )
    cases = list(Case.objects.filter(conversation_key__in=sorted(roots)))
    for case in cases:
        case.conversation_key = erased_reference("conversation", case.conversation_key)
        case.save(update_fields=["conversation_key", "updated_at"])
    return len(replies) + len(cases)


def _erase_dry_run_examples(mention_ids: set[int]) -> int:
    """A rule's dry run shows example posts: the person's lose their words."""
    changed = []
    for dry_run in RuleDryRun.objects.exclude(result={}).order_by("pk"):
        examples = dry_run.result.get("examples") or []
        if not any(
            example.get("mention_id") in mention_ids and example.get("text")
            for example in examples
        ):
            continue
        dry_run.result = {
            **dry_run.result,
            "examples": [
                {**example, "text": ""}
                if example.get("mention_id") in mention_ids
                else example
                for example in examples
            ],
        }
        changed.append(dry_run)
    RuleDryRun.objects.bulk_update(changed, ["result"], batch_size=100)
    return len(changed)
