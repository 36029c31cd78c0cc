"""The outbox of staff notices: recorded with the change, sent at least once.

A service that claims something worth telling (a breach flag, a reminder, a source
going unhealthy) calls `notice_queue(...)` inside the transaction of that claim: the
claim and its notice commit or roll back together, so a claimed breach always has
its notice. Sending happens after commit, in `send_notice` (queued on commit) or in
the beat sweep `send_due_notices` (for a lost message, a dead worker, a retry):

1. claim: a conditional UPDATE gives the notice a lease (next_attempt_at in the
   future) and counts the attempt; it commits at once, so no row lock is held
2. send: SMTP, with no transaction open
3. record: sent, or the error and the next attempt with exponential backoff

A worker that dies between 1 and 3 leaves the lease to expire; the sweep then sends
again. So a notice may in rare cases go out twice, never zero times.
"""

from __future__ import annotations

import logging
import re
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from webcare.celery import enqueue_on_commit
from webcare.notices.models import Notice, NoticeStatus

logger = logging.getLogger(__name__)

SEND_TASK = "webcare.notices.tasks.send_notice"
# 30 s, 1 min, 2 min ... then hourly: about seven hours of retries, then failed.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 12
# Longer than the send task's hard time limit, so a live attempt is never overtaken.
CLAIM_LEASE = timedelta(seconds=120)
# A new notice is left this long to the task queued on its commit before the sweep
# takes it (its message may have been lost: a broker hiccup at enqueue).
NEW_NOTICE_GRACE = timedelta(seconds=60)
SWEEP_BATCH = 100
# One sweep stops claiming after this long, well inside its task's time limit.
SWEEP_BUDGET_SECONDS = 120
ERROR_CHARS = 300
_NOT_TEXT = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str, limit: int) -> str:
    """Text safe for a mail header: no line breaks (header injection), bounded."""
    flat = " ".join(_NOT_TEXT.sub(" ", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: doubling from the base, capped."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def notice_queue(
    *,
    kind: str,
    subject: str,
    body: str,
    recipients: list[str],
    about: str = "",
) -> Notice:
    """Record a notice; call it inside the transaction of the claim it reports.

    It is sent after commit (or by the sweep). A notice without any recipient is
    recorded as failed, so staff see in the admin what nobody was told.
    """
    addresses = list(dict.fromkeys(a.strip() for a in recipients if a and a.strip()))
    notice = Notice(
        kind=kind,
        about=one_line(about, 100),
        recipients=addresses,
        subject=one_line(subject, 200),
        body=body,
        created_at=timezone.now(),
    )
    if not addresses:
        notice.status = NoticeStatus.FAILED
        notice.last_error = _("No recipient address.")
        logger.warning("Notice %r has no recipient; recorded as failed", subject)
    notice.save()
    if addresses:
        enqueue_on_commit(SEND_TASK, notice.pk)
    return notice


def notice_claim(*, notice_id: int, now: datetime | None = None) -> Notice | None:
    """Take a pending, due notice for one attempt (a lease), or None if another
    worker has it, it is not due, or it is done. Runs in its own short statement."""
    now = now or timezone.now()
    claimed = (
        Notice.objects.filter(pk=notice_id, status=NoticeStatus.PENDING)
        # A little early is fine: a countdown may fire just before it is due.
        .filter(
            Q(next_attempt_at__isnull=True)
            | Q(next_attempt_at__lte=now + timedelta(seconds=5))
        )
        .update(next_attempt_at=now + CLAIM_LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return Notice.objects.get(pk=notice_id)


class _Outcome:
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


def _error_text(exc: BaseException) -> str:
    # The class and the server's reply: enough to see why, and short. Never the
    # message or the settings (a password is not part of an SMTP error).
    return one_line(f"{type(exc).__name__}: {exc}", ERROR_CHARS)


def _is_permanent(exc: BaseException) -> bool:
    """The server refused for good (5xx for every recipient, or the sender)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return isinstance(exc, ValueError)  # a header Django refuses to send


def server_unavailable(exc: BaseException) -> bool:
    """The mail server could not be reached or dropped the connection."""
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def notice_attempt(*, notice: Notice, now: datetime | None = None) -> Exception | None:
    """Send a claimed notice once and record the outcome; None when sent.

    No transaction is open while the mail server answers.
    """
    error: Exception | None = None
    try:
        EmailMessage(
            subject=notice.subject,
            body=notice.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=notice.recipients,
        ).send(fail_silently=False)
    except Exception as exc:  # every failure is recorded, for staff to see
        error = exc
    now = now or timezone.now()
    mine = Notice.objects.filter(pk=notice.pk, status=NoticeStatus.PENDING)
    if error is None:
        # Sent is sent, even if this attempt's lease ran out meanwhile.
        mine.update(
            status=NoticeStatus.SENT, sent_at=now, next_attempt_at=None, last_error=""
        )
    else:
        fields = {"last_error": _error_text(error)}
        if _is_permanent(error) or notice.attempts >= MAX_ATTEMPTS:
            fields.update(status=NoticeStatus.FAILED, next_attempt_at=None)
        else:
            fields["next_attempt_at"] = now + backoff(notice.attempts)
        # Only while the lease is still this attempt's: a newer attempt records its own.
        mine.filter(attempts=notice.attempts).update(**fields)
        logger.warning(
            "Notice %s (%s) not sent, attempt %s: %s",
            notice.pk,
            notice.kind,
            notice.attempts,
            fields["last_error"],
        )
    notice.refresh_from_db()
    return error


def notice_send(*, notice_id: int, now: datetime | None = None) -> Notice | None:
    """Claim, send, record; None when there was nothing to claim."""
    notice = notice_claim(notice_id=notice_id, now=now)
    if notice is None:
        return None
    notice_attempt(notice=notice, now=now)
    return notice


def notices_due(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> list[int]:
    """Pending notices that are due: retries, expired leases, lost first messages."""
    now = now or timezone.now()
    return list(
        Notice.objects.filter(status=NoticeStatus.PENDING)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(next_attempt_at__isnull=True, created_at__lte=now - NEW_NOTICE_GRACE)
        )
        .order_by(F("next_attempt_at").asc(nulls_first=True), "created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@dataclass
class SweepReport:
    sent: list[int] = field(default_factory=list)
    not_sent: list[int] = field(default_factory=list)


def notices_send_due(*, now: datetime | None = None) -> SweepReport:
    """Send what is due, one claim at a time, so two sweeps at once (or a sweep and
    a task) send each notice once. Stops when the mail server is down: the rest
    keep their attempts for the next sweep."""
    report = SweepReport()
    started = time.monotonic()
    for notice_id in notices_due(now=now):
        if time.monotonic() - started > SWEEP_BUDGET_SECONDS:
            break
        notice = notice_claim(notice_id=notice_id, now=now)
        if notice is None:
            continue
        error = notice_attempt(notice=notice, now=now)
        if error is None:
            report.sent.append(notice_id)
            continue
        report.not_sent.append(notice_id)
        if server_unavailable(error):
            break
    return report


def notice_resend(*, notice: Notice) -> bool:
    """Staff's "send again now" for a failed notice: one more attempt, queued after
    commit (and taken by the sweep if that message is lost). False if not failed."""
    if not notice.recipients:
        return False
    again = Notice.objects.filter(pk=notice.pk, status=NoticeStatus.FAILED).update(
        status=NoticeStatus.PENDING, next_attempt_at=None
    )
    if again:
        enqueue_on_commit(SEND_TASK, notice.pk)
    return bool(again)
