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
# argv: prompt_file mode gates. It reports its cost as it goes (one JSON line at a time), and
# after each of its first two reports waits until the test has seen that cost on GitHub: so
# the check run shows the agent at work however fast or slow this machine is.
SCRIPT = r"""
import json, pathlib, sys, time
mode, gates = sys.argv[2], pathlib.Path(sys.argv[3])
for i in (1, 2, 3):
    print(json.dumps({"cost": round(0.01 * i, 2)}), flush=True)
    deadline = time.monotonic() + 60
    while i < 3 and not (gates / str(i)).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
if mode == "fail":
    sys.exit("the model said no")
pathlib.Path("note.md").write_text("a note\n")
print(json.dumps({"summary": "wrote note.md"}), flush=True)
"""


def agent(name: str, mode: str, gates: Path, extra: str = "") -> str:
    argv = [sys.executable, "-c", SCRIPT, "{prompt_file}", mode, str(gates / name)]
    return (
        f"  {name}: {{adapter: command, command: {json.dumps(argv)}, "
        f"output: {{format: jsonl, cost_usd: cost, summary: summary}}{extra}}}\n"
    )


def agents_yml(gates: Path) -> str:
    return (
        "version: 1\nagents:\n"
        + agent("ok", "ok", gates)
        + agent("broken", "fail", gates)
        + agent("capped", "budget", gates, ", max_cost_usd: 0.025")
        + "routes:\n"
        + "".join(f"  - when: {{label: 'agent:{n}'}}\n    agent: {n}\n" for n in ("ok", "broken"))
        + "  - when: {label: 'agent:capped'}\n    agent: capped\n"
    )


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    settings = {"sandbox": "none", "job_max_attempts": "1", "check_run_update_s": "0.2"}
    async with Stack(workdir=tmp_path, settings=settings) as running:
        yield running


def live_check(stack: Stack, run_id: str, commit_sha: str) -> Any:
    """The run's live check run as the emulator holds it (not the one on its PR's head)."""
    repo = stack.hub.repo(OWNER, NAME)
    assert repo is not None
    mine = [c for c in repo.check_runs.values() if c.external_id == run_id]
    live = [c for c in mine if not commit_sha or c.head_sha != commit_sha]
    return live[0] if live else None


async def run(stack: Stack, label: str, gates: Path) -> tuple[str, list[dict[str, Any]]]:
    """Label a new issue; let its agent go on each time GitHub shows its cost so far; the final
    status comment, and every state of its live check run."""
    (gates / label).mkdir(parents=True)
    number = await stack.open_issue(OWNER, REPO, f"Note ({label})", "Write a note.")
    await stack.label(OWNER, REPO, number, f"agent:{label}")
    store = stack.runtime.services.store
    deadline = time.monotonic() + 60
    for gate, cost in ((1, "$0.0100"), (2, "$0.0200")):
        while True:
            rows = await store.runs_for_target(REPO, number)
            check = live_check(stack, rows[0].id, "") if rows else None
            shown = [h for h in check.history if h["status"] == "in_progress"] if check else []
            if any(cost in (h["title"] or "") for h in shown):
                (gates / label / str(gate)).write_text("seen")
                break
            assert time.monotonic() < deadline, f"GitHub never showed {cost}: {shown}"
            await asyncio.sleep(0.05)
    [status] = await stack.wait_final(REPO, number)
    [row] = await store.runs_for_target(REPO, number)
    deadline = time.monotonic() + 30
    while True:  # the end goes to GitHub off the run's path: it may follow the comment
        check = live_check(stack, row.id, row.commit_sha)
        if check is not None and check.status == "completed":
            return status, check.history
        assert time.monotonic() < deadline, f"no concluded live check run: {check}"
        await asyncio.sleep(0.05)


def states(history: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """The states in order, a run of updates in the same state counted once."""
    out: list[tuple[str, str | None]] = []
    for h in history:
        if not out or out[-1] != (h["status"], h["conclusion"]):
            out.append((h["status"], h["conclusion"]))
    return out


async def test_the_live_check_run_over_a_run_that_succeeds_fails_or_stops_at_budget(
    stack: Stack, tmp_path: Path
) -> None:
    files = {"README.md": "# notes\n", ".agents.yml": agents_yml(tmp_path / "gates")}
    await stack.create_repo(OWNER, NAME, files)

    status, history = await run(stack, "ok", tmp_path / "gates")
    assert "✅ Done" in status, status
    assert states(history) == [("queued", None), ("in_progress", None), ("completed", "success")]
    working = [h for h in history if h["status"] == "in_progress"]
    # Updated while the agent worked, its cost so far growing, not only at its start.
    costs = [c for c in ("$0.0100", "$0.0200") if any(c in h["title"] for h in working)]
    assert costs == ["$0.0100", "$0.0200"]
    assert "| elapsed |" in working[-1]["summary"]
    assert history[-1]["title"].startswith("ok · done · ")
    [pr] = await stack.pulls(REPO)
    async with stack.user(OWNER) as user:
        on_head = await user.get(f"repos/{REPO}/commits/{pr['head']['sha']}/check-runs")
    [final] = on_head.json()["check_runs"]
    assert (final["name"], final["conclusion"]) == ("Baton", "success")

    status, history = await run(stack, "broken", tmp_path / "gates")
    assert "❌ Failed" in status, status
    assert states(history) == [("queued", None), ("in_progress", None), ("completed", "failure")]
    assert "the model said no" in history[-1]["summary"]

    status, history = await run(stack, "capped", tmp_path / "gates")
    assert "💸 Stopped at budget" in status, status
    assert states(history) == [
        ("queued", None),
        ("in_progress", None),
        ("completed", "action_required"),
    ]
    assert history[-1]["title"].startswith("capped · stopped at budget · ")
