"""The CRM's webhook about surveys: an answer becomes a durable delivery.

Subscribed in `ReportingConfig.ready()`; runs in the answering transaction.
"""

from cases.api.webhooks import case_payload
from reporting.models import Survey
from webcare.api.models import WebhookEvent
from webcare.api.webhooks import webhook_event
from webcare.bus import SurveyAnswered


def survey_payload(survey: Survey) -> dict:
    # Never the token: the payload is not a place for a customer's personal link.
    return {
        "id": survey.pk,
        "case": survey.case_id,
        "status": survey.status,
        "score": survey.score,
        "band": survey.band,
        "comment": survey.comment,
        "responded_at": survey.responded_at,
    }


def survey_answered(event: SurveyAnswered) -> None:
    def data() -> dict:
        survey = Survey.objects.select_related("case").get(pk=event.survey_id)
        return {"case": case_payload(survey.case), "survey": survey_payload(survey)}

    webhook_event(event=WebhookEvent.SURVEY_ANSWERED, data=data)
