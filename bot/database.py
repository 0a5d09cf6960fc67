"""Open Baton's database, whichever it is (a SQLite file or PostgreSQL), and keep its schema.

SQLite is one server's own file: `serve` creates it and applies pending migrations itself, as
it always has. PostgreSQL is shared by every server and worker: only `baton db upgrade`
changes its schema, and `serve` and `worker` refuse to start on a schema behind or ahead.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from bot.store import pgschema
from bot.store.db import (
    MEMORY,
    StoreError,
    applied_versions,
    migrate,
    open_database,
    open_existing_database,
    open_sqlite,
    sqlite_path,
)
from bot.store.errors import StoreUnavailable
from bot.store.url import Dialect, dialect_of, postgres_conninfo, shown

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.store.base import Store

__all__ = ["open_database", "open_existing_database", "open_store", "upgrade"]

_CONNECT_TIMEOUT_S = 5


async def open_store(
    url: str, *, create: bool = True, clock: Callable[[], float] = time.time
) -> Store:
    """The Store for `url`. On PostgreSQL its schema must be current (nothing is migrated);
    `create=False` (commands that only read): a missing SQLite file is an error, not made."""
    if dialect_of(url) is Dialect.POSTGRESQL:
        from bot.store.postgres import PostgresStore  # noqa: PLC0415

        store = await PostgresStore.open(url, clock=clock)
        problem = await store.schema_problem()
        if problem is not None:
            await store.close()
            raise StoreError(problem)
        return store
    from bot.store.sqlite import SQLiteStore  # noqa: PLC0415

    return await SQLiteStore.open(url, create=create, clock=clock)


def upgrade(url: str) -> list[int]:
    """`baton db upgrade`: create or migrate the schema; the versions applied now."""
    if dialect_of(url) is Dialect.SQLITE:
        conn = open_sqlite(url)
        try:
            return migrate(conn)
        finally:
            conn.close()
    return asyncio.run(_upgrade_postgres(url))


async def _upgrade_postgres(url: str) -> list[int]:
    try:
        conn = await psycopg.AsyncConnection.connect(
            postgres_conninfo(url), autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
        )
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot reach {shown(url)}: {_first_line(exc)}") from exc
    async with conn:
        return await pgschema.migrate(conn)


def postgres_versions(url: str) -> list[int]:
    """The schema versions a PostgreSQL database holds ([] when it has none yet)."""
    try:
        with psycopg.connect(
            postgres_conninfo(url), autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
        ) as conn:
            found = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            if found is None or found[0] is None:
                return []
            rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version")
            return [int(row[0]) for row in rows.fetchall()]
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot reach {shown(url)}: {_first_line(exc)}") from exc


def startup_problem(url: str) -> str | None:
    """Why `serve` or `worker` cannot use the database at `url`, or None. A SQLite file is made
    (with its folder and schema), as the server would a moment later; PostgreSQL is only read."""
    if dialect_of(url) is Dialect.POSTGRESQL:
        try:
            applied = postgres_versions(url)
        except StoreError as exc:
            return str(exc)
        return pgschema.state_of(applied).problem()
    path = sqlite_path(url)
    if path != MEMORY:
        folder = Path(path).resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"cannot create the folder {folder}: {exc.strerror}"
        writable = Path(path) if Path(path).exists() else folder
        if not writable.exists() or not _writable(writable):
            return f"{writable} is not writable by this user"
    try:
        open_database(url).close()
    except (StoreError, sqlite3.Error) as exc:
        return str(exc)
    return None


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def sqlite_versions(path: Path) -> list[int]:
    """The schema versions of an existing SQLite file, read without writing to it."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return applied_versions(conn)
    finally:
        conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
