from datetime import timedelta

from django.utils import timezone

from cases.models import CaseStatus
from reporting.models import Survey, SurveyStatus
from tests.factories import AuthorFactory, CaseFactory


def resolved_case(*, customer=None, resolved_at=None, **fields):
    """A case as case_resolve leaves it, for a customer with an email address."""
    if customer is None:
        customer = AuthorFactory(email="klant@example.com", language="nl")
    return CaseFactory(
        customer=customer,
        status=CaseStatus.RESOLVED,
        resolved_at=resolved_at or timezone.now(),
        **fields,
    )


def sent_survey(*, sent_ago=timedelta(hours=1), **fields) -> Survey:
    """A survey delivered `sent_ago`, waiting for the answer."""
    from reporting.services import survey_schedule_for_case

    case = fields.pop("case", None) or resolved_case(
        resolved_at=timezone.now() - sent_ago - timedelta(days=1)
    )
    survey = survey_schedule_for_case(case=case)
    assert survey is not None
    sent_at = timezone.now() - sent_ago
    values = {
        "status": SurveyStatus.SENT,
        "sent_at": sent_at,
        "created_at": sent_at - timedelta(days=1),
        **fields,
    }
    Survey.objects.filter(pk=survey.pk).update(**values)
    survey.refresh_from_db()
    return survey
