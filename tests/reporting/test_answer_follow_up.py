"""What a detractor's answer sets off, and what a correction undoes; the CRM's
`survey.answered` webhook."""

import json

import pytest

from cases.models import (
    Case,
    CaseEvent,
    CaseStatus,
    CloseReason,
    Commitment,
    CommitmentStatus,
    EventKind,
    Note,
)
from cases.services import case_add_note
from reporting.services import survey_answer
from tests.factories import AgentFactory
from webcare.api.auth import api_client_create
from webcare.api.models import Webhook, WebhookDelivery

from .helpers import resolved_case, sent_survey

pytestmark = pytest.mark.django_db


def follow_up_of(survey) -> Case:
    event = (
        CaseEvent.objects.filter(case=survey.case_id, kind=EventKind.FOLLOW_UP)
        .order_by("created_at", "id")
        .first()
    )
    return Case.objects.get(pk=event.data["follow_up_case_id"])


def test_correcting_a_detractor_to_a_promoter_closes_the_untouched_follow_up():
    agent = AgentFactory(user__first_name="Anna").user
    survey = sent_survey(case=resolved_case(assignee=agent))
    assert survey_answer(survey=survey, score=3) == "answered"
    follow_up = follow_up_of(survey)
    assert follow_up.status in (CaseStatus.NEW, CaseStatus.OPEN)

    assert survey_answer(survey=survey, score=9) == "corrected"

    follow_up.refresh_from_db()
    assert follow_up.status == CaseStatus.CLOSED
    assert follow_up.close_reason == CloseReason.NO_ACTION
    # Its promise to call the customer is withdrawn, not left overdue.
    assert not Commitment.objects.filter(
        case=follow_up, status=CommitmentStatus.OPEN
    ).exists()
    # Why, in the follow-up's own trail and on the helped case.
    assert "9/10" in Note.objects.get(case=follow_up).text
    outcome = CaseEvent.objects.filter(
        case=survey.case_id, kind=EventKind.FOLLOW_UP
    ).latest("id")
    assert outcome.data == {
        "survey_id": survey.pk,
        "score": 9,
        "follow_up_case_id": follow_up.pk,
        "outcome": "closed",
    }
    # The helped case is untouched.
    assert Case.objects.get(pk=survey.case_id).status == CaseStatus.RESOLVED


def test_a_follow_up_an_agent_already_worked_on_stays_open_with_a_note():
    agent = AgentFactory(user__first_name="Anna").user
    survey = sent_survey(case=resolved_case(assignee=agent))
    survey_answer(survey=survey, score=2)
    follow_up = follow_up_of(survey)
    case_add_note(case=follow_up, author=agent, text="Called, no answer yet.")

    assert survey_answer(survey=survey, score=10) == "corrected"

    follow_up.refresh_from_db()
    assert follow_up.status not in (CaseStatus.CLOSED, CaseStatus.RESOLVED)
    assert Commitment.objects.filter(
        case=follow_up, status=CommitmentStatus.OPEN
    ).exists()
    notes = list(Note.objects.filter(case=follow_up).order_by("id"))
    assert len(notes) == 2 and "10/10" in notes[1].text
    outcome = CaseEvent.objects.filter(
        case=survey.case_id, kind=EventKind.FOLLOW_UP
    ).latest("id")
    assert outcome.data["outcome"] == "kept"


def test_a_correction_between_non_detractors_touches_no_follow_up():
    survey = sent_survey()
    survey_answer(survey=survey, score=7)
    assert survey_answer(survey=survey, score=10) == "corrected"
    assert not CaseEvent.objects.filter(kind=EventKind.FOLLOW_UP).exists()
    assert Case.objects.count() == 1


def test_a_detractor_again_after_a_correction_gets_a_new_follow_up():
    survey = sent_survey()
    survey_answer(survey=survey, score=1)
    first = follow_up_of(survey)
    survey_answer(survey=survey, score=9)
    survey_answer(survey=survey, score=4)
    first.refresh_from_db()
    assert first.status == CaseStatus.CLOSED
    open_follow_ups = Case.objects.exclude(pk=survey.case_id).exclude(
        status=CaseStatus.CLOSED
    )
    assert open_follow_ups.count() == 1


# --- the survey.answered webhook ---------------------------------------------------


def test_answering_sends_one_survey_answered_webhook_without_token_or_link(
    settings, django_capture_on_commit_callbacks
):
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = True
    client, _ = api_client_create(name="crm", scopes=["read"])
    wanted = Webhook.objects.create(
        client=client,
        url="https://crm.example.com/hooks",
        events=["survey.answered"],
        secret="whsec_test",
    )
    Webhook.objects.create(
        client=client,
        url="https://crm.example.com/other",
        events=["case.opened"],
        secret="whsec_other",
    )
    survey = sent_survey()

    # Recorded in the answering transaction; nothing is posted in this test.
    with django_capture_on_commit_callbacks(execute=False):
        assert survey_answer(survey=survey, score=3, comment="Te traag") == "answered"
        # A double submit and a correction publish nothing more.
        survey_answer(survey=survey, score=3, comment="Te traag")
        survey_answer(survey=survey, score=4, comment="Te traag")

    delivery = WebhookDelivery.objects.get(event="survey.answered")
    assert delivery.webhook == wanted
    assert WebhookDelivery.objects.filter(event="survey.answered").count() == 1
    payload = delivery.payload
    assert payload["survey"]["id"] == survey.pk
    assert payload["survey"]["score"] == 3
    assert payload["survey"]["band"] == "detractor"
    assert payload["case"]["id"] == survey.case_id
    text = json.dumps(payload)
    assert survey.token not in text
    assert "/s/" not in text and "token" not in text
