"""Every synced table keeps its sync position trigger after all migrations.

On SQLite a table rebuilt by a later migration loses its triggers; a migration that
rebuilds one must install it again (`webcare.sync.InstallSyncPosition`).
"""

import pytest
from django.apps import apps
from django.db import connection

from sources.models import Author
from tests.factories import AuthorFactory
from webcare.sync import SyncPositionField, triggers_installed

pytestmark = pytest.mark.django_db

SYNCED = sorted(
    {
        model._meta.db_table
        for model in apps.get_models()
        if any(isinstance(field, SyncPositionField) for field in model._meta.fields)
    }
)


def test_the_synced_tables_are_the_ones_the_api_syncs():
    assert (
        sorted(
            [
                "cases_case",
                "cases_caseevent",
                "cases_commitment",
                "cases_escalation",
                "cases_webhookdelivery",
                "reporting_survey",
                "sources_author",
                "sources_mention",
                "sources_source",
            ]
        )
        == SYNCED
    )


@pytest.mark.parametrize("table", SYNCED)
def test_every_synced_table_has_its_trigger(table):
    expected = 1 if connection.vendor == "postgresql" else 2
    assert triggers_installed(connection, table) == expected


@pytest.mark.django_db(transaction=True)  # one transaction per write, as in use
def test_a_delete_never_lets_a_later_change_take_a_served_position():
    first, last = AuthorFactory(), AuthorFactory()
    served = Author.objects.get(pk=last.pk).sync_position
    last.delete()
    Author.objects.filter(pk=first.pk).update(display_name="changed")
    assert Author.objects.get(pk=first.pk).sync_position > served
