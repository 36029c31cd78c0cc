"""A database of the bench's own, beside the one DATABASE_URL names: a run never
touches the data it is pointed at, and drops its database afterwards."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def admin_url(url: str) -> str:
    """The server's maintenance database, to create and drop others from."""
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def own_database(suffix: str, *, sqlite_dir: Path | None = None) -> tuple[str, str]:
    """The URL of a fresh database for this run and its PostgreSQL name:
    `<name>_<suffix>` next to a PostgreSQL DATABASE_URL (made anew), else a SQLite
    file in `sqlite_dir` (name "")."""
    url = os.environ.get("DATABASE_URL", "")
    if not is_postgres(url):
        if sqlite_dir is None:
            raise ValueError("a SQLite run needs a directory for its file")
        return f"sqlite:///{sqlite_dir / f'{suffix}.sqlite3'}", ""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    name = name if name.endswith(f"_{suffix}") else f"{name}_{suffix}"
    with psycopg.connect(admin_url(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def drop_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
