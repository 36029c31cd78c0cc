"""Recording the customer's answer; a detractor's answer opens a follow-up case."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from cases.events import case_event
from cases.models import ACTIVE_STATUSES, Case, CaseEvent, CloseReason, EventKind
from cases.services import (
    CaseError,
    case_add_note,
    case_assign,
    case_close,
    case_open,
    case_update,
    commitment_cancel,
    commitment_make,
)
from reporting.models import Survey, SurveyStatus
from reporting.nps import DETRACTOR, band
from reporting.services.surveys import (
    MAX_COMMENT_LENGTH,
    OPEN_STATUSES,
    AnswerOutcome,
    SurveyClosed,
    SurveyError,
    survey_can_correct,
    survey_is_expired,
)
from sources.models import Priority
from webcare import bus

# --- answering ---------------------------------------------------------------------


def _follow_up_owner(case: Case):
    if case.assignee_id is not None:
        return case.assignee
    last_reply = (
        case.replies.order_by("-sent_at", "-id").select_related("agent").first()
    )
    return last_reply.agent if last_reply else None


def _open_follow_up(*, survey: Survey, now: datetime) -> None:
    """A detractor: a new case in the team's queue, through the case services so it
    gets its due times and audit trail; promised to whoever helped, if anyone did.

    A new case, not a reopened one: the helped case stays resolved in the figures.
    """
    case = survey.case
    label = "system:survey"
    follow_up = case_open(
        subject=f"NPS follow-up ({survey.score}/10): {case.subject}"[:300],
        priority=Priority.HIGH,
        category=case.category,
        channel=case.channel,
        team=case.team,
        customer=case.customer,
        crm_customer_id=case.crm_customer_id,
        actor_label=label,
    )
    topics = list(case.topics.all())
    if topics:
        case_update(case=follow_up, topics=topics, actor_label=label)
    owner = _follow_up_owner(case)
    commitment = None
    if owner is not None:
        try:
            with transaction.atomic():
                case_assign(case=follow_up, assignee=owner, actor_label=label)
                commitment = commitment_make(
                    case=follow_up,
                    owner=owner,
                    description=(
                        f"NPS follow-up: the customer scored {survey.score}/10"
                        + (" with a comment" if survey.comment else "")
                        + ". Contact them privately and learn what went wrong."
                    ),
                    due_at=now + settings.WEBCARE_SURVEY_FOLLOW_UP_WITHIN,
                    actor_label=label,
                )
        except CaseError:
            # The agent who helped has left or may no longer take cases: the
            # follow-up stays in the team queue; the customer's answer still counts.
            commitment = None
    case_event(
        case=case,
        kind=EventKind.FOLLOW_UP,
        actor_label=label,
        survey_id=survey.pk,
        score=survey.score,
        follow_up_case_id=follow_up.pk,
        commitment_id=commitment.pk if commitment else None,
    )


def _worked_on(case: Case) -> bool:
    """Has anyone but the system touched the case (a reply, a note, any action)?"""
    if case.replies.exists() or case.notes.exists():
        return True
    return case.events.filter(
        Q(actor__isnull=False)
        | (~Q(actor_label="") & ~Q(actor_label__startswith="system:"))
    ).exists()


def _withdraw_follow_up(*, survey: Survey, old_score: int) -> None:
    """The customer corrected a detractor's score to a passive's or promoter's.

    The follow-up opened automatically for the detractor is closed (no action
    needed), with its commitment cancelled and a note saying why, as long as nobody
    worked on it yet. Once an agent did (a reply, a note, any action by a person) it
    is theirs to finish: it stays open and gets the note. Either way the helped case
    records the outcome (a follow_up event with `outcome` closed or kept).
    """
    label = "system:survey"
    opened = (
        CaseEvent.objects.filter(
            case_id=survey.case_id, kind=EventKind.FOLLOW_UP, data__survey_id=survey.pk
        )
        .order_by("-id")
        .first()
    )
    if opened is None or "outcome" in opened.data:
        return  # no follow-up, or the latest one was dealt with already
    follow_up = Case.objects.filter(pk=opened.data.get("follow_up_case_id")).first()
    if follow_up is None or follow_up.status not in ACTIVE_STATUSES:
        return
    # Staff read the note: in the site's language, not the customer's.
    with translation.override(settings.LANGUAGE_CODE):
        reason = gettext(
            "The customer corrected their score from %(old)s/10 to %(new)s/10 "
            "within the correction window."
        ) % {"old": old_score, "new": survey.score}
        closed_note = gettext("This automatic follow-up is no longer needed.")
        kept_note = gettext(
            "An agent already worked on this follow-up, so it stays open."
        )
    outcome = "kept"
    if not _worked_on(follow_up):
        try:
            with transaction.atomic():
                for commitment in follow_up.commitments.open():
                    commitment_cancel(commitment=commitment, actor_label=label)
                case_add_note(
                    case=follow_up,
                    author=None,
                    text=f"{reason} {closed_note}",
                    actor_label=label,
                )
                case_close(
                    case=follow_up, reason=CloseReason.NO_ACTION, actor_label=label
                )
            outcome = "closed"
        except CaseError:
            # Open escalations or the like: someone must look, so keep it.
            outcome = "kept"
    if outcome == "kept":
        case_add_note(
            case=follow_up, author=None, text=f"{reason} {kept_note}", actor_label=label
        )
    case_event(
        case=survey.case_id,
        kind=EventKind.FOLLOW_UP,
        actor_label=label,
        survey_id=survey.pk,
        score=survey.score,
        follow_up_case_id=follow_up.pk,
        outcome=outcome,
    )


def survey_answer(
    *,
    survey: Survey,
    score: int,
    comment: str = "",
    now: datetime | None = None,
) -> str:
    """Record the customer's answer once; a change within the window is a correction.

    Returns an AnswerOutcome value; raises SurveyClosed when the survey is expired or
    cancelled. The comment is stored exactly as given (it is escaped when shown).
    """
    band(score)  # raises ValueError for anything but a whole number 0-10
    if len(comment) > MAX_COMMENT_LENGTH:
        raise SurveyError(f"A comment has at most {MAX_COMMENT_LENGTH} characters.")
    now = now or timezone.now()
    with transaction.atomic():
        # The case before its survey: the one lock order (the events need the case).
        Case.objects.select_for_update().filter(pk=survey.case_id).first()
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.status == SurveyStatus.ANSWERED:
            if not survey_can_correct(survey=survey, now=now):
                return AnswerOutcome.FINAL
            if survey.score == score and survey.comment == comment:
                return AnswerOutcome.UNCHANGED
            old_score, old_comment = survey.score, survey.comment
            survey.score, survey.comment, survey.corrected_at = score, comment, now
            survey.save(update_fields=["score", "comment", "corrected_at"])
            case_event(
                case=survey.case_id,
                kind=EventKind.SURVEY_CORRECTED,
                actor_label="customer",
                survey_id=survey.pk,
                old_score=old_score,
                score=score,
                old_comment=old_comment,
                comment=comment,
            )
            if band(score) == DETRACTOR and band(old_score) != DETRACTOR:
                _open_follow_up(survey=survey, now=now)
            elif band(old_score) == DETRACTOR and band(score) != DETRACTOR:
                _withdraw_follow_up(survey=survey, old_score=old_score)
            return AnswerOutcome.CORRECTED
        if survey.status not in OPEN_STATUSES or survey_is_expired(
            survey=survey, now=now
        ):
            raise SurveyClosed(
                SurveyStatus.EXPIRED
                if survey.status in OPEN_STATUSES
                else survey.status
            )
        survey.status = SurveyStatus.ANSWERED
        survey.score, survey.comment, survey.responded_at = score, comment, now
        survey.save(update_fields=["status", "score", "comment", "responded_at"])
        case_event(
            case=survey.case_id,
            kind=EventKind.SURVEY_ANSWERED,
            actor_label="customer",
            survey_id=survey.pk,
            score=score,
            band=band(score),
            comment=comment,
        )
        if band(score) == DETRACTOR:
            _open_follow_up(survey=survey, now=now)
        bus.publish(bus.SurveyAnswered(survey_id=survey.pk))
    return AnswerOutcome.ANSWERED
