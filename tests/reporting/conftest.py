import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def survey_urls(settings):
    # The lead mounts reporting.urls under /s/ in webcare/urls.py; this does the same.
    settings.ROOT_URLCONF = "tests.reporting.urls"
    settings.SITE_URL = "https://webcare.example.com"


@pytest.fixture(autouse=True)
def clear_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def smtp_server(mail_server):
    """A real SMTP server on 127.0.0.1, up; Django's SMTP backend sends to it."""
    mail_server.start()
    return mail_server
