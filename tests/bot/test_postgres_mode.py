"""Baton on PostgreSQL, as an operator meets it: `baton db upgrade`, servers and workers that
refuse a schema behind, the ledger commands, a label answered end to end, and `/readyz`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest

from bot.doctor.local import database_check
from bot.doctor.result import Outcome
from bot.stack import Stack
from bot.store.migrations import MIGRATIONS
from bot.store.postgres import PostgresStore
from tests.bot.test_cli import baton
from tests.bot.test_startup import valid_env
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE
from tests.postgres import ADMIN_URL, database
from tests.store.conftest import record

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio
LATEST = MIGRATIONS[-1].version


def test_db_upgrade_creates_the_schema_then_finds_it_current(tmp_path: Path) -> None:
    with database(migrated=False) as url:
        first = baton(tmp_path, "db", "upgrade", BATON_DATABASE_URL=url)
        again = baton(tmp_path, "db", "upgrade", BATON_DATABASE_URL=url)
        check = database_check(url)
    assert first.returncode == 0, first.stderr
    assert "applied schema versions 1, 2, 3" in first.stdout
    assert again.stdout.strip().endswith("is up to date")
    assert (check.outcome, check.detail) == (Outcome.PASSED, f"{url}, schema version {LATEST}")


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_a_schema_behind_and_say_what_to_run(
    tmp_path: Path, command: str
) -> None:
    with database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM schema_migrations WHERE version = %s", (LATEST,))
        env = {**valid_env(tmp_path), "BATON_DATABASE_URL": url}
        done = baton(tmp_path, command, **env)
        check = database_check(url)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert f"lacks schema versions [{LATEST}]: run `baton db upgrade`" in done.stderr
    assert "Traceback" not in done.stderr
    assert check.outcome is Outcome.FAILED
    assert check.advice == "run `baton db upgrade`"


def test_the_doctor_says_when_postgresql_does_not_answer() -> None:
    check = database_check("postgresql://baton:secret@127.0.0.1:1/baton")
    assert check.outcome is Outcome.FAILED
    assert "cannot reach postgresql://baton@127.0.0.1:1/baton" in check.detail
    assert "secret" not in check.detail


def test_runs_spend_and_purge_read_the_postgresql_ledger(tmp_path: Path) -> None:
    with database() as url:

        async def seed() -> None:
            async with await PostgresStore.open(url) as store:
                await store.save_run(record(id="r7", repo="acme/app", cost_usd=0.5))
                await store.record_removed(["acme/*"], installation_id=9, reason="uninstalled")

        asyncio.run(seed())
        runs = baton(tmp_path, "runs", "--json", BATON_DATABASE_URL=url)
        purged = baton(tmp_path, "purge", "--installation", "9", BATON_DATABASE_URL=url)
        after = baton(tmp_path, "runs", BATON_DATABASE_URL=url)
    assert runs.returncode == 0, runs.stderr
    assert '"id": "r7"' in runs.stdout
    assert purged.stdout == "deleted 1 runs and their events, of installation 9's acme/*\n"
    assert after.stdout == "no runs yet\n"


@pytest.mark.slow
async def test_a_label_is_answered_end_to_end_on_postgresql(tmp_path: Path) -> None:
    with database() as url:
        settings = {"database_url": url, "sandbox": "none", "job_retry_base_s": "0"}
        async with Stack(workdir=tmp_path, settings=settings) as stack:
            yml = "version: 1\nagents:\n  demo: {adapter: scripted}\nroutes:\n  - agent: demo\n"
            await stack.create_repo("octocat", "calc", {"calc.py": CALC, ".agents.yml": yml})
            number = await stack.open_issue("octocat", "octocat/calc", ISSUE_TITLE, ISSUE_BODY)
            await stack.label("octocat", "octocat/calc", number, "agent:fix")
            [status] = await stack.wait_final("octocat/calc", number)
            assert "✅ Done" in status
            row = await stack.runtime.services.store.get_run("r1")
            assert row is not None
            assert row.status == "success"
            async with httpx.AsyncClient(base_url=stack.baton_url) as client:
                assert (await client.get("/readyz")).status_code == 200
                name = url.rsplit("/", 1)[1]
                _connections(name, allowed=False)
                try:
                    gone = await client.get("/readyz")
                finally:
                    _connections(name, allowed=True)
                back = await client.get("/readyz")
    assert gone.status_code == 503
    assert "the database does not answer" in gone.json()["reason"]
    assert back.status_code == 200


def _connections(database_name: str, *, allowed: bool) -> None:
    """Let the database take connections, or cut every one it has and take no more."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        flag = "true" if allowed else "false"
        admin.execute(f'ALTER DATABASE "{database_name}" ALLOW_CONNECTIONS {flag}'.encode())
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid != pg_backend_pid()",
                (database_name,),
            )
