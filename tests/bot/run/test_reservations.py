"""A run's reservation against the monthly budgets ends with the run, however it ends: a cancel
releases it; a run taken up again after its process stopped replaces its own (never counts it
against itself); a reservation nobody will release (its process died in its last attempt)
stops counting once it expires."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING

import pytest

from bot.run.budget import RESERVATION_MARGIN_S
from tests.bot.run.flow import OWNER, REPO, command_agent, fake, start, writes, yml
from tests.e2e.command_agents import until
from tests.e2e.repo_files import CALC
from tests.store.conftest import Clock, utc

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.process import Completed
    from adapters.runner import ProcessJob
    from bot.stack import Stack

pytestmark = pytest.mark.anyio
JANUARY = utc(2027, 1, 20)
# $1 a month and a $0.80 cap: while one run holds its cap, too little is left for another.
CONFIG = yml(
    command_agent("writer", max_cost_usd="0.8", timeout="2m"),
    "writer",
    extra="budget: {monthly_usd: 1}\n",
)
TOO_LITTLE = "This repository's monthly budget has $0.2000 left"


class Hang:
    """A runner step for an agent that works until it is stopped from outside."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def __call__(self, job: ProcessJob) -> Completed:
        writes({"half.txt": "half\n"})(job)
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("not reached")


async def issue(stack: Stack, title: str) -> int:
    number = await stack.open_issue(OWNER, REPO, title, "Do it.")
    await stack.label(OWNER, REPO, number, "agent:fix")
    return number


async def held(stack: Stack) -> float:
    """What running runs hold of the repository's budget, once every job has ended (a run
    releases its hold after its status comment says how it ended)."""
    await stack.runtime.queue.wait_idle(30)
    services = stack.runtime.services
    return await services.store.held(now=services.clock(), repo=REPO)


async def test_a_cancelled_run_releases_its_reservation(tmp_path: Path) -> None:
    hang = Hang()
    runner = fake(hang, writes({"b.txt": "b\n"}))
    async with await start(tmp_path, runner, clock=Clock(JANUARY)) as stack:
        await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": CONFIG})
        first = await issue(stack, "First")
        await asyncio.wait_for(hang.started.wait(), 30)
        services = stack.runtime.services
        assert await services.store.held(now=services.clock(), repo=REPO) == pytest.approx(0.8)
        await stack.comment(OWNER, REPO, first, "/agent cancel")
        [status] = await stack.wait_final(REPO, first)
        assert "🛑 Cancelled" in status, status
        assert await held(stack) == 0.0
        second = await issue(stack, "Second")
        [status] = await stack.wait_final(REPO, second)
        assert "✅ Done" in status, status  # the whole remainder was there for it


async def test_a_run_taken_up_again_after_a_restart_is_not_refused_by_its_own_hold(
    tmp_path: Path,
) -> None:
    hang = Hang()
    runner = fake(hang, writes({"done.txt": "done\n"}, costs=(0.3,)))
    async with await start(tmp_path, runner, clock=Clock(JANUARY)) as stack:
        await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": CONFIG})
        number = await issue(stack, "Task")
        await asyncio.wait_for(hang.started.wait(), 30)
        await stack.stop_baton()  # mid-run: the job is queued again, its reservation left
        await stack.start_baton()
        [status] = await stack.wait_final(REPO, number)
        assert "✅ Done" in status, status
        row = await stack.runtime.services.store.get_run("r1")
        assert row is not None
        assert (row.status, row.cost_cap_usd) == ("success", 0.8)
        assert await held(stack) == 0.0


async def test_a_reservation_nobody_will_release_stops_counting_once_it_expires(
    tmp_path: Path,
) -> None:
    clock = Clock(JANUARY)
    hang = Hang()
    runner = fake(hang, writes({"b.txt": "b\n"}))
    async with await start(tmp_path, runner, clock=clock) as stack:
        await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": CONFIG})
        await issue(stack, "Dies")
        await asyncio.wait_for(hang.started.wait(), 30)
        await stack.stop_baton()
        # As when the process died during the job's last attempt: the queue gives the job up
        # at the next start, and nothing will end its run or release its reservation.
        with sqlite3.connect(tmp_path / "baton.db") as conn:
            conn.execute("UPDATE jobs SET status = 'failed' WHERE id = 1")
        await stack.start_baton()
        second = await issue(stack, "Blocked")
        [status] = await stack.wait_final(REPO, second)
        assert TOO_LITTLE in status, status
        assert "runs going on now hold $0.8000 more of it" in status
        # The label went before the comment said so: adding it again at once asks again.
        repo = stack.hub.repo(OWNER, "calc")
        assert "agent:fix" not in repo.issues[second].labels
        clock.now = JANUARY + 120 + RESERVATION_MARGIN_S  # its timeout, and the margin, later
        await stack.label(OWNER, REPO, second, "agent:fix")
        statuses = await stack.wait_final(REPO, second, count=2)
        assert "✅ Done" in statuses[1], statuses
        assert await held(stack) == 0.0

        async def gone() -> bool:
            with sqlite3.connect(tmp_path / "baton.db") as conn:
                (count,) = conn.execute("SELECT COUNT(*) FROM reservations").fetchone()
            return bool(count == 0)

        await until(gone, "the expired reservation to be deleted")
