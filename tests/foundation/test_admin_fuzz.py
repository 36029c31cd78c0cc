"""Every admin changelist and change page, given hostile query values and object
ids, answers 200, a redirect, 400 or 404: never 500 (on SQLite and PostgreSQL,
which refuses NUL in text)."""

import sys
import time
from urllib.parse import unquote_to_bytes

import pytest
from django.contrib import admin
from django.core.signals import got_request_exception
from django.test import RequestFactory
from django.urls import reverse

from tests.factories import UserFactory
from tests.foundation.test_admin_pages import populate, registered_models

pytestmark = pytest.mark.django_db

# As they appear in a URL. A NUL is refused by webcare.middleware before any view,
# so it costs little and is tried on every parameter of every changelist.
REFUSED = ("%00", "a%00b")
# What reaches the filters and the database: tried once per kind of filter (a
# stock Django filter on one kind of field behaves alike on every changelist) and
# on every custom filter. "%ED%A0%80" is a lone surrogate in UTF-8 (invalid: Django
# reads U+FFFD), "%D9%A3" an Arabic-Indic 3 (int() takes it).
VALUES = ("-5", "99999999999999999999", "x", "", "0001-01-01", "%ED%A0%80", "%D9%A3")
# The changelist's own parameters, a few hostile values in one go where they can be.
GENERAL = (
    "q=%25_%5C'%ED%A0%80",
    "o=99999999999999999999.-5.x",
    "p=99999999999999999999",
    "id__in=99999999999999999999",
    "_to_field=x",
    "all=&_popup=x&e=x&unknown=x",
)
YEARS = ("0", "-5", "1", "9999", "99999", "99999999999999999999", "x", "%D9%A3")
MONTHS = ("0", "13", "99999999999999999999")
DAYS = ("0", "30", "32", "99999999999999999999")
OBJECT_IDS = ("%00", "%ED%A0%80", "99999999999999999999", "-1", "x")


def filter_parameters(model, superuser) -> list[tuple[str, tuple]]:
    """Each parameter a changelist's filters read, with what sets it apart: its
    filter class and, for stock filters, its field's class and lookup."""
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = superuser
    changelist = model_admin.get_changelist_instance(request)
    parameters = []
    for spec in changelist.filter_specs:
        field = getattr(spec, "field", None)
        for name in spec.expected_parameters():
            if field is None:  # a custom SimpleListFilter: its own kind
                kind = (type(spec), model)
            else:
                lookup = name.removeprefix(spec.field_path)
                kind = (type(spec), type(field), lookup)
            parameters.append((name, kind))
    return parameters


def date_queries(field: str, everything: bool) -> list[str]:
    """The date hierarchy's year, month and day out of range; all of them once per
    kind of field (date, date and time), the years of issue 16 everywhere."""
    if not everything:
        return [f"{field}__year={year}" for year in ("0", "-5", "9999", "99999")]
    queries = [f"{field}__year={year}" for year in YEARS]
    queries += [f"{field}__year=2024&{field}__month={month}" for month in MONTHS]
    queries += [
        f"{field}__year=2024&{field}__month=2&{field}__day={day}" for day in DAYS
    ]
    return queries + [f"{field}__month=13", f"{field}__day=32&{field}__month=x"]


class Walker:
    """GETs through the whole stack (middleware, admin, templates) without the test
    client's copying of every template context, which triples the time."""

    def __init__(self, client):
        self.client = client
        self.failures: list[str] = []
        self.count = 0
        self.errors: list[BaseException] = []

    def __enter__(self):
        got_request_exception.connect(self._record)
        return self

    def __exit__(self, *exc_info):
        got_request_exception.disconnect(self._record)

    def _record(self, sender, request=None, **kwargs):
        self.errors.append(sys.exc_info()[1])

    def get(self, url: str, query: str = "") -> None:
        self.count += 1
        self.errors.clear()
        environ = self.client._base_environ(
            PATH_INFO=unquote_to_bytes(url).decode("iso-8859-1"),
            QUERY_STRING=query,
            REQUEST_METHOD="GET",
        )
        try:
            response = self.client.handler(environ)
        except Exception as error:
            self.errors.append(error)
            response = None
        if self.errors or response is None or response.status_code >= 500:
            error = self.errors[0] if self.errors else None
            self.failures.append(f"{url}?{query}: {error!r}"[:300])


@pytest.fixture
def walker(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    populate(1, offset=0)
    with Walker(client) as walker:
        walker.user = user
        yield walker


def test_every_changelist_survives_hostile_filters(walker):
    started = time.monotonic()
    tried_kinds = set()
    for model in registered_models():
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        )
        queries = list(GENERAL)
        for name, kind in filter_parameters(model, walker.user) + [("q", "q")]:
            queries += [f"{name}={value}" for value in REFUSED]
            if kind not in tried_kinds:
                tried_kinds.add(kind)
                queries += [f"{name}={value}" for value in VALUES]
        hierarchy = admin.site._registry[model].date_hierarchy
        if hierarchy:
            field = model._meta.get_field(hierarchy)
            queries += date_queries(hierarchy, type(field) not in tried_kinds)
            tried_kinds.add(type(field))
        for query in queries:
            walker.get(url, query)
    assert not walker.failures, "\n".join(walker.failures)
    assert walker.count > 500  # every changelist was walked
    assert time.monotonic() - started < 60


def test_every_change_page_survives_hostile_object_ids(walker):
    for model in registered_models():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for view in ("change", "history", "delete"):
            url = reverse(f"{name}_{view}", args=["0"])
            for object_id in OBJECT_IDS:
                walker.get(url.replace("/0/", f"/{object_id}/"))
    assert not walker.failures, "\n".join(walker.failures)
