"""One migrations history on PostgreSQL: widened types, each step once, versions checked."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from bot.store import pgschema
from bot.store.errors import MigrationError, StoreError
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.postgres import PostgresStore
from bot.store.url import postgres_conninfo
from tests.postgres import database
from tests.store.conftest import record

pytestmark = pytest.mark.anyio


def test_shared_sql_is_widened_for_postgresql_outside_quotes_and_comments() -> None:
    sql = (
        "CREATE TABLE t (n INTEGER NOT NULL, at REAL, note TEXT DEFAULT 'REAL INTEGER');\n"
        "-- an INTEGER in a comment stays\n"
        "ALTER TABLE t ADD COLUMN ok integer;"
    )
    assert pgschema.to_postgresql(sql) == (
        "CREATE TABLE t (n BIGINT NOT NULL, at DOUBLE PRECISION, note TEXT DEFAULT "
        "'REAL INTEGER');\n-- an INTEGER in a comment stays\nALTER TABLE t ADD COLUMN ok BIGINT;"
    )


def test_a_schema_behind_or_ahead_says_which_command_to_run() -> None:
    known = [m.version for m in MIGRATIONS]
    assert pgschema.state_of(known).problem() is None
    behind = pgschema.state_of(known[:-1]).problem()
    assert behind is not None
    assert "baton db upgrade" in behind
    ahead = pgschema.state_of([*known, 999]).problem()
    assert ahead is not None
    assert "newer Baton" in ahead


async def _connect(url: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


async def test_two_upgraders_at_once_apply_each_migration_once() -> None:
    with database(migrated=False) as url:
        first, second = await _connect(url), await _connect(url)
        async with first, second:
            done = await asyncio.gather(pgschema.migrate(first), pgschema.migrate(second))
            assert sorted(done[0] + done[1]) == [m.version for m in MIGRATIONS]
            assert await pgschema.applied_versions(first) == [m.version for m in MIGRATIONS]
            assert await pgschema.migrate(first) == []


async def test_ids_and_times_keep_every_digit_on_postgresql() -> None:
    with database() as url:
        conn = await _connect(url)
        async with conn:
            cursor = await conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'runs' AND column_name IN ('comment_id', 'created_at')"
            )
            types = {str(name): str(kind) for name, kind in await cursor.fetchall()}
    assert types == {"comment_id": "bigint", "created_at": "double precision"}


async def test_a_database_from_a_newer_baton_is_refused() -> None:
    with database() as url:
        conn = await _connect(url)
        async with conn:
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'x', 0)"
            )
            with pytest.raises(MigrationError, match="newer Baton"):
                await pgschema.migrate(conn)


async def test_a_failed_step_leaves_nothing_half_applied() -> None:
    broken = [*MIGRATIONS, Migration(version=999, name="bad", sql="CREATE TABLE x (;")]
    with database() as url:
        conn = await _connect(url)
        async with conn:
            with pytest.raises(StoreError, match="refused a migration"):
                await pgschema.migrate(conn, broken)
            assert 999 not in await pgschema.applied_versions(conn)


async def test_a_sql_ascii_database_still_gives_back_text() -> None:
    # initdb under the C locale makes SQL_ASCII databases; psycopg would then return bytes.
    with database(migrated=False, sql_ascii=True) as url:
        conn = await psycopg.AsyncConnection.connect(postgres_conninfo(url), autocommit=True)
        async with conn:
            await pgschema.migrate(conn)
        store = await PostgresStore.open(url)
        try:
            row = record(requester="zoë", label="agent:fix ✓")
            await store.save_run(row)
            assert await store.get_run("r1") == row
        finally:
            await store.close()
