"""The daily summary of the day's contacts, mailed to customer service once."""

from __future__ import annotations

from datetime import date as date_type
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from reporting.models import DailySummary
from reporting.selectors import daily_contacts
from webcare.notices.models import NoticeKind
from webcare.notices.services import notice_queue

# --- the daily summary -------------------------------------------------------------


def _day_bounds(day: date_type) -> tuple[datetime, datetime]:
    zone = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def daily_summary_send(
    *, day: date_type | None = None, now: datetime | None = None
) -> DailySummary:
    """Summarise the day's contacts for customer service, once per day.

    The body is written when the row is created (the day up to that moment); the
    mail is a notice written in the same transaction as the row, so the outbox
    delivers it (retries, the sweep) and a rerun records nothing twice.
    """
    now = now or timezone.now()
    day = day or timezone.localdate(now)
    start, end = _day_bounds(day)
    end = min(end, now)
    recipients = [settings.WEBCARE_DEPARTMENT_EMAILS["customer_service"]]
    if not DailySummary.objects.filter(date=day).exists():
        contacts = daily_contacts(start=start, end=end)
        body = render_to_string(
            "reporting/daily_summary.txt",
            {
                "day": day,
                "start": start,
                "end": end,
                "team_name": settings.WEBCARE_TEAM_NAME,
                **contacts,
            },
        )
        try:
            with transaction.atomic():
                DailySummary.objects.create(
                    date=day, body=body, recipients=recipients, created_at=now
                )
        except IntegrityError:
            pass  # another worker wrote it first; it is the one mailed
    with transaction.atomic():
        # A short lock (no network): of two runs, one writes the notice.
        summary = DailySummary.objects.select_for_update().get(date=day)
        if summary.notice_id is None:
            summary.notice = notice_queue(
                kind=NoticeKind.DAILY_SUMMARY,
                about=f"daily_summary:{day:%Y-%m-%d}",
                subject=f"{settings.WEBCARE_TEAM_NAME}: contacts of {day:%Y-%m-%d}",
                body=summary.body,
                recipients=summary.recipients,
            )
            summary.save(update_fields=["notice"])
    return DailySummary.objects.select_related("notice").get(pk=summary.pk)
