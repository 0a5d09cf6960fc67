"""Behaviour particular to the SQLite queue: its clock, recovery rules and the delivery table."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import pytest

from bot.queue import JobContext, JobStatus, NewJob, RetryLater, SQLiteJobQueue
from bot.store import migrate, open_sqlite

pytestmark = pytest.mark.anyio


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    db = open_sqlite("sqlite:///:memory:")
    migrate(db)
    yield db
    db.close()


async def _noop(ctx: JobContext) -> None:
    return None


def _status(conn: sqlite3.Connection, job_id: int | None) -> tuple[str, int, str | None]:
    row = conn.execute("SELECT status, attempts, error FROM jobs WHERE id = ?", (job_id,))
    status, attempts, error = row.fetchone()
    return status, attempts, error


async def test_retries_are_scheduled_by_the_injected_clock(conn: sqlite3.Connection) -> None:
    now = [1000.0]
    queue = SQLiteJobQueue(
        conn, retry_base_s=10.0, clock=lambda: now[0], rand=lambda: 0.5, idle_poll_s=0.01
    )
    attempts: list[int] = []
    retried = asyncio.Event()

    async def flaky(ctx: JobContext) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            retried.set()
            raise RetryLater("busy")

    queue.register("run", flaky)
    job = await queue.submit(NewJob(task="run"))
    assert job.job_id is not None
    await queue.start()
    try:
        await asyncio.wait_for(retried.wait(), 5)
        await queue.wait_idle(5)
        info = await queue.get(job.job_id)
        assert info is not None
        assert (info.status, info.created_at, info.scheduled_at) == (JobStatus.QUEUED, 1000, 1005)
        await asyncio.sleep(0.05)
        assert attempts == [1]  # not due while the clock stands still
        now[0] = 1005.0
        await queue.wait_idle(5)
    finally:
        await queue.stop()
    assert attempts == [1, 2]
    assert _status(conn, job.job_id) == ("succeeded", 2, None)


async def test_a_crash_during_the_final_attempt_fails_the_job(conn: sqlite3.Connection) -> None:
    queue = SQLiteJobQueue(conn)
    queue.register("run", _noop)
    last = await queue.submit(NewJob(task="run", max_attempts=2))
    early = await queue.submit(NewJob(task="run", max_attempts=2))
    # As a killed process leaves them: claimed, never finished.
    conn.execute("UPDATE jobs SET status = 'running', attempts = 2 WHERE id = ?", (last.job_id,))
    conn.execute("UPDATE jobs SET status = 'running', attempts = 1 WHERE id = ?", (early.job_id,))

    await queue.start()
    try:
        await queue.wait_idle(5)
    finally:
        await queue.stop()

    status, attempts, error = _status(conn, last.job_id)
    assert (status, attempts) == ("failed", 2)
    assert error is not None
    assert "final attempt" in error
    assert _status(conn, early.job_id)[:2] == ("succeeded", 2)


async def test_a_retry_gives_way_to_a_newer_request_with_its_key(
    conn: sqlite3.Connection,
) -> None:
    queue = SQLiteJobQueue(conn, retry_base_s=0.01)
    newer_queued = asyncio.Event()
    ran: list[int] = []

    async def work(ctx: JobContext) -> None:
        ran.append(ctx.args["v"])
        if ctx.args["v"] == 1:
            await newer_queued.wait()
            raise RetryLater("busy")

    queue.register("run", work)
    older = await queue.submit(NewJob(task="run", args={"v": 1}, dedupe_key="k", lock="o/r#1"))
    await queue.start()
    try:
        await asyncio.sleep(0.05)
        newer = await queue.submit(NewJob(task="run", args={"v": 2}, dedupe_key="k", lock="o/r#1"))
        newer_queued.set()
        await queue.wait_idle(5)
    finally:
        await queue.stop()

    # At most one queued job per key holds even when a running one comes back for a retry.
    assert _status(conn, older.job_id) == ("cancelled", 1, f"superseded by job {newer.job_id}")
    assert _status(conn, newer.job_id)[0] == "succeeded"
    assert ran == [1, 2]


async def test_cancel_returns_once_the_job_is_recorded_cancelled(
    conn: sqlite3.Connection,
) -> None:
    queue = SQLiteJobQueue(conn)
    started = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # cleanup, e.g. killing the agent's sandbox
            raise

    queue.register("run", slow)
    job = await queue.submit(NewJob(task="run"))
    assert job.job_id is not None
    await queue.start()
    try:
        await asyncio.wait_for(started.wait(), 5)
        assert await queue.cancel(job.job_id)
        assert _status(conn, job.job_id) == ("cancelled", 1, "cancelled")
    finally:
        await queue.stop()


@pytest.mark.parametrize("by_cancel", [True, False])
async def test_a_job_stopped_before_its_handler_ran_is_settled(
    conn: sqlite3.Connection, by_cancel: bool
) -> None:
    queue = SQLiteJobQueue(conn)
    calls = 0

    async def work(ctx: JobContext) -> None:
        nonlocal calls
        calls += 1

    queue.register("run", work)
    job = await queue.submit(NewJob(task="run"))
    assert job.job_id is not None
    await queue.start()
    await asyncio.sleep(0)  # the worker has claimed the job; its handler has not taken a step
    assert _status(conn, job.job_id)[0] == "running"
    if by_cancel:
        assert await queue.cancel(job.job_id)
    await queue.stop()

    assert calls == 0
    expected = ("cancelled", 1, "cancelled") if by_cancel else ("queued", 0, None)
    assert _status(conn, job.job_id) == expected


async def test_each_delivery_records_the_job_it_led_to(conn: sqlite3.Connection) -> None:
    queue = SQLiteJobQueue(conn)
    first = await queue.submit(NewJob(task="run", dedupe_key="k"), delivery_id="a")
    merged = await queue.submit(NewJob(task="run", dedupe_key="k"), delivery_id="b")
    await queue.submit(None, delivery_id="c")

    rows = conn.execute("SELECT id, job_id FROM deliveries ORDER BY id").fetchall()
    assert rows == [("a", first.job_id), ("b", first.job_id), ("c", None)]
    assert merged.coalesced


async def test_misuse_is_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        SQLiteJobQueue(conn, concurrency=0)
    queue = SQLiteJobQueue(conn)
    queue.register("run", _noop)
    with pytest.raises(ValueError, match="already registered"):
        queue.register("run", _noop)
    await queue.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            await queue.start()
    finally:
        await queue.stop()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"task": ""}, "task"), ({"max_attempts": 0}, "max_attempts"), ({"delay_s": -1}, "delay")],
)
def test_new_job_checks_its_values(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"task": "run", **kwargs}
    with pytest.raises(ValueError, match=message):
        NewJob(**values)  # type: ignore[arg-type]


async def test_handlers_tell_a_cancel_from_a_shutdown(conn: sqlite3.Connection) -> None:
    """A user's cancel is reported by the run; a shutdown must not be (the job runs again)."""
    from bot.queue import cancel_requested  # noqa: PLC0415

    seen: list[bool] = []
    started = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as exc:
            seen.append(cancel_requested(exc))
            raise

    queue = SQLiteJobQueue(conn, idle_poll_s=0.01)
    queue.register("run", slow)
    first = await queue.submit(NewJob(task="run", lock="a"))
    await queue.start()
    await asyncio.wait_for(started.wait(), 5)
    assert first.job_id is not None
    assert await queue.cancel(first.job_id)
    started.clear()
    await queue.submit(NewJob(task="run", lock="b"))
    await asyncio.wait_for(started.wait(), 5)
    await queue.stop()
    assert seen == [True, False]
