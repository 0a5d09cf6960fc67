"""The live check run's sender: created once the run has a commit, updated when due, concluded at
the end, carried on by a retried job; GitHub's trouble never reaches the run. On a real store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.checkrun.live import LiveCheck
from bot.github import GitHubUnavailable
from bot.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorder:
    """GitHub's side: every create and update, in order; optionally down for a while."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False

    async def create(self, **kw: Any) -> int:
        self._check()
        self.calls.append({"call": "create", **kw})
        return 41

    async def update(self, check_id: int, **kw: Any) -> None:
        self._check()
        self.calls.append({"call": "update", "id": check_id, **kw})

    async def find(self, *, head_sha: str, external_id: str) -> int | None:
        self._check()
        self.calls.append({"call": "find", "head_sha": head_sha, "external_id": external_id})
        made = [c for c in self.calls if c["call"] == "create" and c["head_sha"] == head_sha]
        return 41 if made else None

    def _check(self) -> None:
        if self.down:
            raise GitHubUnavailable("GitHub is down (test)")

    def states(self) -> list[tuple[str, str | None]]:
        return [(c["status"], c.get("conclusion")) for c in self.calls if "status" in c]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with await SQLiteStore.open(str(tmp_path / "b.db")) as opened:
        yield opened


async def until(cond: Any, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "not reached"
        await asyncio.sleep(0.01)


class Run:
    def __init__(self, store: SQLiteStore, live: LiveCheck) -> None:
        self.store, self.live = store, live

    async def event(self, kind: str, **data: Any) -> None:
        self.live.observe(await self.store.append_event("r7", kind, data))


async def test_queued_then_in_progress_then_updates_when_due_then_concluded(
    store: SQLiteStore,
) -> None:
    clock, github = Clock(), Recorder()
    run = Run(store, LiveCheck(run_id="r7", store=store, send=github, clock=clock))
    await run.event("started", agent="claude", model="sonnet")
    await run.event("workspace", head="abc")
    await until(lambda: len(github.calls) == 1)
    assert github.calls[0]["call"] == "create"
    assert (github.calls[0]["head_sha"], github.calls[0]["external_id"]) == ("abc", "r7")
    await run.event("agent_started")
    await until(lambda: len(github.calls) == 2)
    clock.now += 1
    await run.event("usage", usage={"input_tokens": 10, "output_tokens": 2}, cost_usd=0.01)
    await asyncio.sleep(0.1)
    assert len(github.calls) == 2  # not due: the last update was a second ago
    clock.now += 5
    await run.event("tool", tool="bash", text="bash ls")
    await until(lambda: len(github.calls) == 3)
    assert "`bash ls`" in github.calls[2]["summary"]
    assert "$0.0100" in github.calls[2]["title"]
    await run.event("ended", status="stopped_at_budget", reason="Stopped at its $0.01 cap.")
    await run.live.close()
    assert github.states() == [
        ("queued", None),
        ("in_progress", None),
        ("in_progress", None),
        ("completed", "action_required"),
    ]
    # The check run is found again by its run id (external_id), never remembered in the log.
    assert [e.kind for e in await store.events("r7")] == [
        "started",
        "workspace",
        "agent_started",
        "usage",
        "tool",
        "ended",
    ]


async def test_a_run_that_ends_before_it_has_a_commit_has_no_check_run(store: SQLiteStore) -> None:
    github = Recorder()
    run = Run(store, LiveCheck(run_id="r7", store=store, send=github))
    await run.event("started", agent="claude")
    await run.event("ended", status="failed", reason="no")
    await run.live.close()
    assert github.calls == []


async def test_a_retried_job_carries_on_with_the_check_run_it_made(store: SQLiteStore) -> None:
    github = Recorder()
    first = Run(store, LiveCheck(run_id="r7", store=store, send=github))
    await first.event("started", agent="claude")
    await first.event("workspace", head="abc")
    await first.event("agent_started")
    await until(lambda: len(github.calls) == 2)
    await first.live.close()  # the worker died here
    again = Run(store, LiveCheck(run_id="r7", store=store, send=github))
    await again.event("ended", status="failed", reason="GitHub refused the push")
    await again.live.close()
    assert [c["call"] for c in github.calls] == ["create", "update", "find", "update"]
    assert github.calls[2] == {"call": "find", "head_sha": "abc", "external_id": "r7"}
    assert github.calls[-1]["id"] == 41
    assert github.calls[-1]["conclusion"] == "failure"


async def test_github_down_delays_the_check_run_and_never_the_run(store: SQLiteStore) -> None:
    clock, github = Clock(), Recorder(down=True)
    run = Run(store, LiveCheck(run_id="r7", store=store, send=github, clock=clock))
    await run.event("started", agent="claude")
    await run.event("workspace", head="abc")
    await asyncio.sleep(0.1)
    assert github.calls == []
    github.down = False
    clock.now += 5
    await run.event("agent_started")
    await until(lambda: len(github.calls) == 2)
    assert github.states() == [("queued", None), ("in_progress", None)]
    await run.event("ended", status="success")
    await run.live.close()
    assert github.states()[-1] == ("completed", "success")


class Swallowing(Recorder):
    """A GitHub call inside a library that swallows a cancel (as some cancel scopes do)."""

    async def update(self, check_id: int, **kw: Any) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            assert task is not None
            task.uncancel()
        await super().update(check_id, **kw)


async def test_a_job_that_ends_unfinished_is_never_held_by_its_check_run(
    store: SQLiteStore,
) -> None:
    github = Swallowing()
    run = Run(store, LiveCheck(run_id="r7", store=store, send=github))
    await run.event("started", agent="claude")
    await run.event("workspace", head="abc")
    await run.event("agent_started")
    await until(lambda: len(github.calls) == 1)  # created; the update hangs in the library
    # The job gives up (a retry follows): close returns, whatever the library did.
    await asyncio.wait_for(run.live.close(), timeout=10)


@dataclass
class Deaf(Recorder):
    """GitHub's answer comes although the caller was cancelled meanwhile (Python 3.11's
    `asyncio.wait_for` returns what it waited for when that finished as the cancel came)."""

    answering: asyncio.Event = field(default_factory=asyncio.Event)

    async def update(self, check_id: int, **kw: Any) -> None:
        self.calls.append({"call": "update", "id": check_id, **kw})
        self.answering.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()


async def test_close_stops_the_sender_even_when_a_cancel_is_lost(store: SQLiteStore) -> None:
    """A job that goes back to the queue (GitHub failed a step) closes its live check run
    without an end: the sender stops although the call it was in swallowed the cancel, so the
    job is free to be retried."""
    github = Deaf()
    run = Run(store, LiveCheck(run_id="r7", store=store, send=github))
    await run.event("started", agent="claude")
    await run.event("workspace", head="abc")
    await run.event("agent_started")
    await asyncio.wait_for(github.answering.wait(), 5)
    closing = asyncio.ensure_future(run.live.close())
    done, _ = await asyncio.wait({closing}, timeout=5)
    assert done, "close() still waits for a sender that lost its cancel"
    assert [c["call"] for c in github.calls] == ["create", "update"]
