"""Handing a survey's personal link to whoever sends it to the customer.

Whoever has the link can answer as the customer, so it is given out only here: to
staff with `reporting.copy_survey_link` (customer service, managers) or to an API
client with the write scope (the CRM), never to a person who was rated (the case's
assignee or anyone who replied on it), and every copy is written on the case's trail
with who and when (never the token).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from cases.events import case_event
from cases.models import Case, EventKind, Reply
from reporting.models import Survey, SurveyStatus
from reporting.services.surveys import SurveyError, survey_is_expired, survey_link
from webcare.errors import ServicePermissionDenied, StateConflict

COPY_PERMISSION = "reporting.copy_survey_link"
SURVEY_LINK_COPIED = EventKind.SURVEY_LINK_COPIED


class SurveyLinkRefused(SurveyError, ServicePermissionDenied):
    """This person may not have the link (403)."""


class SurveyLinkClosed(SurveyError, StateConflict):
    """The link no longer works, so there is nothing to hand out (409)."""


def survey_rated_user_ids(*, survey: Survey) -> set[int]:
    """The staff the customer rates: the case's assignee and whoever replied."""
    rated = set(
        Reply.objects.filter(case_id=survey.case_id)
        .values_list("agent_id", flat=True)
        .distinct()
    )
    assignee_id = (
        Case.objects.filter(pk=survey.case_id)
        .values_list("assignee_id", flat=True)
        .first()
    )
    if assignee_id is not None:
        rated.add(assignee_id)
    return rated


def survey_link_refusal(
    *, survey: Survey, actor: AbstractBaseUser | None
) -> SurveyError | None:
    """Why `actor` may not have the link, or None. `actor=None` is an API client,
    whose scope the API has checked. For showing the button; the copy checks again."""
    if actor is not None:
        if not actor.has_perm(COPY_PERMISSION):
            return SurveyLinkRefused(
                _("Only customer service and managers may copy a personal link.")
            )
        if actor.pk in survey_rated_user_ids(survey=survey):
            return SurveyLinkRefused(
                _(
                    "You helped on this case, so the customer rates you: someone "
                    "else must send the link."
                )
            )
    if survey.status == SurveyStatus.CANCELLED or survey_is_expired(survey=survey):
        return SurveyLinkClosed(
            _("This survey is %(status)s: its link no longer works.")
            % {
                "status": _("cancelled")
                if survey.status == SurveyStatus.CANCELLED
                else _("expired")
            }
        )
    return None


def survey_link_copy(
    *,
    survey: Survey,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    via: str,
) -> str:
    """The personal link, for sending it to the customer in a private message.

    Refused (SurveyLinkRefused) to staff without the permission and to the rated
    agent; refused (SurveyLinkClosed) once the link no longer works. Each copy is a
    case event with the actor and `via` ("admin" or "api"), so the trail shows who
    had the link and when.
    """
    refusal = survey_link_refusal(survey=survey, actor=actor)
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        case_event(
            case=survey.case_id,
            kind=SURVEY_LINK_COPIED,
            actor=actor,
            actor_label=actor_label,
            survey_id=survey.pk,
            channel=survey.channel,
            via=via,
        )
    return survey_link(survey=survey)
