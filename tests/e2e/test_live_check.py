"""The live Baton check run over whole runs, as the emulator recorded every state it was sent:
queued when the run starts, in progress while the agent works (its cost growing), and concluded
success, failure or action_required (stopped at budget); a delivered run's PR head gets the
final check run too. The agents are real processes that stream their cost as they go."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from bot.stack import Stack

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
OWNER, NAME = "octocat", "notes"
REPO = f"{OWNER}/{NAME}"
# argv: prompt_file mode. It reports its cost as it goes (one JSON line at a time).
SCRIPT = r"""
import json, pathlib, sys, time
mode = sys.argv[2]
steps = 5 if mode == "budget" else 3
for i in range(1, steps + 1):
    print(json.dumps({"cost": round(0.01 * i, 2)}), flush=True)
    time.sleep(0.35)
if mode == "fail":
    sys.exit("the model said no")
pathlib.Path("note.md").write_text("a note\n")
print(json.dumps({"summary": "wrote note.md"}), flush=True)
"""


def agent(name: str, mode: str, extra: str = "") -> str:
    argv = [sys.executable, "-c", SCRIPT, "{prompt_file}", mode]
    return (
        f"  {name}: {{adapter: command, command: {json.dumps(argv)}, "
        f"output: {{format: jsonl, cost_usd: cost, summary: summary}}{extra}}}\n"
    )


AGENTS_YML = (
    "version: 1\nagents:\n"
    + agent("ok", "ok")
    + agent("broken", "fail")
    + agent("capped", "budget", ", max_cost_usd: 0.025")
    + "routes:\n"
    + "".join(f"  - when: {{label: 'agent:{n}'}}\n    agent: {n}\n" for n in ("ok", "broken"))
    + "  - when: {label: 'agent:capped'}\n    agent: capped\n"
)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    settings = {"sandbox": "none", "job_max_attempts": "1", "check_run_update_s": "0.2"}
    async with Stack(workdir=tmp_path, settings=settings) as running:
        yield running


async def run(stack: Stack, label: str) -> tuple[str, list[dict[str, Any]]]:
    """Label a new issue; the final status comment, and every state of its live check run."""
    number = await stack.open_issue(OWNER, REPO, f"Note ({label})", "Write a note.")
    await stack.label(OWNER, REPO, number, f"agent:{label}")
    [status] = await stack.wait_final(REPO, number)
    [row] = await stack.runtime.services.store.runs_for_target(REPO, number)
    repo = stack.hub.repo(OWNER, NAME)
    assert repo is not None
    deadline = time.monotonic() + 30
    while True:  # the end goes to GitHub off the run's path: it may follow the comment
        mine = [c for c in repo.check_runs.values() if c.external_id == row.id]
        live = [c for c in mine if c.head_sha != row.commit_sha]
        if live and live[0].status == "completed":
            return status, live[0].history
        assert time.monotonic() < deadline, f"no concluded live check run: {live}"
        await asyncio.sleep(0.05)


def states(history: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """The states in order, a run of updates in the same state counted once."""
    out: list[tuple[str, str | None]] = []
    for h in history:
        if not out or out[-1] != (h["status"], h["conclusion"]):
            out.append((h["status"], h["conclusion"]))
    return out


async def test_the_live_check_run_over_a_run_that_succeeds_fails_or_stops_at_budget(
    stack: Stack,
) -> None:
    await stack.create_repo(OWNER, NAME, {"README.md": "# notes\n", ".agents.yml": AGENTS_YML})

    status, history = await run(stack, "ok")
    assert "✅ Done" in status, status
    assert states(history) == [("queued", None), ("in_progress", None), ("completed", "success")]
    working = [h for h in history if h["status"] == "in_progress"]
    assert len(working) >= 2  # updated while the agent worked, not only at its start
    assert any("$0.0" in (h["title"] or "") for h in working)  # the cost so far
    assert "| elapsed |" in working[-1]["summary"]
    assert history[-1]["title"].startswith("ok · done · ")
    [pr] = await stack.pulls(REPO)
    async with stack.user(OWNER) as user:
        on_head = await user.get(f"repos/{REPO}/commits/{pr['head']['sha']}/check-runs")
    [final] = on_head.json()["check_runs"]
    assert (final["name"], final["conclusion"]) == ("Baton", "success")

    status, history = await run(stack, "broken")
    assert "❌ Failed" in status, status
    assert states(history) == [("queued", None), ("in_progress", None), ("completed", "failure")]
    assert "the model said no" in history[-1]["summary"]

    status, history = await run(stack, "capped")
    assert "💸 Stopped at budget" in status, status
    assert states(history) == [
        ("queued", None),
        ("in_progress", None),
        ("completed", "action_required"),
    ]
    assert history[-1]["title"].startswith("capped · stopped at budget · ")
