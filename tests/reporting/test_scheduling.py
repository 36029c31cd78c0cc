from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import CaseEvent, CaseStatus, CloseReason, EventKind
from reporting.models import Survey, SurveyChannel, SurveyStatus
from reporting.services import (
    survey_cancel_for_case,
    survey_link,
    survey_schedule_for_case,
)
from tests.factories import (
    AuthorFactory,
    MentionFactory,
    ReplyFactory,
    SurveyFactory,
    UserFactory,
)

from .helpers import resolved_case

pytestmark = pytest.mark.django_db


def exclusion_reasons(case):
    return [
        event.data["reason"]
        for event in CaseEvent.objects.filter(
            case=case, kind=EventKind.SURVEY_CANCELLED
        )
    ]


def test_it_schedules_one_survey_after_the_delay(settings):
    settings.WEBCARE_SURVEY_DELAY = timedelta(hours=6)
    resolved_at = timezone.now() - timedelta(minutes=5)
    agent = UserFactory(first_name="Anna")
    case = resolved_case(
        resolved_at=resolved_at, subject="Pinpas kwijt", assignee=agent
    )

    survey = survey_schedule_for_case(case=case, actor_label="system:test")

    assert survey.status == SurveyStatus.SCHEDULED
    assert survey.scheduled_for == resolved_at + timedelta(hours=6)
    assert survey.recipient == case.customer
    assert survey.email == "klant@example.com"
    assert survey.channel == SurveyChannel.EMAIL
    assert survey.language == "nl"
    assert survey.agent_first_name == "Anna"
    assert survey.subject == "Pinpas kwijt"
    event = CaseEvent.objects.get(case=case, kind=EventKind.SURVEY_SCHEDULED)
    assert event.data["survey_id"] == survey.pk
    assert event.actor_label == "system:test"


def test_it_uses_the_default_delay_of_one_day():
    case = resolved_case()
    survey = survey_schedule_for_case(case=case)
    assert survey.scheduled_for == case.resolved_at + timedelta(days=1)


def test_the_signature_the_customer_saw_is_the_agent_name():
    case = resolved_case(assignee=UserFactory(first_name="Bram"))
    ReplyFactory(case=case, agent=UserFactory(first_name="Anna"), signature="Anna")
    survey = survey_schedule_for_case(case=case)
    assert survey.agent_first_name == "Anna"


def test_a_customer_without_email_gets_a_personal_link():
    case = resolved_case(customer=AuthorFactory(email="", language="en"))
    survey = survey_schedule_for_case(case=case)
    assert survey.channel == SurveyChannel.LINK
    assert survey.email == ""
    assert survey.language == "en"
    link = survey_link(survey=survey)
    assert link == f"https://webcare.example.com/s/{survey.token}/"
    # The link is the token and nothing else: no case number, no name.
    assert len(survey.token) >= 43  # 32 random bytes, base64: 256 bits


def test_the_language_falls_back_to_what_the_customer_wrote():
    customer = AuthorFactory(email="x@example.com", language="")
    case = resolved_case(customer=customer)
    MentionFactory(case=case, author=customer, language="en")
    assert survey_schedule_for_case(case=case).language == "en"


def test_an_unsupported_language_falls_back_to_dutch():
    case = resolved_case(customer=AuthorFactory(email="x@example.com", language="de"))
    assert survey_schedule_for_case(case=case).language == "nl"


def test_it_excludes_a_customer_who_opted_out():
    customer = AuthorFactory(email="a@example.com", survey_opt_out_at=timezone.now())
    case = resolved_case(customer=customer)
    assert survey_schedule_for_case(case=case) is None
    assert not Survey.objects.exists()
    assert exclusion_reasons(case) == ["opted_out"]


def test_it_excludes_a_blocked_author():
    case = resolved_case(customer=AuthorFactory(email="a@example.com", is_blocked=True))
    assert survey_schedule_for_case(case=case) is None
    assert not Survey.objects.exists()
    assert exclusion_reasons(case) == ["blocked"]


@pytest.mark.parametrize(
    "reason", [CloseReason.SPAM, CloseReason.ABUSE, CloseReason.NOT_CUSTOMER]
)
def test_it_excludes_cases_closed_as_not_a_real_customer(reason):
    case = resolved_case(close_reason=reason)
    assert survey_schedule_for_case(case=case) is None
    assert not Survey.objects.exists()
    assert exclusion_reasons(case) == [f"closed_as_{reason}"]


def test_it_excludes_a_case_that_is_not_resolved():
    case = resolved_case()
    case.status = CaseStatus.OPEN
    case.save()
    assert survey_schedule_for_case(case=case) is None
    assert exclusion_reasons(case) == ["not_resolved"]


def test_it_excludes_a_case_without_customer():
    case = resolved_case()
    case.customer = None
    case.save()
    assert survey_schedule_for_case(case=case) is None
    assert exclusion_reasons(case) == ["no_customer"]


def test_it_excludes_a_customer_surveyed_within_the_quarantine(settings):
    settings.WEBCARE_SURVEY_QUARANTINE = timedelta(days=30)
    customer = AuthorFactory(email="a@example.com")
    earlier = SurveyFactory(
        case=resolved_case(customer=customer),
        status=SurveyStatus.SENT,
        sent_at=timezone.now() - timedelta(days=29),
    )
    case = resolved_case(customer=customer)
    assert survey_schedule_for_case(case=case) is None
    assert list(Survey.objects.all()) == [earlier]
    assert exclusion_reasons(case) == ["quarantine"]


def test_the_quarantine_ends(settings):
    settings.WEBCARE_SURVEY_QUARANTINE = timedelta(days=30)
    customer = AuthorFactory(email="a@example.com")
    SurveyFactory(
        case=resolved_case(customer=customer),
        status=SurveyStatus.SENT,
        sent_at=timezone.now() - timedelta(days=31),
    )
    assert survey_schedule_for_case(case=resolved_case(customer=customer)) is not None


def test_a_pending_survey_of_another_case_counts_for_the_quarantine():
    customer = AuthorFactory(email="a@example.com")
    first = survey_schedule_for_case(case=resolved_case(customer=customer))
    second_case = resolved_case(customer=customer)
    assert first is not None
    assert survey_schedule_for_case(case=second_case) is None
    assert exclusion_reasons(second_case) == ["quarantine"]


def test_the_quarantine_follows_the_customer_across_accounts():
    # The same person on another platform, known by the same email address.
    SurveyFactory(
        case=resolved_case(customer=AuthorFactory(email="Klant@Example.com")),
        email="Klant@Example.com",
        status=SurveyStatus.ANSWERED,
        score=9,
        sent_at=timezone.now() - timedelta(days=3),
        responded_at=timezone.now() - timedelta(days=2),
    )
    other_account = AuthorFactory(platform="mastodon", email="klant@example.com")
    case = resolved_case(customer=other_account)
    assert survey_schedule_for_case(case=case) is None
    assert exclusion_reasons(case) == ["quarantine"]


def test_a_cancelled_survey_does_not_count_for_the_quarantine():
    customer = AuthorFactory(email="a@example.com")
    SurveyFactory(
        case=resolved_case(customer=customer),
        status=SurveyStatus.CANCELLED,
        cancelled_at=timezone.now(),
    )
    assert survey_schedule_for_case(case=resolved_case(customer=customer)) is not None


def test_one_case_gets_at_most_one_survey_ever():
    case = resolved_case()
    first = survey_schedule_for_case(case=case)
    survey_cancel_for_case(case=case, reason="reopened")
    # Resolved again after the reopen: still no second survey.
    assert survey_schedule_for_case(case=case) is None
    assert list(Survey.objects.all()) == [first]
    assert "already_surveyed" in exclusion_reasons(case)


def test_reopening_before_sending_cancels_the_survey():
    case = resolved_case()
    survey = survey_schedule_for_case(case=case)

    survey_cancel_for_case(case=case, reason="reopened", actor_label="system:test")

    survey.refresh_from_db()
    assert survey.status == SurveyStatus.CANCELLED
    assert survey.cancelled_at is not None
    event = CaseEvent.objects.filter(case=case, kind=EventKind.SURVEY_CANCELLED).get()
    assert event.data == {
        "survey_id": survey.pk,
        "reason": "reopened",
        "previous_status": "scheduled",
    }


def test_reopening_after_sending_leaves_the_survey_alone():
    case = resolved_case()
    survey = survey_schedule_for_case(case=case)
    Survey.objects.filter(pk=survey.pk).update(
        status=SurveyStatus.SENT, sent_at=timezone.now()
    )
    survey_cancel_for_case(case=case, reason="reopened")
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT


def test_closing_as_spam_withdraws_even_a_sent_survey():
    case = resolved_case()
    survey = survey_schedule_for_case(case=case)
    Survey.objects.filter(pk=survey.pk).update(
        status=SurveyStatus.SENT, sent_at=timezone.now()
    )
    survey_cancel_for_case(case=case, reason=CloseReason.SPAM)
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.CANCELLED


def test_cancelling_a_case_without_survey_does_nothing():
    case = resolved_case()
    survey_cancel_for_case(case=case, reason="reopened")
    assert not CaseEvent.objects.filter(case=case).exists()
