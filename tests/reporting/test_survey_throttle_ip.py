"""The survey page's per-address throttle cannot be dodged with X-Forwarded-For."""

import pytest
from django.test import Client

from .helpers import sent_survey
from .test_survey_page import url

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"survey_ip": "5/min", "survey_token": "100/min"},
    }


def test_a_made_up_forwarded_for_does_not_reset_the_throttle(rates, settings):
    settings.WEBCARE_TRUSTED_PROXIES = []
    guesser = Client(REMOTE_ADDR="198.51.100.7")
    codes = [
        guesser.get(url(f"{n:043d}"), HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(6)
    ]
    assert codes == [404] * 5 + [429]
    # Still refused as whoever it claims to be next.
    assert (
        guesser.get(url(sent_survey()), HTTP_X_FORWARDED_FOR="1.2.3.4").status_code
        == 429
    )


def test_behind_our_proxy_each_client_has_its_own_bucket(rates, settings):
    settings.WEBCARE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    guesses = [
        proxy.get(
            url(f"{n:043d}"),
            # The guesser's own prefix is made up; our proxy appended the truth.
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.7",
        ).status_code
        for n in range(6)
    ]
    assert guesses == [404] * 5 + [429]
    survey = sent_survey()
    # A customer behind the same proxy is not affected by the guesser.
    assert proxy.get(url(survey), HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == (
        200
    )
