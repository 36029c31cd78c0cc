"""Shared by the survey services: errors, rules' constants, links and timing."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from cases.models import CloseReason
from reporting.models import Survey, SurveyStatus

SUPPORTED_LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
# Cases closed for these reasons were never a customer helped: no survey.
EXCLUDED_CLOSE_REASONS = frozenset(
    {CloseReason.SPAM, CloseReason.ABUSE, CloseReason.NOT_CUSTOMER}
)
# Not answered yet and not closed: may still be answered or cancelled.
OPEN_STATUSES = (
    SurveyStatus.SCHEDULED,
    SurveyStatus.SENT,
    SurveyStatus.REMINDED,
    SurveyStatus.FAILED,
)
UNSENT_STATUSES = (SurveyStatus.SCHEDULED, SurveyStatus.FAILED)
DELIVERED_STATUSES = (SurveyStatus.SENT, SurveyStatus.REMINDED)
MAX_COMMENT_LENGTH = 2000


class SurveyError(Exception):
    """A clear, user-facing message."""


class SurveyClosed(SurveyError):
    """The survey can no longer be answered; `status` says why (expired, cancelled)."""

    def __init__(self, status: str):
        super().__init__(f"This survey is {status}.")
        self.status = status


class SurveyDeliveryError(Exception):
    """Sending failed; `retry_in` is None when it must not be retried."""

    def __init__(
        self, message: str, *, retry_in: timedelta | None, reminder: bool = False
    ):
        super().__init__(message)
        self.retry_in = retry_in
        self.reminder = reminder


class AnswerOutcome(StrEnum):
    ANSWERED = "answered"
    CORRECTED = "corrected"
    UNCHANGED = "unchanged"  # the same answer again (a double submit)
    FINAL = "final"  # answered before and the correction window has passed


# --- audit -----------------------------------------------------------------------


# --- links -------------------------------------------------------------------------


def survey_link(*, survey: Survey) -> str:
    """The customer's personal survey URL: for an email or a private message only."""
    return settings.SITE_URL + reverse(
        "reporting:survey", kwargs={"token": survey.token}
    )


def survey_opt_out_link(*, survey: Survey) -> str:
    return settings.SITE_URL + reverse(
        "reporting:survey_opt_out", kwargs={"token": survey.token}
    )


# --- timing ------------------------------------------------------------------------


def survey_expires_at(*, survey: Survey) -> datetime:
    """When the link stops working, whether or not the expiry task has run yet."""
    if survey.sent_at is not None:
        return survey.sent_at + settings.WEBCARE_SURVEY_EXPIRES_AFTER
    # Never sent (still scheduled, or failed): as long as a sent one would live.
    return (
        survey.created_at
        + settings.WEBCARE_SURVEY_DELAY
        + settings.WEBCARE_SURVEY_EXPIRES_AFTER
    )


def survey_is_expired(*, survey: Survey, now: datetime | None = None) -> bool:
    if survey.status == SurveyStatus.EXPIRED:
        return True
    if survey.status not in OPEN_STATUSES:
        return False
    return (now or timezone.now()) >= survey_expires_at(survey=survey)


def survey_can_correct(*, survey: Survey, now: datetime | None = None) -> bool:
    return (
        survey.status == SurveyStatus.ANSWERED
        and survey.responded_at is not None
        and (now or timezone.now()) - survey.responded_at
        <= settings.WEBCARE_SURVEY_CORRECTION_WINDOW
    )
