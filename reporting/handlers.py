"""How reporting follows the case work: the survey of a case is scheduled when the
case is resolved and withdrawn when it is reopened, closed as not helped, or merged.

Subscribed in `ReportingConfig.ready()`; each runs inside the case service's
transaction, with the case already locked (see webcare.bus).
"""

from django.contrib.auth import get_user_model

from cases.models import Case
from reporting.services import (
    EXCLUDED_CLOSE_REASONS,
    survey_cancel_for_case,
    survey_schedule_for_case,
)
from webcare.bus import (
    CaseChanged,
    CaseClosed,
    CaseMerged,
    CaseReopened,
    CaseResolved,
)


def _actor(event: CaseChanged):
    if event.actor_id is None:
        return None
    return get_user_model().objects.filter(pk=event.actor_id).first()


def schedule_survey(event: CaseResolved) -> None:
    """The survey service applies its exclusions (opt-out, quarantine, ...)."""
    survey_schedule_for_case(
        case=Case.objects.get(pk=event.case_id),
        actor=_actor(event),
        actor_label=event.actor_label,
    )


def cancel_survey_on_reopen(event: CaseReopened) -> None:
    survey_cancel_for_case(
        case=Case.objects.get(pk=event.case_id),
        reason="reopened",
        actor=_actor(event),
        actor_label=event.actor_label,
    )


def cancel_survey_on_close(event: CaseClosed) -> None:
    """Spam, abuse and non-customers get no survey (and lose one already sent)."""
    if event.reason in EXCLUDED_CLOSE_REASONS:
        survey_cancel_for_case(
            case=Case.objects.get(pk=event.case_id),
            reason=event.reason,
            actor=_actor(event),
            actor_label=event.actor_label,
        )


def cancel_survey_on_merge(event: CaseMerged) -> None:
    """The duplicate's customer is surveyed about the case it was merged into."""
    survey_cancel_for_case(
        case=Case.objects.get(pk=event.case_id),
        reason="merged",
        actor=_actor(event),
        actor_label=event.actor_label,
    )
