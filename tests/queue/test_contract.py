"""The JobQueue contract: every implementation must pass these tests unchanged."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import pytest

from bot.queue import (
    JobContext,
    JobInfo,
    JobQueue,
    JobStatus,
    NewJob,
    RetryLater,
    WaitTurn,
    cancel_requested,
)
from tests.queue.backends import REPO_ROOT, Backend

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def running(queue: JobQueue) -> AsyncIterator[JobQueue]:
    await queue.start()
    try:
        yield queue
    finally:
        await queue.stop()


async def finished(queue: JobQueue, job_id: int | None) -> JobInfo:
    assert job_id is not None
    async with asyncio.timeout(5):
        while True:
            info = await queue.get(job_id)
            assert info is not None
            if info.status.finished:
                return info
            await asyncio.sleep(0.005)


async def succeed(ctx: JobContext) -> None:
    return None


# ---------------------------------------------------------------- deliveries and dedupe


async def test_a_redelivered_webhook_enqueues_nothing(backend: Backend) -> None:
    queue = backend.queue()
    first = await queue.submit(NewJob(task="run", args={"n": 1}), delivery_id="d-1")
    again = await queue.submit(NewJob(task="run", args={"n": 2}), delivery_id="d-1")

    assert first.job_id is not None
    assert not first.duplicate_delivery
    assert not first.coalesced
    assert again.job_id is None
    assert again.duplicate_delivery
    assert [j.args for j in await queue.list_jobs()] == [{"n": 1}]


async def test_a_delivery_that_started_nothing_is_still_remembered(backend: Backend) -> None:
    queue = backend.queue()
    ignored = await queue.submit(None, delivery_id="d-2")
    later = await queue.submit(NewJob(task="run"), delivery_id="d-2")

    assert ignored.job_id is None
    assert not ignored.duplicate_delivery
    assert later.duplicate_delivery
    assert await queue.list_jobs() == []


async def test_a_rejected_job_does_not_consume_its_delivery(backend: Backend) -> None:
    queue = backend.queue()
    with pytest.raises(ValueError, match="JSON"):
        await queue.submit(NewJob(task="run", args={"when": object()}), delivery_id="d-3")

    # GitHub's redelivery of the same event must still be accepted.
    retried = await queue.submit(NewJob(task="run"), delivery_id="d-3")
    assert retried.job_id is not None
    assert not retried.duplicate_delivery


async def test_dedupe_key_coalesces_only_while_queued(backend: Backend) -> None:
    queue = backend.queue()
    release = asyncio.Event()
    first_running = asyncio.Event()
    calls: list[dict[str, object]] = []

    async def work(ctx: JobContext) -> None:
        calls.append(ctx.args)
        first_running.set()
        await release.wait()

    queue.register("run", work)
    # As a run's jobs are: locked on their issue, so a second one waits while the first runs.
    job = functools.partial(NewJob, task="run", dedupe_key="k", lock="o/r#1")
    first = await queue.submit(job(args={"v": 1}))
    merged = await queue.submit(job(args={"v": 2}))
    assert merged.coalesced
    assert merged.job_id == first.job_id

    async with running(queue):
        await asyncio.wait_for(first_running.wait(), 5)
        # The first one is running now: the same request may be queued once more.
        second = await queue.submit(job(args={"v": 3}))
        third = await queue.submit(job(args={"v": 4}))
        assert not second.coalesced
        assert second.job_id != first.job_id
        assert third.coalesced
        assert third.job_id == second.job_id
        release.set()
        assert (await finished(queue, second.job_id)).status is JobStatus.SUCCEEDED

    assert calls == [{"v": 1}, {"v": 3}]


# ---------------------------------------------------------------- locks and concurrency


async def test_jobs_of_one_lock_run_one_at_a_time_in_order(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    queue = backend.queue(concurrency=4)
    spans: list[tuple[int, float, float]] = []
    holders: list[int | None] = []

    async def work(ctx: JobContext) -> None:
        start = time.monotonic()
        holders.append(await queue.running_job_id("o/r#1"))
        await asyncio.sleep(0.05)
        spans.append((ctx.args["n"], start, time.monotonic()))

    queue.register("run", work)
    ids = [
        (await queue.submit(NewJob(task="run", args={"n": n}, lock="o/r#1"))).job_id
        for n in range(3)
    ]
    async with running(queue):
        await queue.wait_idle(5)

    assert [n for n, _, _ in spans] == [0, 1, 2]
    for (_, _, end), (_, next_start, _) in itertools.pairwise(spans):
        assert next_start >= end
    assert holders == ids
    assert await queue.running_job_id("o/r#1") is None
    # The lock is kept by the queue's own rule, not by tripping over a database constraint.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_retrying_job_keeps_its_place_in_its_lock(backend: Backend) -> None:
    queue = backend.queue(retry_base_s=0.05)
    events: list[str] = []

    async def work(ctx: JobContext) -> None:
        events.append(f"{ctx.args['name']}{ctx.attempt}")
        if ctx.args["name"] == "a" and ctx.attempt == 1:
            raise RetryLater("busy")

    queue.register("run", work)
    first = await queue.submit(NewJob(task="run", args={"name": "a"}, lock="o/r#1"))
    second = await queue.submit(NewJob(task="run", args={"name": "b"}, lock="o/r#1"))
    async with running(queue):
        await finished(queue, first.job_id)
        await finished(queue, second.job_id)

    # "b" waits for "a" to finish, even while "a" waits for its retry.
    assert events == ["a1", "a2", "b1"]


async def test_different_locks_run_in_parallel_up_to_concurrency(backend: Backend) -> None:
    queue = backend.queue(concurrency=2)
    active = 0
    peak = 0

    async def work(ctx: JobContext) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.1)
        active -= 1

    queue.register("run", work)
    for n in range(4):
        await queue.submit(NewJob(task="run", lock=f"o/r#{n}"))
    async with running(queue):
        await queue.wait_idle(5)

    # Two at once, never more: two rounds of two, not four in a row nor four together.
    assert peak == 2
    assert {j.status for j in await queue.list_jobs()} == {JobStatus.SUCCEEDED}


async def test_a_delayed_job_does_not_start_early(backend: Backend) -> None:
    queue = backend.queue()
    started: list[float] = []

    async def work(ctx: JobContext) -> None:
        started.append(time.monotonic())

    queue.register("run", work)
    submitted_at = time.monotonic()
    job = await queue.submit(NewJob(task="run", delay_s=0.2))
    async with running(queue):
        assert (await finished(queue, job.job_id)).status is JobStatus.SUCCEEDED

    assert started[0] - submitted_at >= 0.19


# ---------------------------------------------------------------- retries and failures


async def test_retry_later_backs_off_then_succeeds(backend: Backend) -> None:
    queue = backend.queue(retry_base_s=0.05)
    seen: list[tuple[int, bool, float]] = []

    async def flaky(ctx: JobContext) -> None:
        seen.append((ctx.attempt, ctx.final_attempt, time.monotonic()))
        if ctx.attempt < 3:
            raise RetryLater("GitHub answered 502")

    queue.register("run", flaky)
    job = await queue.submit(NewJob(task="run", max_attempts=3))
    async with running(queue):
        info = await finished(queue, job.job_id)

    assert info.status is JobStatus.SUCCEEDED
    assert info.attempts == 3
    assert info.error is None
    assert [(a, f) for a, f, _ in seen] == [(1, False), (2, False), (3, True)]
    # Backoff doubles: at least 0.05 s, then 0.1 s (full jitter at its ceiling in these tests).
    assert seen[1][2] - seen[0][2] >= 0.045
    assert seen[2][2] - seen[1][2] >= 0.095


async def test_retries_exhausted_fail_with_the_last_reason(backend: Backend) -> None:
    queue = backend.queue(retry_base_s=0.01)
    calls = 0

    async def always_busy(ctx: JobContext) -> None:
        nonlocal calls
        calls += 1
        raise RetryLater(f"rate limited ({ctx.attempt})")

    queue.register("run", always_busy)
    job = await queue.submit(NewJob(task="run", max_attempts=2))
    async with running(queue):
        info = await finished(queue, job.job_id)

    assert info.status is JobStatus.FAILED
    assert info.attempts == 2
    assert info.error == "rate limited (2)"
    assert calls == 2


async def test_a_requested_retry_delay_is_kept(backend: Backend) -> None:
    queue = backend.queue()

    async def later(ctx: JobContext) -> None:
        raise RetryLater("secondary rate limit", delay_s=60)

    queue.register("run", later)
    job = await queue.submit(NewJob(task="run"))
    assert job.job_id is not None
    async with running(queue):
        await queue.wait_idle(5)
        info = await queue.get(job.job_id)
        assert info is not None
        assert info.status is JobStatus.QUEUED
        assert info.error == "secondary rate limit"
        assert info.started_at is not None
        assert info.scheduled_at - info.started_at >= 59
        assert await queue.cancel(job.job_id)


async def test_waiting_for_a_turn_runs_again_later_without_spending_an_attempt(
    backend: Backend,
) -> None:
    queue = backend.queue()
    seen: list[tuple[int, float]] = []

    async def busy_twice(ctx: JobContext) -> None:
        seen.append((ctx.attempt, time.monotonic()))
        if len(seen) < 3:
            raise WaitTurn("all of the org's run slots are busy", delay_s=0.1)

    queue.register("run", busy_twice)
    job = await queue.submit(NewJob(task="run", max_attempts=1))
    async with running(queue):
        info = await finished(queue, job.job_id)

    assert info.status is JobStatus.SUCCEEDED
    assert [attempt for attempt, _ in seen] == [1, 1, 1]
    assert seen[1][1] - seen[0][1] >= 0.09


async def test_an_unexpected_exception_fails_at_once_and_the_worker_goes_on(
    backend: Backend,
) -> None:
    queue = backend.queue()
    calls = 0

    async def broken(ctx: JobContext) -> None:
        nonlocal calls
        calls += 1
        raise KeyError("missing")

    queue.register("broken", broken)
    queue.register("fine", succeed)
    bad = await queue.submit(NewJob(task="broken", lock="o/r#1"))
    good = await queue.submit(NewJob(task="fine", lock="o/r#1"))
    async with running(queue):
        failed = await finished(queue, bad.job_id)
        after = await finished(queue, good.job_id)

    assert failed.status is JobStatus.FAILED
    assert failed.attempts == 1
    assert failed.error is not None
    assert "KeyError" in failed.error
    assert calls == 1
    assert after.status is JobStatus.SUCCEEDED


async def test_a_job_without_a_handler_fails(backend: Backend) -> None:
    queue = backend.queue()
    job = await queue.submit(NewJob(task="nobody"))
    async with running(queue):
        info = await finished(queue, job.job_id)
    assert info.status is JobStatus.FAILED
    assert info.error is not None
    assert "nobody" in info.error


# ---------------------------------------------------------------- cancel


async def test_cancel_a_queued_job(backend: Backend) -> None:
    queue = backend.queue()
    calls = 0

    async def work(ctx: JobContext) -> None:
        nonlocal calls
        calls += 1

    queue.register("run", work)
    job = await queue.submit(NewJob(task="run", lock="o/r#1"))
    follower = await queue.submit(NewJob(task="run", lock="o/r#1"))
    assert job.job_id is not None

    assert await queue.cancel(job.job_id)
    async with running(queue):
        # The cancelled job no longer holds back the next job of its lock.
        assert (await finished(queue, follower.job_id)).status is JobStatus.SUCCEEDED

    info = await queue.get(job.job_id)
    assert info is not None
    assert info.status is JobStatus.CANCELLED
    assert calls == 1
    assert not await queue.cancel(job.job_id)
    assert not await queue.cancel(9999)


async def test_cancel_a_running_job(backend: Backend) -> None:
    queue = backend.queue(retry_base_s=0.01)
    started = asyncio.Event()
    saw_cancel: list[bool] = []
    attempts = 0

    async def long_run(ctx: JobContext) -> None:
        nonlocal attempts
        attempts += 1
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            saw_cancel.append(True)  # where a real handler kills its agent's sandbox
            raise

    queue.register("run", long_run)
    queue.register("next", succeed)
    job = await queue.submit(NewJob(task="run", lock="o/r#1"))
    follower = await queue.submit(NewJob(task="next", lock="o/r#1"))
    assert job.job_id is not None
    async with running(queue):
        await asyncio.wait_for(started.wait(), 5)
        assert await queue.cancel(job.job_id)
        assert (await finished(queue, follower.job_id)).status is JobStatus.SUCCEEDED
        await queue.wait_idle(5)

    info = await queue.get(job.job_id)
    assert info is not None
    assert info.status is JobStatus.CANCELLED
    assert saw_cancel == [True]
    assert attempts == 1


# ---------------------------------------------------------------- durability


async def test_queued_jobs_survive_a_restart(backend: Backend) -> None:
    first = backend.queue()
    ids = [(await first.submit(NewJob(task="run", args={"n": n}))).job_id for n in range(3)]
    await first.start()
    await first.stop()  # no handler registered for "run" here, so nothing ran

    done: list[int] = []

    async def work(ctx: JobContext) -> None:
        done.append(ctx.job_id)

    second = backend.queue()
    second.register("run", work)
    async with running(second):
        await second.wait_idle(5)

    assert done == ids


async def test_stop_leaves_a_running_job_queued_for_the_next_start(backend: Backend) -> None:
    first = backend.queue()
    started = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(30)

    first.register("run", slow)
    job = await first.submit(NewJob(task="run", lock="o/r#1"))
    assert job.job_id is not None
    async with running(first):
        await asyncio.wait_for(started.wait(), 5)

    info = await first.get(job.job_id)
    assert info is not None
    assert info.status is JobStatus.QUEUED
    assert await first.running_job_id("o/r#1") is None

    attempts: list[int] = []

    async def quick(ctx: JobContext) -> None:
        attempts.append(ctx.attempt)

    second = backend.queue()
    second.register("run", quick)
    async with running(second):
        assert (await finished(second, job.job_id)).status is JobStatus.SUCCEEDED
    # A shutdown is not a failure: the interrupted attempt does not count.
    assert attempts == [1]


async def test_wait_idle_times_out_while_work_is_due(backend: Backend) -> None:
    queue = backend.queue()
    await queue.submit(NewJob(task="run"))
    with pytest.raises(TimeoutError):
        await queue.wait_idle(0.05)


@pytest.mark.slow
async def test_a_job_left_running_by_a_killed_process_is_recovered(backend: Backend) -> None:
    queue = backend.queue()
    job = await queue.submit(NewJob(task="hang", args={"n": 1}))
    assert job.job_id is not None

    child = await asyncio.create_subprocess_exec(
        *backend.crash_worker_argv(), cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 20)
        assert line.decode().split() == ["claimed", str(job.job_id), "attempt", "1"]
    finally:
        with suppress(ProcessLookupError):
            child.kill()  # SIGKILL: the child gets no chance to record anything
        await child.wait()

    info = await queue.get(job.job_id)
    assert info is not None
    assert info.status is JobStatus.RUNNING

    seen: list[tuple[int, dict[str, object]]] = []

    async def finish(ctx: JobContext) -> None:
        seen.append((ctx.attempt, ctx.args))

    restarted = backend.queue()
    restarted.register("hang", finish)
    async with running(restarted):
        info = await finished(restarted, job.job_id)

    assert info.status is JobStatus.SUCCEEDED
    # The killed attempt counts: a job that kills its process must not loop forever.
    assert seen == [(2, {"n": 1})]


async def test_jobs_are_counted_by_status_without_loading_them(backend: Backend) -> None:
    queue = backend.queue()
    assert await queue.count(status=JobStatus.QUEUED) == 0
    await queue.submit(NewJob(task="t", args={"n": 1}))
    await queue.submit(NewJob(task="t", args={"n": 2}))
    assert await queue.count(status=JobStatus.QUEUED) == 2
    assert await queue.count(status=JobStatus.RUNNING) == 0


# ---------------------------------------------------------------- shutdown and cleanup


async def test_a_graceful_stop_lets_a_short_job_finish(backend: Backend) -> None:
    queue = backend.queue()
    started = asyncio.Event()

    async def short(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(0.2)

    queue.register("run", short)
    job = await queue.submit(NewJob(task="run"))
    later = await queue.submit(NewJob(task="run", delay_s=0.5))
    await queue.start()
    await asyncio.wait_for(started.wait(), 5)
    await queue.stop(grace_s=10)

    assert (await finished(queue, job.job_id)).status is JobStatus.SUCCEEDED
    # Nothing new was taken once the stop began.
    assert later.job_id is not None
    info = await queue.get(later.job_id)
    assert info is not None
    assert info.status is JobStatus.QUEUED


async def test_a_job_running_past_the_grace_goes_back_to_the_queue(backend: Backend) -> None:
    queue = backend.queue()
    started = asyncio.Event()
    ended_by: list[str] = []

    async def long(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as exc:
            ended_by.append("cancel" if cancel_requested(exc) else "shutdown")
            raise

    queue.register("run", long)
    job = await queue.submit(NewJob(task="run", lock="o/r#1"))
    assert job.job_id is not None
    await queue.start()
    await asyncio.wait_for(started.wait(), 5)
    await queue.stop(grace_s=0.2)

    info = await queue.get(job.job_id)
    assert info is not None
    assert (info.status, info.attempts) == (JobStatus.QUEUED, 0)
    assert ended_by == ["shutdown"]  # not reported as a user's cancel


async def test_purge_deletes_finished_jobs_and_old_deliveries_only(backend: Backend) -> None:
    queue = backend.queue()
    queue.register("run", succeed)
    done = await queue.submit(NewJob(task="run"), delivery_id="d-old")
    async with running(queue):
        await finished(queue, done.job_id)
    waiting = await queue.submit(NewJob(task="other"), delivery_id="d-new")
    cutoff = time.time() + 1  # everything so far is older

    kept = await queue.purge(finished_before=0, deliveries_before=0)
    assert (kept.jobs, kept.deliveries) == (0, 0)
    purged = await queue.purge(finished_before=cutoff, deliveries_before=cutoff)

    assert (purged.jobs, purged.deliveries) == (1, 2)
    assert [j.id for j in await queue.list_jobs()] == [waiting.job_id]  # queued: never purged
    # A delivery past the window is forgotten: GitHub can no longer redeliver it anyway.
    again = await queue.submit(NewJob(task="run"), delivery_id="d-old")
    assert not again.duplicate_delivery
