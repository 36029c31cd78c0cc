"""The daily summary of the day's contacts, mailed to customer service once."""

from __future__ import annotations

import smtplib
from datetime import date as date_type
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from reporting.models import DailySummary
from reporting.selectors import daily_contacts
from reporting.services.surveys import SurveyDeliveryError

# --- the daily summary -------------------------------------------------------------


def _day_bounds(day: date_type) -> tuple[datetime, datetime]:
    zone = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def daily_summary_send(
    *, day: date_type | None = None, now: datetime | None = None
) -> DailySummary:
    """Summarise the day's contacts and mail them to customer service, once per day.

    The body is written when the row is created (the day up to that moment); a rerun
    finds the row and sends only if it was not sent yet.
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
            pass  # another worker wrote it first; send theirs
    failure: Exception | None = None
    with transaction.atomic():
        summary = (
            DailySummary.objects.select_for_update(skip_locked=True)
            .filter(date=day)
            .first()
        )
        if summary is None or summary.sent_at is not None:
            return summary or DailySummary.objects.get(date=day)
        try:
            EmailMultiAlternatives(
                subject=f"{settings.WEBCARE_TEAM_NAME}: contacts of {day:%Y-%m-%d}",
                body=summary.body,
                to=summary.recipients,
            ).send(fail_silently=False)
        except (smtplib.SMTPException, OSError) as error:
            failure = error
        else:
            summary.sent_at = timezone.now()
            summary.save(update_fields=["sent_at"])
    if failure is not None:
        raise SurveyDeliveryError(
            f"daily summary: {type(failure).__name__}: {failure}",
            retry_in=timedelta(minutes=5),
        )
    return summary
