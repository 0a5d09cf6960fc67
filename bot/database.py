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
from bot.store.url import Dialect, dialect_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.store.base import Store

__all__ = ["open_database", "open_existing_database", "open_store", "upgrade"]


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
    from bot.store import pgadmin  # noqa: PLC0415 - psycopg only where PostgreSQL is used

    return asyncio.run(pgadmin.upgrade(url))


def startup_problem(url: str) -> str | None:
    """Why `serve` or `worker` cannot use the database at `url`, or None. A SQLite file is made
    (with its folder and schema), as the server would a moment later; PostgreSQL is only read."""
    if dialect_of(url) is Dialect.POSTGRESQL:
        from bot.store import pgadmin  # noqa: PLC0415 - psycopg only where PostgreSQL is used

        return pgadmin.problem(url)
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
