"""One-off connections to a PostgreSQL database for `baton db upgrade`, `doctor` and the startup
check: the schema versions it holds, and migrating it. Kept apart from `bot.database` so that a
SQLite server never loads psycopg."""

from __future__ import annotations

import psycopg

from bot.store import pgschema
from bot.store.errors import StoreUnavailable
from bot.store.pgpool import first_line
from bot.store.url import postgres_conninfo, shown

CONNECT_TIMEOUT_S = 5


async def upgrade(url: str) -> list[int]:
    """Create or migrate the schema; the versions applied now."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            postgres_conninfo(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot reach {shown(url)}: {first_line(exc)}") from exc
    async with conn:
        return await pgschema.migrate(conn)


def versions(url: str) -> list[int]:
    """The schema versions a PostgreSQL database holds ([] when it has none yet)."""
    try:
        with psycopg.connect(
            postgres_conninfo(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        ) as conn:
            found = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            if found is None or found[0] is None:
                return []
            rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version")
            return [int(row[0]) for row in rows.fetchall()]
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot reach {shown(url)}: {first_line(exc)}") from exc


def problem(url: str) -> str | None:
    """Why `serve` or `worker` cannot use this database's schema (or reach it), or None."""
    try:
        applied = versions(url)
    except StoreUnavailable as exc:
        return str(exc)
    return pgschema.state_of(applied).problem()
