"""Baton's migrations on PostgreSQL: the same history as SQLite's, applied once, in order.

`baton db upgrade` applies them; `serve` and `worker` only check (many processes start at once
during a rolling deploy, and a schema must never change under a running older Baton).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg

from bot.store.errors import MigrationError, StoreError, StoreUnavailable
from bot.store.migrations import MIGRATIONS, Migration

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.store.pgpool import Connection

# One advisory lock for every upgrader: two `baton db upgrade` at once apply each step once.
_UPGRADE_LOCK = 0x0BA7_0001
# Words outside quotes and comments; the types SQLite stores in 8 bytes are 4 on PostgreSQL.
_TOKENS = re.compile(r"('(?:[^']|'')*')|(--[^\n]*)|\b(INTEGER|REAL)\b", re.IGNORECASE)
_WIDER = {"integer": "BIGINT", "real": "DOUBLE PRECISION"}


def to_postgresql(sql: str) -> str:
    """A migration written for both databases, as PostgreSQL should run it: INTEGER is BIGINT
    (GitHub's comment and check-run ids pass 2**31) and REAL is DOUBLE PRECISION (a float4
    epoch time would be off by minutes)."""

    def widen(match: re.Match[str]) -> str:
        word = match.group(3)
        return _WIDER[word.lower()] if word else match.group(0)

    return _TOKENS.sub(widen, sql)


def postgresql_text(migration: Migration) -> str:
    if migration.postgresql is not None:
        return migration.postgresql()
    return to_postgresql(migration.sql)


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Which of this Baton's migrations a database holds, and any it does not know."""

    missing: tuple[int, ...]
    unknown: tuple[int, ...]

    @property
    def current(self) -> bool:
        return not self.missing and not self.unknown

    def problem(self) -> str | None:
        """Why `serve` and `worker` must not start on this database (with what to run), or None."""
        if self.unknown:
            return (
                f"the database has schema versions {list(self.unknown)} this Baton does not know: "
                "it was upgraded by a newer Baton; run that version (or newer) here"
            )
        if self.missing:
            return (
                f"the database lacks schema versions {list(self.missing)}: run `baton db upgrade` "
                "(with this Baton, once, before starting servers and workers)"
            )
        return None


def state_of(applied: Sequence[int], migrations: Sequence[Migration] = MIGRATIONS) -> SchemaState:
    known = {m.version for m in migrations}
    have = set(applied)
    return SchemaState(missing=tuple(sorted(known - have)), unknown=tuple(sorted(have - known)))


async def applied_versions(conn: Connection) -> list[int]:
    """The versions recorded in `schema_migrations`, oldest first; [] on an empty database."""
    try:
        exists = await (await conn.execute("SELECT to_regclass('schema_migrations')")).fetchone()
        if exists is None or exists[0] is None:
            return []
        rows = await (
            await conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        ).fetchall()
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"the database does not answer: {exc}") from exc
    return [int(row[0]) for row in rows]


async def migrate(conn: Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the pending migrations in order, each in its own transaction; return their versions.

    `conn` must be in autocommit mode (each step opens its own transaction)."""
    versions = [m.version for m in migrations]
    if any(v < 1 for v in versions) or versions != sorted(set(versions)):
        raise MigrationError(f"migration versions must be positive and increasing: {versions}")
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_UPGRADE_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at DOUBLE PRECISION NOT NULL)"
            )
        unknown = state_of(await applied_versions(conn), migrations).unknown
        if unknown:
            raise MigrationError(
                f"the database has schema versions {list(unknown)} this Baton does not know: "
                "it was written by a newer Baton"
            )
        done = [m.version for m in migrations if await _apply(conn, m)]
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"the database does not answer: {exc}") from exc
    except psycopg.Error as exc:
        raise StoreError(f"the database refused a migration: {exc}") from exc
    return done


async def _apply(conn: Connection, migration: Migration) -> bool:
    async with conn.transaction():
        # Checked under the lock: an upgrader that started at the same time skips it.
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_UPGRADE_LOCK,))
        found = await (
            await conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
            )
        ).fetchone()
        if found is not None:
            return False
        # No parameters: the text goes as one script (functions with $$ bodies and % inside).
        await conn.execute(postgresql_text(migration).encode())
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
            (migration.version, migration.name, time.time()),
        )
    return True
