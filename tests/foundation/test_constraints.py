import pytest
from django.db import IntegrityError, transaction

from tests.factories import MentionFactory, SurveyFactory

pytestmark = pytest.mark.django_db


def test_it_refuses_a_duplicate_mention_per_source():
    mention = MentionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        MentionFactory(source=mention.source, external_id=mention.external_id)
    # The same external id on another source is another mention.
    MentionFactory(external_id=mention.external_id)


def test_it_refuses_a_second_survey_for_a_case():
    survey = SurveyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyFactory(case=survey.case)


def test_it_refuses_a_score_outside_0_to_10():
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyFactory(score=11)
