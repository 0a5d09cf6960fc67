"""Monthly budgets before a run starts: a run that would cross one is refused with the spend, the
limit, the layer that set it and how to raise it; a new month resets it; concurrent runs reserve
their caps, so together they never overspend a small remainder."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from adapters.base import RunStatus
from bot.ledger import RunRecord
from bot.ledger_cli import print_spend
from config.settings import load_settings
from tests.bot.run.flow import (
    OWNER,
    REPO,
    command_agent,
    fake,
    labeled,
    start,
    writes,
    yml,
)
from tests.e2e.command_agents import reply, until
from tests.e2e.repo_files import CALC
from tests.store.conftest import Clock, utc

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.process import Completed
    from adapters.runner import ProcessJob
    from bot.stack import Stack

pytestmark = pytest.mark.anyio
AGENT = command_agent("writer")
JANUARY = utc(2027, 1, 20)


async def spent(stack: Stack, dollars: float, *, at: float, repo: str = REPO) -> None:
    """Earlier runs' cost in the ledger."""
    row = RunRecord(
        id=f"old-{dollars}-{repo}",
        job_id=None,
        repo=repo,
        number=99,
        trigger="label",
        verb="fix",
        requester=OWNER,
        status=RunStatus.SUCCESS,
        created_at=at,
        agent="writer",
        cost_usd=dollars,
        cost_source="reported",
    )
    await stack.runtime.services.store.save_run(row)


async def org_file(stack: Stack, text: str) -> None:
    await stack.create_repo(OWNER, ".github", {"agents.yml": text})


@dataclass(frozen=True)
class Layer:
    """A monthly budget set by one layer, and what the refusal must say about it."""

    repo_budget: str
    org: str
    title: str
    set_by: str
    how: str


LAYERS = {
    "repo file": Layer(
        repo_budget="budget: {monthly_usd: 1}\n",
        org="",
        title="This repository's monthly budget",
        set_by="`budget.monthly_usd` (repo file .agents.yml:",
        how="raise `budget.monthly_usd` in `.agents.yml` on the default branch",
    ),
    "org defaults": Layer(
        repo_budget="",
        org="version: 1\ndefaults:\n  budget: {org_monthly_usd: 1}\n",
        title="The octocat organization's monthly budget",
        set_by="`budget.org_monthly_usd` (org defaults, octocat/.github:agents.yml:3:",
        how="raise `defaults.budget.org_monthly_usd` in octocat/.github:agents.yml:3:",
    ),
    "enforce": Layer(
        repo_budget="budget: {per_requester_monthly_usd: 50}\n",  # locked: not applied
        org="version: 1\nenforce:\n  budget: {per_requester_monthly_usd: 1}\n",
        title="@octocat's monthly budget",
        set_by="`budget.per_requester_monthly_usd` (`enforce`, locked by the org, octocat/",
        how="only an org admin can raise it: `enforce.budget.per_requester_monthly_usd` in ",
    ),
}


@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
async def test_a_run_that_would_cross_a_monthly_budget_is_refused_until_next_month(
    tmp_path: Path, layer: Layer
) -> None:
    clock = Clock(JANUARY)
    runner = fake(writes({"notes.txt": "x\n"}))
    async with await start(tmp_path, runner, clock=clock) as stack:
        if layer.org:
            await org_file(stack, layer.org)
        await spent(stack, 0.9, at=JANUARY - 86400)
        await spent(stack, 5.0, at=utc(2026, 12, 31, 23, 59, 59))  # December's: not counted
        number = await labeled(stack, yml(AGENT, "writer", extra=layer.repo_budget))
        [status] = await stack.status_comments(REPO, number)
        assert "🚫 Not started" in status, status
        assert (
            f"{layer.title} has $0.1000 left, less than `budget.min_run_usd` ($0.2500), so no run "
            "starts: $0.9000 spent this month of its $1.0000 limit."
        ) in status
        assert f"The limit is {layer.set_by}" in status
        assert layer.how in status
        assert "or wait for the next month (2027-02-01 00:00 UTC)" in status
        assert runner.jobs == []
        clock.now = utc(2027, 2, 1)  # a new month: its budget is whole again
        await stack.label(OWNER, REPO, number, "agent:fix")
        statuses = await stack.wait_final(REPO, number, count=2)
        assert "✅ Done" in statuses[1], statuses
        assert len(runner.jobs) == 1


async def test_ten_runs_at_once_never_overspend_a_small_remainder(tmp_path: Path) -> None:
    """Each run's cap is reserved while it runs: with $1 left and a $0.30 cap, three start and
    the other seven are refused, although none has spent anything yet when they all plan."""
    clock = Clock(JANUARY)
    all_planned = asyncio.Event()

    async def slow(job: ProcessJob) -> Completed:
        # Each agent runs until every run has planned (or long enough to tell).
        await asyncio.wait_for(all_planned.wait(), timeout=20)
        return writes({f"{job.name}.txt": "x\n"}, costs=(0.29,))(job)

    runner = fake(*([slow] * 10))
    agent = command_agent("writer", max_cost_usd="0.3")
    config = yml(agent, "writer", extra="budget: {monthly_usd: 1}\n")
    settings = {"worker_concurrency": "10"}
    async with await start(tmp_path, runner, clock=clock, settings=settings) as stack:
        await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": config})
        numbers = [await stack.open_issue(OWNER, REPO, f"Task {i}", "Do it.") for i in range(10)]
        await asyncio.gather(*(stack.label(OWNER, REPO, n, "agent:fix") for n in numbers))

        async def refusals() -> int:
            counted = 0
            for n in numbers:
                counted += sum("🚫" in s for s in await stack.status_comments(REPO, n))
            return counted

        async def planned() -> bool:
            return await refusals() >= 7 or len(runner.jobs) > 3

        await until(planned, "seven refusals, or a fourth agent")
        all_planned.set()
        finals = [(await stack.wait_final(REPO, n))[0] for n in numbers]
        await stack.runtime.queue.wait_idle(30)  # a run releases its hold after its comment
        store = stack.runtime.services.store
        total = await store.spend(since=utc(2027, 1, 1), repo=REPO)
        assert sum("✅ Done" in s for s in finals) == 3, finals
        assert sum("🚫 Not started" in s for s in finals) == 7
        assert len(runner.jobs) == 3
        assert total == pytest.approx(0.87)
        assert total <= 1.0
        assert await store.held(now=clock(), repo=REPO) == 0.0  # every reservation released


async def test_agent_budget_shows_spend_by_source_caps_and_what_is_left(tmp_path: Path) -> None:
    clock = Clock(JANUARY)
    runner = fake(writes({"notes.txt": "x\n"}, costs=(0.01,)))
    caps = "budget: {monthly_usd: 1, per_requester_monthly_usd: 0.5, per_run_usd: 0.25}\n"
    async with await start(tmp_path, runner, clock=clock) as stack:
        await org_file(stack, "version: 1\ndefaults:\n  budget: {org_monthly_usd: 20}\n")
        number = await labeled(stack, yml(AGENT, "writer", extra=caps))  # reported: $0.01
        store = stack.runtime.services.store
        priced = RunRecord(
            id="old-priced",
            job_id=None,
            repo=REPO,
            number=99,
            trigger="label",
            verb="fix",
            requester="bob",
            status=RunStatus.SUCCESS,
            created_at=JANUARY,
            agent="codex",
            cost_usd=0.2,
            cost_source="priced",
        )
        await store.save_run(priced)
        await store.save_run(priced.with_(id="old-unknown", cost_usd=None, cost_source="unknown"))
        await stack.comment(OWNER, REPO, number, "/agent budget")
        text = await reply(stack, number)
        assert "Spend in 2027-01 (UTC calendar month), from the ledger:" in text
        assert (
            "| this repository | $0.0100 | $0.2000 | 1 run | $0.0000 | $1.0000 "
            "(`budget.monthly_usd` (repo file .agents.yml:6:10)) | $0.7900 |"
        ) in text
        assert (
            "| the octocat organization | $0.0100 | $0.2000 | 1 run | $0.0000 | $20.0000 "
            "(`budget.org_monthly_usd` (org defaults, octocat/.github:agents.yml:3:"
        ) in text
        assert "| @octocat | $0.0100 | $0.0000 | 0 runs | $0.0000 | $0.5000" in text
        assert "agents.yml:6:26)) | $0.4900 |" in text
        assert "Per-run cap: $0.2500 (`budget.per_run_usd` (repo file .agents.yml:6:" in text
        assert "at least $0.2500 (`budget.min_run_usd` (Baton's built-in default)) left" in text
        assert "unknown costs are not counted in what is left" in text


async def test_a_repo_cannot_raise_a_locked_budget_or_widen_allowed_agents(
    tmp_path: Path,
) -> None:
    clock = Clock(JANUARY)
    runner = fake()
    org = "version: 1\nenforce:\n  budget: {monthly_usd: 1}\n  allowed_agents: [writer]\n"
    wider = "budget: {monthly_usd: 100}\nallowed_agents: [writer, other]\n"
    agents = AGENT + command_agent("other")
    async with await start(tmp_path, runner, clock=clock) as stack:
        await org_file(stack, org)
        await spent(stack, 0.9, at=JANUARY)
        number = await labeled(stack, yml(agents, "writer", extra=wider))
        [status] = await stack.status_comments(REPO, number)
        assert "$0.9000 spent this month of its $1.0000 limit" in status, status  # the org's
        await stack.comment(OWNER, REPO, number, "/agent other fix")
        statuses = await stack.wait_final(REPO, number, count=2)
        assert (
            "`other` is not among the agents this repository may use (`allowed_agents`: "
            in (statuses[1])
        )
        await stack.comment(OWNER, REPO, number, "/agent config")
        text = await reply(stack, number)
        assert "monthly_usd: 1  # locked by octocat/.github:agents.yml:3:" in text
        assert "allowed_agents: [writer]  # locked by octocat/.github:agents.yml:4:" in text
        assert runner.jobs == []


async def test_baton_spend_shows_the_cap_that_refused_the_last_run(tmp_path: Path) -> None:
    """The repository's cap is lowered after a run; the next run is refused by it, and `baton
    spend` shows that cap, not the one the earlier run saw."""
    clock = Clock(JANUARY)
    runner = fake(writes({"notes.txt": "x\n"}, costs=(0.2,)))
    async with await start(tmp_path, runner, clock=clock) as stack:
        config = yml(AGENT, "writer", extra="budget: {monthly_usd: 5}\n")
        clone_url = await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": config})
        number = await stack.open_issue(OWNER, REPO, "Task", "Do it.")
        await stack.label(OWNER, REPO, number, "agent:fix")
        await stack.wait_final(REPO, number)
        lowered = yml(AGENT, "writer", extra="budget: {monthly_usd: 0.3}\n")
        await stack.push_files(OWNER, clone_url, {".agents.yml": lowered}, message="Less")
        await stack.label(OWNER, REPO, number, "agent:fix")
        statuses = await stack.wait_final(REPO, number, count=2)
        assert "$0.2000 spent this month of its $0.3000 limit" in statuses[1], statuses
        out = io.StringIO()
        settings = load_settings(stack.env())
        await asyncio.to_thread(
            print_spend, settings, repo=None, out=out, now=clock(), as_json=True
        )
        [row] = json.loads(out.getvalue())["rows"]
        assert (row["key"], row["cap_usd"], row["left_usd"]) == (REPO, 0.3, pytest.approx(0.1))
        assert row["cap_source"].startswith("`budget.monthly_usd` (repo file .agents.yml:")
