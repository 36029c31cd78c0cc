"""A form or a PATCH writes only what its user changed (issue 17, item 6).

A whole-row save writes back what the request loaded, over what a service wrote
meanwhile: a customer's survey opt-out, a poll's cursor and lease.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reporting.services import survey_opt_out
from sources.models import Author, Source
from tests.factories import AuthorFactory, SourceFactory, SurveyFactory, UserFactory
from webcare.api.auth import api_client_create

pytestmark = pytest.mark.django_db


def form_as_shown(client, url) -> dict:
    """The POST data of the change form at `url`, as its page showed it."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else field.prepare_value(value)
    return data


def update_columns(queries, table: str) -> set[str]:
    """The columns SET by UPDATE statements on `table`."""
    columns = set()
    for query in queries:
        sql = query["sql"]
        if sql.startswith(f'UPDATE "{table}" SET'):
            assignments = sql.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
            columns |= set(re.findall(r'"(\w+)" =', assignments))
    return columns


def test_ticking_vip_on_a_form_opened_before_the_opt_out_keeps_the_opt_out(client):
    client.force_login(UserFactory(is_superuser=True))
    survey = SurveyFactory()
    customer = survey.recipient
    url = reverse("admin:sources_author_change", args=[customer.pk])
    data = form_as_shown(client, url)  # opened before the customer opts out

    survey_opt_out(survey=survey)
    response = client.post(url, {**data, "is_vip": "on"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Author.objects.get(pk=customer.pk)
    assert customer.is_vip
    assert customer.survey_opt_out_at is not None


def test_the_opt_out_is_not_a_field_staff_can_edit(client):
    client.force_login(UserFactory(is_superuser=True))
    author = AuthorFactory(survey_opt_out_at=timezone.now())
    url = reverse("admin:sources_author_change", args=[author.pk])
    assert "survey_opt_out_at" not in client.get(url).context["adminform"].form.fields
    client.post(url, {**form_as_shown(client, url), "survey_opt_out_at_0": ""})
    assert Author.objects.get(pk=author.pk).survey_opt_out_at is not None


def test_the_source_form_writes_only_the_changed_fields(client):
    client.force_login(UserFactory(is_superuser=True))
    source = SourceFactory(
        cursor={"seen": ["a"]}, locked_until=timezone.now() + timedelta(minutes=5)
    )
    url = reverse("admin:sources_source_change", args=[source.pk])
    data = {**form_as_shown(client, url), "name": "Renamed"}
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    written = update_columns(queries, "sources_source")
    assert "name" in written
    assert not written & {"cursor", "locked_until", "next_poll_at", "last_error"}
    assert Source.objects.get(pk=source.pk).name == "Renamed"


def test_a_source_patch_writes_only_the_fields_sent():
    from rest_framework.test import APIClient

    _, token = api_client_create(name="crm", scopes=["read", "write", "admin"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    source = SourceFactory(cursor={"seen": ["a"]})
    with CaptureQueriesContext(connection) as queries:
        response = http.patch(
            f"/api/v1/sources/{source.pk}/", {"name": "Renamed"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert update_columns(queries, "sources_source") == {"name"}
