"""The periodic cleanup and the offboarding rules: what goes, what stays, which jobs a removal
touches, and one cleanup an hour however many workers ask."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.maintenance import DAY_S, cleanup, cleanup_delivery_id
from bot.offboard import Offboarding, affects, job_target, repo_matches
from bot.queue import JobInfo, JobStatus, NewJob
from bot.queue.sqlite import SQLiteJobQueue
from bot.store.db import open_database
from bot.store.sqlite import SQLiteStore
from config.settings import load_settings

pytestmark = pytest.mark.anyio


def job(task: str, args: dict[str, object]) -> JobInfo:
    return JobInfo(
        id=1, task=task, args=args, status=JobStatus.QUEUED, lock=None, dedupe_key=None,
        attempts=0, max_attempts=1, created_at=0, scheduled_at=0, started_at=None,
        finished_at=None, error=None,
    )  # fmt: skip


def test_an_uninstalled_account_takes_all_its_repositories_and_no_others() -> None:
    gone = Offboarding(installation_id=7, owner="Acme", repos=(), reason="uninstalled")
    assert gone.patterns == ("Acme/*",)
    assert repo_matches("acme/app", gone.patterns)  # GitHub's names ignore case
    assert not repo_matches("acme2/app", gone.patterns)
    run = {"installation_id": 7, "repo": "acme/app"}
    assert affects(job("run", run), gone)
    assert affects(job("ack", {"trigger": run, "run_job": 3}), gone)
    assert not affects(job("run", {**run, "installation_id": 8}), gone)  # another install
    assert not affects(job("offboard", {"repo": "acme/app"}), gone)  # never itself


def test_removed_repositories_take_only_themselves() -> None:
    gone = Offboarding(installation_id=7, owner="acme", repos=("acme/a",), reason="removed")
    assert gone.patterns == ("acme/a",)
    assert affects(job("control", {"installation_id": 7, "repo": "acme/a"}), gone)
    assert not affects(job("control", {"installation_id": 7, "repo": "acme/b"}), gone)
    assert job_target({"something": "else"}) == (None, None)
    assert Offboarding.from_args(gone.job_args()) == gone


def test_one_cleanup_an_hour_whoever_asks() -> None:
    hour = 3600.0 * 500_000
    assert cleanup_delivery_id(hour) == cleanup_delivery_id(hour + 3599)
    assert cleanup_delivery_id(hour) != cleanup_delivery_id(hour + 3600)


async def test_cleanup_deletes_what_is_past_retention_and_keeps_the_ledger(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'baton.db'}"
    settings = load_settings(
        {"BATON_DATABASE_URL": url, "BATON_JOB_RETENTION_DAYS": "7",
         "BATON_EVENT_RETENTION_DAYS": "30"}
    )  # fmt: skip
    conn = open_database(url)
    queue = SQLiteJobQueue(conn)
    queue.register("run", _done)
    store = await SQLiteStore.open(url)
    try:
        done = await queue.submit(NewJob(task="run"), delivery_id="d-1")
        await queue.start()
        await queue.wait_idle(5)
        await queue.stop()
        waiting = await queue.submit(NewJob(task="other"), delivery_id="d-2")
        await store.append_event("r1", "queued")
        now = time.time()

        soon = await cleanup(settings=settings, store=store, queue=queue, now=now + DAY_S)
        later = await cleanup(settings=settings, store=store, queue=queue, now=now + 31 * DAY_S)

        assert (soon.queue.jobs, soon.queue.deliveries, soon.store.events) == (0, 0, 0)
        assert (later.queue.jobs, later.queue.deliveries, later.store.events) == (1, 2, 1)
        assert [j.id for j in await queue.list_jobs()] == [waiting.job_id]  # queued: kept
        assert done.job_id not in [j.id for j in await queue.list_jobs()]
    finally:
        await store.close()
        conn.close()


async def _done(ctx: object) -> None:
    return None
