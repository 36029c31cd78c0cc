"""The sync position: where a row's last change stands in commit order.

A CRM syncs a resource by paging through it in `(sync_position, id)` order and keeping
the cursor of the last page. For that to never skip a change, a change must get a
position that is higher than every position already served, however late its
transaction commits. A timestamp taken at save cannot promise that (a row saved and
committed 60 s later would land behind a cursor that moved on meanwhile), and a
`QuerySet.update()` does not even take one.

So the database keeps the position itself, with a trigger on every synced table that
fires on every INSERT and UPDATE, whoever writes (save, `QuerySet.update()`,
`bulk_update`, raw SQL):

- PostgreSQL: the position is the writing transaction's id (`pg_current_xact_id()`).
  A reader serves only positions below the oldest transaction still running
  (`pg_snapshot_xmin`), so every position it serves belongs to a finished transaction,
  and every transaction that commits later has a higher id than anything served.
- SQLite (the embedded demo): one writer at a time holds the database's write lock
  until it commits, so a counter advanced under that lock follows commit order by
  itself; no horizon is needed. The counter is one row of its own table
  (`webcare_sync_counter`), never lowered by a delete.

On tables with an `updated_at`, the trigger also moves `updated_at` when a write left
it as it was, so the `updated_since` filters see `QuerySet.update()` writes too.

The model's value is never written by Django on purpose: the trigger overrides what
`save()` sends, so an instance's `sync_position` is only current after a reload.
"""

from django.db import connections, models
from django.db.migrations.operations.base import Operation
from django.db.models import Q
from django.db.models.expressions import RawSQL


class SyncPositionField(models.BigIntegerField):
    """Set by the database on every write (see the module docs); never by code."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", 0)
        kwargs.setdefault("editable", False)
        kwargs.setdefault(
            "help_text",
            "Where this row's last change stands in commit order (set by the "
            "database; the API's sync cursor).",
        )
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for key in ("default", "editable", "help_text"):
            kwargs.pop(key, None)
        return name, path, args, kwargs


def settled(queryset):
    """Only the rows whose position no later commit can fall behind.

    On PostgreSQL those below the oldest transaction still running when the query's
    snapshot was taken (in the same statement, so no row of a finished transaction is
    missing from it), plus the rows this transaction wrote itself: it sees them, and
    they commit with it. An API read writes no synced rows, so in practice that is a
    caller that writes and reads in one transaction, as a test does.
    """
    if connections[queryset.db].vendor != "postgresql":
        return queryset
    horizon = RawSQL("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", [])
    own = RawSQL("pg_current_xact_id_if_assigned()::text::bigint", [])
    return queryset.filter(Q(sync_position__lt=horizon) | Q(sync_position=own))


# -- the triggers, installed by a migration operation --------------------------------

_POSTGRES_FUNCTIONS = """
CREATE OR REPLACE FUNCTION webcare_sync_position() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.sync_position := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$;
CREATE OR REPLACE FUNCTION webcare_sync_position_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.sync_position := pg_current_xact_id()::text::bigint;
    IF TG_OP = 'UPDATE' AND NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END
$$;
"""


_SQLITE_COUNTER = "webcare_sync_counter"


# The names below come from model options, never from input.
def _install(vendor: str, table: str, pk: str, touch: bool) -> list[str]:
    name = f"{table}_sync_position"
    if vendor == "postgresql":
        function = "webcare_sync_position_touch" if touch else "webcare_sync_position"
        return [
            _POSTGRES_FUNCTIONS,
            f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"',
            f'CREATE TRIGGER "{name}" BEFORE INSERT OR UPDATE ON "{table}" '
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
    if vendor == "sqlite":
        # AFTER triggers that write the row again; SQLite does not fire triggers from
        # inside a trigger (recursive_triggers is off), so this ends here.
        advance = f"UPDATE {_SQLITE_COUNTER} SET n = n + 1;"  # noqa: S608
        following = f"(SELECT n FROM {_SQLITE_COUNTER})"  # noqa: S608
        touched = ""
        if touch:
            # Microseconds, as Django writes them, so text order is time order.
            touched = (
                ", updated_at = CASE WHEN NEW.updated_at IS OLD.updated_at "
                "THEN strftime('%Y-%m-%d %H:%M:%f', 'now') || '000' "
                "ELSE NEW.updated_at END"
            )
        return [
            f"CREATE TABLE IF NOT EXISTS {_SQLITE_COUNTER} (n INTEGER NOT NULL)",
            f"INSERT INTO {_SQLITE_COUNTER} (n) SELECT 0 "  # noqa: S608
            f"WHERE NOT EXISTS (SELECT 1 FROM {_SQLITE_COUNTER})",
            f'DROP TRIGGER IF EXISTS "{name}_insert"',
            f'DROP TRIGGER IF EXISTS "{name}_update"',
            f'CREATE TRIGGER "{name}_insert" AFTER INSERT ON "{table}" BEGIN '  # noqa: S608
            f'{advance} UPDATE "{table}" SET sync_position = {following} '
            f'WHERE "{pk}" = NEW."{pk}"; END',
            f'CREATE TRIGGER "{name}_update" AFTER UPDATE ON "{table}" BEGIN '  # noqa: S608
            f'{advance} UPDATE "{table}" SET sync_position = {following}{touched} '
            f'WHERE "{pk}" = NEW."{pk}"; END',
        ]
    raise NotImplementedError(f"no sync position trigger for {vendor}")


def _uninstall(vendor: str, table: str) -> list[str]:
    name = f"{table}_sync_position"
    if vendor == "postgresql":
        return [f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"']
    return [
        f'DROP TRIGGER IF EXISTS "{name}_insert"',
        f'DROP TRIGGER IF EXISTS "{name}_update"',
    ]


def triggers_installed(connection, table: str) -> int:
    """How many sync position triggers `table` has (1 on PostgreSQL, 2 on SQLite)."""
    name = f"{table}_sync_position"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = %s "
                "AND tgrelid = %s::regclass",
                [name, f'"{table}"'],
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = %s AND name IN (%s, %s)",
                [table, f"{name}_insert", f"{name}_update"],
            )
        return cursor.fetchone()[0]


class InstallSyncPosition(Operation):
    """Migration operation: the trigger that keeps `model_name.sync_position`.

    On SQLite a migration that rebuilds a table (most `AddField`/`AlterField` of a
    non-null column) drops its triggers: such a migration ends with this operation
    again (tests/foundation/test_sync_triggers.py finds any table left without).
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, touch_updated_at: bool = False):
        self.model_name = model_name
        self.touch_updated_at = touch_updated_at

    def deconstruct(self):
        kwargs = {"model_name": self.model_name}
        if self.touch_updated_at:
            kwargs["touch_updated_at"] = True
        return (self.__class__.__qualname__, [], kwargs)

    def state_forwards(self, app_label, state):
        pass  # the trigger is not part of the model state

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        for statement in _install(
            schema_editor.connection.vendor,
            model._meta.db_table,
            model._meta.pk.column,
            self.touch_updated_at,
        ):
            schema_editor.execute(statement, params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        for statement in _uninstall(
            schema_editor.connection.vendor, model._meta.db_table
        ):
            schema_editor.execute(statement, params=None)

    def describe(self):
        return f"Install the sync position trigger on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"sync_position_{self.model_name.lower()}"
