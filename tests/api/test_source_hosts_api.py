"""The sources API refuses internal hosts and never shows a poll's error text."""

import pytest

from sources.models import Source
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://[::1]/feed",
        "http://localhost/feed",
        "http://10.1.2.3/feed",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_it_refuses_a_source_on_an_internal_host(make_crm, settings, url):
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = False
    admin = make_crm(("admin",))
    response = admin.post(
        "/api/v1/sources/",
        {"name": "Internal", "kind": "feed", "url": url},
        format="json",
    )
    assert response.status_code == 400
    assert "internal address" in response.json()["url"][0]
    assert not Source.objects.exists()

    source = SourceFactory(kind="feed", url="https://93.184.215.14/feed")
    response = admin.patch(f"/api/v1/sources/{source.pk}/", {"url": url}, format="json")
    assert response.status_code == 400
    assert Source.objects.get(pk=source.pk).url == "https://93.184.215.14/feed"


def test_a_reader_does_not_see_the_last_error(reader):
    SourceFactory(last_error="redis: -ERR unknown command 'GET /'")
    listed = reader.get("/api/v1/sources/").json()["results"][0]
    assert "last_error" not in listed
    assert "consecutive_failures" in listed
