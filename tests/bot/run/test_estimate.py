"""The history estimate in a starting run's status comment: p50 and p90 of what the last runs of
the same agent, repository and label cost and took, labelled as an estimate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.estimate import estimate_text
from bot.ledger import RunRecord
from tests.bot.run.flow import OWNER, REPO, command_agent, fake, labeled, start, writes, yml
from tests.e2e.repo_files import CALC

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


async def test_the_seventh_run_shows_what_the_six_before_it_cost(tmp_path: Path) -> None:
    """Five runs already in the ledger, a sixth scripted through the emulator: the seventh's
    status comment shows the six's p50 and p90."""
    runner = fake(writes({"a.txt": "x\n"}, costs=(0.06,)), writes({"b.txt": "x\n"}, costs=(0.5,)))
    config = yml(command_agent("writer"), "writer")
    async with await start(tmp_path, runner) as stack:
        await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": config})
        store = stack.runtime.services.store
        for i, cost in enumerate([0.01, 0.05, 0.02, 0.04, 0.03]):
            await store.save_run(ended(cost, 10.0 + i).with_(id=f"old{i}", label="agent:fix"))
        statuses = []
        for i in range(2):
            number = await stack.open_issue(OWNER, REPO, f"Task {i}", "Do it.")
            await stack.label(OWNER, REPO, number, "agent:fix")
            [status] = await stack.wait_final(REPO, number)
            statuses.append(status)
        assert all("✅ Done" in s for s in statuses), statuses
        assert "Estimate from the last 5 runs of `writer` for `agent:fix`" in statuses[0]
        seventh = statuses[1]
        assert (
            "Estimate from the last 6 runs of `writer` for `agent:fix` on this repository (what "
            "runs like this one cost and took here; not a price): cost p50 $0.0300, p90 $0.0600;"
        ) in seventh, seventh
        assert "; duration p50 " in seventh
        rows = await store.history(
            repo=REPO, agent="writer", label="agent:fix", verb="fix", limit=20
        )
        assert [r.cost_usd for r in rows][:2] == [0.5, 0.06]  # the scripted runs, as priced


async def test_fewer_than_five_runs_say_no_history_yet(tmp_path: Path) -> None:
    runner = fake(writes({"a.txt": "x\n"}))
    async with await start(tmp_path, runner) as stack:
        number = await labeled(stack, yml(command_agent("writer"), "writer"))
        [status] = await stack.status_comments(REPO, number)
        assert (
            "Estimate: no history yet (fewer than 5 earlier runs of `writer` for `agent:fix` on "
            "this repository)."
        ) in status


def ended(cost: float, duration: float) -> RunRecord:
    """A finished run of `writer` that cost `cost` and took `duration`."""
    return RunRecord(
        id="r",
        job_id=1,
        repo=REPO,
        number=1,
        trigger="label",
        verb="fix",
        requester=OWNER,
        status="success",
        created_at=1.0,
        agent="writer",
        cost_usd=cost,
        duration_s=duration,
    )


def test_percentiles_are_nearest_rank_and_durations_read_as_durations() -> None:
    rows = [ended(c / 100, d) for c, d in zip(range(1, 11), range(10, 110, 10), strict=True)]
    text = estimate_text(rows, agent="writer", alike="`/agent retry`")
    assert "cost p50 $0.0500, p90 $0.0900; duration p50 50.0s, p90 1m30s." in text
