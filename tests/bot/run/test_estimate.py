"""The history estimate in a starting run's status comment: p50 and p90 of what the last runs of
the same agent, repository and label cost and took, labelled as an estimate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.estimate import estimate_text
from bot.ledger import RunRecord
from tests.bot.run.flow import OWNER, REPO, command_agent, fake, start, writes, yml
from tests.e2e.repo_files import CALC

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


async def test_the_seventh_run_shows_what_the_six_before_it_cost(tmp_path: Path) -> None:
    costs = [0.06, 0.01, 0.05, 0.02, 0.04, 0.03, 0.5]
    runner = fake(*(writes({f"n{i}.txt": "x\n"}, costs=(c,)) for i, c in enumerate(costs)))
    config = yml(command_agent("writer"), "writer")
    async with await start(tmp_path, runner) as stack:
        await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": config})
        statuses = []
        for i in range(7):
            number = await stack.open_issue(OWNER, REPO, f"Task {i}", "Do it.")
            await stack.label(OWNER, REPO, number, "agent:fix")
            [status] = await stack.wait_final(REPO, number)
            statuses.append(status)
        assert all("✅ Done" in s for s in statuses), statuses
        assert (
            "Estimate: no history yet (fewer than 5 earlier runs of `writer` for " in (statuses[0])
        )
        assert "no history yet" in statuses[4]  # four runs before it
        assert "Estimate from the last 5 runs" in statuses[5]
        seventh = statuses[6]
        assert (
            "Estimate from the last 6 runs of `writer` for `agent:fix` on this repository (what "
            "runs like this one cost and took here; not a price): cost p50 $0.0300, p90 $0.0600;"
        ) in seventh, seventh
        assert "; duration p50 " in seventh


def ended(cost: float, duration: float) -> RunRecord:
    return RunRecord(
        id="r", job_id=1, repo=REPO, number=1, trigger="label", verb="fix", requester=OWNER,
        status="success", created_at=1.0, agent="writer", cost_usd=cost, duration_s=duration,
    )  # fmt: skip


def test_percentiles_are_nearest_rank_and_durations_read_as_durations() -> None:
    rows = [ended(c / 100, d) for c, d in zip(range(1, 11), range(10, 110, 10), strict=True)]
    text = estimate_text(rows, agent="writer", alike="`/agent retry`")
    assert "cost p50 $0.0500, p90 $0.0900; duration p50 50.0s, p90 1m30s." in text
