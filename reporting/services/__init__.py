"""Surveys and the daily summary: every write with a rule, atomic and audited.

A survey is scheduled when a case is resolved, sent once (by email, or as a personal
link the CRM or an agent sends in a private message), reminded once, and expires.
A detractor's answer opens a follow-up for the team. Events are written on the case.

The code is split by concern: surveys (errors, constants, links, timing), scheduling
(scheduling, cancelling, resend, opt-out), delivery, links (handing out the
personal link), answering and summary. Callers
import from `reporting.services`, which re-exports the public names below.
"""

from reporting.services.answering import survey_answer
from reporting.services.delivery import survey_deliver, survey_expire_due
from reporting.services.links import (
    COPY_PERMISSION,
    SURVEY_LINK_COPIED,
    SurveyLinkClosed,
    SurveyLinkRefused,
    survey_link_copy,
    survey_link_refusal,
    survey_rated_user_ids,
)
from reporting.services.scheduling import (
    survey_cancel,
    survey_cancel_for_case,
    survey_opt_out,
    survey_resend,
    survey_schedule_for_case,
)
from reporting.services.summary import daily_summary_send
from reporting.services.surveys import (
    DEFAULT_LANGUAGE,
    DELIVERED_STATUSES,
    EXCLUDED_CLOSE_REASONS,
    MAX_COMMENT_LENGTH,
    OPEN_STATUSES,
    SUPPORTED_LANGUAGES,
    UNSENT_STATUSES,
    AnswerOutcome,
    SurveyClosed,
    SurveyDeliveryError,
    SurveyError,
    survey_can_correct,
    survey_expires_at,
    survey_is_expired,
    survey_link,
    survey_opt_out_link,
)

__all__ = [
    "COPY_PERMISSION",
    "SURVEY_LINK_COPIED",
    "SurveyLinkClosed",
    "SurveyLinkRefused",
    "survey_link_copy",
    "survey_link_refusal",
    "survey_rated_user_ids",
    "DEFAULT_LANGUAGE",
    "DELIVERED_STATUSES",
    "EXCLUDED_CLOSE_REASONS",
    "MAX_COMMENT_LENGTH",
    "OPEN_STATUSES",
    "SUPPORTED_LANGUAGES",
    "UNSENT_STATUSES",
    "AnswerOutcome",
    "SurveyClosed",
    "SurveyDeliveryError",
    "SurveyError",
    "daily_summary_send",
    "survey_answer",
    "survey_can_correct",
    "survey_cancel",
    "survey_cancel_for_case",
    "survey_deliver",
    "survey_expire_due",
    "survey_expires_at",
    "survey_is_expired",
    "survey_link",
    "survey_opt_out",
    "survey_opt_out_link",
    "survey_resend",
    "survey_schedule_for_case",
]
