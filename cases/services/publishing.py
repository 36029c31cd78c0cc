"""Publishing replies where the customer wrote, exactly once (issue 12).

Claim, send, record, as the surveys and the notices do; no row is locked while the
platform is asked:

1. **Claim.** A conditional UPDATE moves a due `queued` reply to `publishing` with
   a lease, and commits.
2. **Send.** The publisher's one write (sources/publishers.py), never retried by
   itself.
3. **Record**, again conditionally (only the claim that sent it records):
   - success: `published`, with the platform's id and link;
   - the platform surely did not take it (no connection, 429, 503): `queued`
     again after its Retry-After or a backoff, up to MAX_ATTEMPTS;
   - refused (4xx, bad configuration): `failed`, with the platform's words;
   - no answer after sending (timeout, connection lost, 500, 502, 504): the post
     may exist, so the reply is `unconfirmed` and never simply sent again.

A claim that lapses (the worker died mid-request) is `unconfirmed` too. An
unconfirmed reply is looked for among the team account's recent posts: found, it
is `published`; not found once the platform has had time to show it, sending it
again is safe (`queued`); when the platform cannot be asked, it stays unconfirmed
and, after MAX_CHECKS, says so for the agent to settle.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import events
from cases.models import EventKind, PublishStatus, Reply
from cases.services.common import CaseError, _check_permission
from sources import publishers
from sources.connectors.base import url_origin
from webcare import bus, outbound
from webcare.celery import enqueue_on_commit
from webcare.errors import StateConflict

logger = logging.getLogger(__name__)

# How long a claim holds: longer than one request with its timeouts.
CLAIM_LEASE = timedelta(minutes=2)
# Sends that the platform surely did not take (rate limits, outages) before giving up.
MAX_ATTEMPTS = 5
# Looks among the account's posts before an unconfirmed reply is left to the agent.
MAX_CHECKS = 5
# Before the first look: platforms show a new post in the account's list quickly,
# but not always at once.
FIRST_CHECK_AFTER = timedelta(seconds=20)
NOT_FOUND_AGAIN = 2  # looks that find nothing before sending again is safe
MAX_RETRY_AFTER = 3600.0


def _backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(0, attempt - 1), 1800))


# --- Building the platform's post ---------------------------------------------------


def reply_key(reply: Reply) -> str:
    """Stable per reply: the platform's idempotency key where it has one."""
    return f"webcare-reply-{reply.pk}"


def _post_number(mention) -> int | None:
    raw = mention.raw if isinstance(mention.raw, dict) else {}
    number = raw.get("post_number")
    if isinstance(number, int) and number > 0:
        return number
    match = re.search(r"/(\d+)/?$", mention.url or "")
    return int(match.group(1)) if match else None


def recipient_of(reply: Reply):
    """Who a private reply goes to: the case's customer (never a bystander whose
    post joined the case), else the author of the post answered."""
    if reply.case.customer_id is not None:
        return reply.case.customer
    return reply.in_reply_to.author if reply.in_reply_to is not None else None


def _home_of(author, mention) -> str:
    """Where the author's handle belongs: the instance or forum they were seen on."""
    if mention is not None and mention.author_id == author.pk:
        return mention.url or mention.source.url
    seen = author.mentions.select_related("source").order_by("-published_at").first()
    return (seen.url or seen.source.url) if seen is not None else ""


def post_for(reply: Reply) -> publishers.Post:
    mention = reply.in_reply_to
    recipient, origin = "", ""
    if reply.is_private:
        author = recipient_of(reply)
        if author is not None:
            recipient, origin = author.handle, _home_of(author, mention)
    return publishers.Post(
        text=reply.text,
        private=reply.is_private,
        in_reply_to=mention.external_id if mention is not None else "",
        in_reply_to_url=(mention.url or mention.source.url) if mention else "",
        conversation=(
            mention.conversation_key.split(":", 1)[-1] if mention is not None else ""
        ),
        reply_to_number=_post_number(mention) if mention is not None else None,
        recipient=recipient,
        recipient_origin=origin,
        # Its own per reply: a lost private message is recognised by its title.
        title=_("Your message to %(team)s (case %(case)s, reply %(reply)s)")
        % {
            "team": settings.WEBCARE_TEAM_NAME,
            "case": reply.case_id,
            "reply": reply.pk,
        },
        key=reply_key(reply),
    )


# --- Claim, send, record -------------------------------------------------------------


@dataclass
class PublishOutcome:
    status: str
    detail: str = ""


def _claim(reply_id: int, now) -> bool:
    with transaction.atomic():
        return bool(
            Reply.objects.filter(
                Q(publish_due_at__isnull=True) | Q(publish_due_at__lte=now),
                pk=reply_id,
                publish_status=PublishStatus.QUEUED,
            ).update(
                publish_status=PublishStatus.PUBLISHING,
                publish_due_at=now + CLAIM_LEASE,
                publish_sent_at=now,
                publish_attempts=F("publish_attempts") + 1,
            )
        )


@transaction.atomic
def _move(reply_id: int, expected: dict, *, status: str, **fields) -> None:
    """Set a reply's outcome if it still stands where this step found it; a newer
    step has decided otherwise. The trail and the CRM hear of a change of status."""
    reply = Reply.objects.select_for_update().filter(pk=reply_id, **expected).first()
    if reply is None:
        return
    changed = reply.publish_status != status
    reply.publish_status = status
    for name, value in fields.items():
        setattr(reply, name, value)
    reply.save(update_fields=["publish_status", *fields])
    if changed:
        _tell(reply)


def _record(reply_id: int, sent_at, **outcome) -> None:
    """Only the claim that sent the request records its outcome: a lapsed claim
    already turned the reply unconfirmed, and its checks decide from then on."""
    expected = {"publish_status": PublishStatus.PUBLISHING, "publish_sent_at": sent_at}
    _move(reply_id, expected, **outcome)


def _settle(reply_id: int, **outcome) -> None:
    """The outcome of looking for an unconfirmed reply."""
    _move(reply_id, {"publish_status": PublishStatus.UNCONFIRMED}, **outcome)


# What the trail records, and the CRM is told, of each settled outcome.
OUTCOMES = {
    PublishStatus.PUBLISHED: (EventKind.REPLY_PUBLISHED, bus.ReplyPublished),
    PublishStatus.FAILED: (EventKind.REPLY_PUBLISH_FAILED, bus.ReplyPublishFailed),
    PublishStatus.UNCONFIRMED: (EventKind.REPLY_UNCONFIRMED, None),
}


def _tell(reply: Reply) -> None:
    """The case's trail and the CRM hear of a settled outcome (in this transaction)."""
    if reply.publish_status not in OUTCOMES:
        return
    kind, event = OUTCOMES[reply.publish_status]
    events.case_event(
        case=reply.case_id,
        kind=kind,
        actor_label="system:publish",
        reply_id=reply.pk,
        external_id=reply.external_id,
        external_url=reply.external_url,
        error=reply.publish_error,
    )
    if event is not None:
        bus.publish(event(case_id=reply.case_id, reply_id=reply.pk))


def _words(error: Exception) -> str:
    return outbound.excerpt(str(error), 500)


def reply_publish(reply_id: int) -> PublishOutcome:
    """Publish one queued reply if it is due; anything else is left alone."""
    now = timezone.now()
    if not _claim(reply_id, now):
        return PublishOutcome("not_due")
    reply = Reply.objects.select_related(
        "case__customer", "in_reply_to__author", "in_reply_to__source"
    ).get(pk=reply_id)
    try:
        with publishers.build_client() as client:
            published = publishers.publisher_for(reply.channel, client=client).publish(
                post_for(reply)
            )
    except publishers.NotSent as error:
        if reply.publish_attempts >= MAX_ATTEMPTS:
            _record(
                reply_id,
                now,
                status=PublishStatus.FAILED,
                publish_error=_words(error),
                publish_due_at=None,
            )
            return PublishOutcome(PublishStatus.FAILED, str(error))
        wait = _backoff(reply.publish_attempts)
        if error.retry_after is not None and 0 <= error.retry_after < float("inf"):
            # A platform's own word, but not beyond an hour (or a crash).
            wait = timedelta(seconds=min(error.retry_after, MAX_RETRY_AFTER))
        _record(
            reply_id,
            now,
            status=PublishStatus.QUEUED,
            publish_error=_words(error),
            publish_due_at=timezone.now() + wait,
        )
        return PublishOutcome(PublishStatus.QUEUED, str(error))
    except publishers.OutcomeUnknown as error:
        _record(
            reply_id,
            now,
            status=PublishStatus.UNCONFIRMED,
            publish_error=_words(error),
            publish_due_at=timezone.now() + FIRST_CHECK_AFTER,
            publish_checks=0,
        )
        return PublishOutcome(PublishStatus.UNCONFIRMED, str(error))
    except publishers.ConnectorError as error:
        _record(
            reply_id,
            now,
            status=PublishStatus.FAILED,
            publish_error=_words(error),
            publish_due_at=None,
        )
        return PublishOutcome(PublishStatus.FAILED, str(error))
    _record(
        reply_id,
        now,
        status=PublishStatus.PUBLISHED,
        external_id=published.external_id[:200],
        external_url=_safe_url(published.url),
        publish_error="",
        publish_due_at=None,
        published_at=timezone.now(),
    )
    return PublishOutcome(PublishStatus.PUBLISHED)


def reply_reconcile(reply_id: int) -> PublishOutcome:
    """Look for an unconfirmed reply among the account's recent posts."""
    now = timezone.now()
    with transaction.atomic():
        # Claimed by moving the next check on: two sweeps do not look at once.
        claimed = Reply.objects.filter(
            pk=reply_id,
            publish_status=PublishStatus.UNCONFIRMED,
            publish_due_at__lte=now,
        ).update(
            publish_due_at=now + CLAIM_LEASE, publish_checks=F("publish_checks") + 1
        )
    if not claimed:
        return PublishOutcome("not_due")
    reply = Reply.objects.select_related(
        "case__customer", "in_reply_to__author", "in_reply_to__source"
    ).get(pk=reply_id)
    try:
        with publishers.build_client() as client:
            publisher = publishers.publisher_for(reply.channel, client=client)
            matches = publisher.find(
                post_for(reply), since=reply.publish_sent_at or reply.sent_at
            )
    except publishers.ConnectorError as error:
        return _still_unconfirmed(
            reply,
            _("The platform could not be asked whether it was published: %(error)s")
            % {"error": _words(error)},
        )
    # A post already linked to another reply (the same words twice) is that one's.
    linked = set(
        Reply.objects.filter(
            channel=reply.channel,
            external_id__in=[match.external_id for match in matches],
        )
        .exclude(pk=reply.pk)
        .values_list("external_id", flat=True)
    )
    found = next((m for m in reversed(matches) if m.external_id not in linked), None)
    if found is not None:
        _settle(
            reply.pk,
            status=PublishStatus.PUBLISHED,
            external_id=found.external_id[:200],
            external_url=_safe_url(found.url),
            publish_error="",
            publish_due_at=None,
            published_at=timezone.now(),
        )
        return PublishOutcome(PublishStatus.PUBLISHED)
    if publisher.idempotent and reply.publish_checks >= NOT_FOUND_AGAIN:
        # Looked for, twice, after the platform had time to show it: not there.
        # Only where the platform itself refuses a repeat (its idempotency key): a
        # write without one may still land late, so there the agent decides.
        _settle(
            reply.pk,
            status=PublishStatus.QUEUED,
            publish_error=_("Not found on the platform; sending it again."),
            publish_due_at=timezone.now(),
        )
        return PublishOutcome(PublishStatus.QUEUED)
    return _still_unconfirmed(reply, reply.publish_error)


def _still_unconfirmed(reply: Reply, problem: str) -> PublishOutcome:
    if reply.publish_checks >= MAX_CHECKS:
        _settle(
            reply.pk,
            status=PublishStatus.UNCONFIRMED,
            publish_error=outbound.excerpt(
                _(
                    "Could not be settled: check the platform, then mark it "
                    "published (with its link) or send it again. %(problem)s"
                )
                % {"problem": problem},
                500,
            ),
            publish_due_at=None,
        )
    else:
        _settle(
            reply.pk,
            status=PublishStatus.UNCONFIRMED,
            publish_error=outbound.excerpt(problem, 500),
            publish_due_at=timezone.now() + _backoff(reply.publish_checks),
        )
    return PublishOutcome(PublishStatus.UNCONFIRMED, problem)


# --- The sweep ----------------------------------------------------------------------


@dataclass
class SweepReport:
    lapsed: int = 0
    publish: list[int] | None = None
    check: list[int] | None = None


def replies_publishing_sweep(now=None) -> SweepReport:
    """Beat: claims that lapsed become unconfirmed (their worker died mid-request);
    returns the due replies to publish and to look for, for tasks to take."""
    now = now or timezone.now()
    report = SweepReport()
    with transaction.atomic():
        lapsed = list(
            Reply.objects.select_for_update(skip_locked=True)
            .filter(publish_status=PublishStatus.PUBLISHING, publish_due_at__lt=now)
            .values_list("pk", flat=True)[:500]
        )
        for reply in Reply.objects.filter(pk__in=lapsed):
            reply.publish_status = PublishStatus.UNCONFIRMED
            reply.publish_error = _("The worker stopped while publishing it.")
            reply.publish_due_at = now + FIRST_CHECK_AFTER
            reply.publish_checks = 0
            reply.save(
                update_fields=[
                    "publish_status",
                    "publish_error",
                    "publish_due_at",
                    "publish_checks",
                ]
            )
            _tell(reply)
        report.lapsed = len(lapsed)
    due = Reply.objects.filter(publish_due_at__lte=now).order_by("publish_due_at")
    report.publish = list(
        due.filter(publish_status=PublishStatus.QUEUED).values_list("pk", flat=True)[
            :500
        ]
    )
    report.check = list(
        due.filter(publish_status=PublishStatus.UNCONFIRMED).values_list(
            "pk", flat=True
        )[:500]
    )
    return report


# --- The team's own posts, met by a poll ----------------------------------------------


def reply_seen_on_platform(
    *, kind: str, external_id: str, url: str, in_reply_to: str, text: str
) -> int | None:
    """A poll met one of the team's posts: if it is a reply whose publishing was
    left unconfirmed (the same post answered, the same words), it is published.
    Returns the reply settled, if any."""
    if Reply.objects.filter(channel=kind, external_id=external_id).exists():
        return None  # already linked by its id
    if not in_reply_to:
        return None  # too little to tell which reply it is: the checks decide
    seen = publishers.comparable(text)
    candidates = Reply.objects.filter(
        channel=kind,
        publish_status=PublishStatus.UNCONFIRMED,
        in_reply_to__external_id=in_reply_to,
    )
    for reply in candidates.order_by("publish_sent_at")[:50]:
        ours = publishers.comparable(reply.text)
        # The same words; a direct message may start with one @handle before them.
        rest = seen[: -len(ours)].strip() if ours and seen.endswith(ours) else None
        if rest is None or (rest and not re.fullmatch(r"@\S+", rest)):
            continue
        _settle(
            reply.pk,
            status=PublishStatus.PUBLISHED,
            external_id=external_id[:200],
            external_url=_safe_url(url),
            publish_error="",
            publish_due_at=None,
            published_at=timezone.now(),
        )
        return reply.pk
    return None


def _safe_url(url: str) -> str:
    """A platform's link, kept only when it is http(s): it is shown as a link."""
    url = (url or "").strip()
    return url if len(url) <= 500 and url_origin(url) is not None else ""


# --- What the agent settles -------------------------------------------------------------

SETTLEABLE = (PublishStatus.UNCONFIRMED, PublishStatus.FAILED)


def _lock_settleable(reply: Reply, actor) -> Reply:
    _check_permission(actor, "reply_case")
    reply = Reply.objects.select_for_update().get(pk=reply.pk)
    if reply.publish_status not in SETTLEABLE:
        raise StateConflict(
            _(
                "Only an unconfirmed or failed reply is settled by hand; this one is %(status)s."
            )
            % {"status": reply.get_publish_status_display()}
        )
    return reply


@transaction.atomic
def reply_mark_published(*, reply: Reply, url: str, actor) -> Reply:
    """The agent found the reply on the platform: published, with its link."""
    url = _safe_url(url)
    if not url:
        raise CaseError(
            _("Give the link to the reply on the platform (http or https).")
        )
    reply = _lock_settleable(reply, actor)
    reply.publish_status = PublishStatus.PUBLISHED
    reply.external_url = url
    reply.publish_error = ""
    reply.publish_due_at = None
    reply.published_at = timezone.now()
    reply.save(
        update_fields=[
            "publish_status",
            "external_url",
            "publish_error",
            "publish_due_at",
            "published_at",
        ]
    )
    _tell(reply)
    return reply


@transaction.atomic
def reply_send_again(*, reply: Reply, actor) -> Reply:
    """The agent checked the platform and the reply is not there: send it again."""
    reply = _lock_settleable(reply, actor)
    reply.publish_status = PublishStatus.QUEUED
    reply.publish_error = ""
    reply.publish_due_at = timezone.now()
    reply.publish_attempts = 0
    reply.publish_checks = 0
    reply.save(
        update_fields=[
            "publish_status",
            "publish_error",
            "publish_due_at",
            "publish_attempts",
            "publish_checks",
        ]
    )
    enqueue_on_commit("cases.tasks.publish_reply", reply.pk)
    return reply
