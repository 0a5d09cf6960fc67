"""The whole loop through the local GitHub emulator: label -> agent -> annotated pull request."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adapters.scripted import COST_USD
from bot.database import open_database
from bot.ledger import Ledger
from bot.stack import Stack, provenance
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE, agents_yml

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
OWNER = "octocat"
REPO = "octocat/calc"


async def start(stack: Stack, files: dict[str, str] | None = None) -> int:
    await stack.create_repo(OWNER, "calc", files or {"calc.py": CALC, ".agents.yml": agents_yml()})
    return await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)


async def test_label_gives_an_annotated_pull_request(stack: Stack, tmp_path: Path) -> None:
    number = await start(stack)
    await stack.label(OWNER, REPO, number, "agent:fix")
    [status] = await stack.wait_final(REPO, number)
    assert "✅ Done" in status
    assert f"${COST_USD:.4f} (reported)" in status

    [pr] = await stack.pulls(REPO)
    assert pr["head"]["ref"] == "baton/1-add-subtracts"
    assert pr["base"]["ref"] == "main"
    assert pr["title"] == ISSUE_TITLE
    assert f"Fixes #{number}" in pr["body"]
    [run] = provenance(pr["body"])["runs"]
    assert run["agent"] == "demo"
    assert run["model"] == "scripted-1"
    assert run["cost_usd"] == COST_USD
    assert run["input_tokens"] == 1200
    assert run["output_tokens"] == 340

    # The branch holds the agent's change, committed by Baton with the provenance trailers.
    clone = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", "--branch", pr["head"]["ref"],
                    pr["head"]["repo"]["clone_url"], str(clone)], check=True)  # fmt: skip
    assert (clone / "calc.py").read_text().startswith("def add(a, b):\n    return a + b\n")
    trailers = subprocess.run(
        ["git", "log", "-1", "--format=%(trailers:only,unfold)"], cwd=clone, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert "Agent: demo" in trailers
    assert "Agent-Model: scripted-1" in trailers
    assert f"Agent-Cost-USD: {COST_USD:.4f}" in trailers
    assert "Baton-Run: r1" in trailers

    async with stack.user(OWNER) as user:
        checks = (await user.get(f"repos/{REPO}/commits/{pr['head']['sha']}/check-runs")).json()
        [check] = checks["check_runs"]
        assert check["name"] == "Baton"
        assert check["conclusion"] == "success"
        assert f"${COST_USD:.4f}" in check["output"]["title"]
        labels = (await user.get(f"repos/{REPO}/issues/{number}/labels")).json()
        assert "agent:fix" not in [label["name"] for label in labels]
        reactions = (await user.get(f"repos/{REPO}/issues/{number}/reactions")).json()
        assert {(r["content"], r["user"]["login"]) for r in reactions} == {("eyes", "baton[bot]")}

    conn = open_database(f"sqlite:///{stack.workdir / 'baton.db'}")
    [row] = Ledger(conn).recent()
    conn.close()
    assert (row.status, row.agent, row.pr_number, row.cost_usd) == (
        "success",
        "demo",
        pr["number"],
        COST_USD,
    )


async def test_relabel_after_success_updates_the_same_pr(stack: Stack) -> None:
    number = await start(stack)
    await stack.label(OWNER, REPO, number, "agent:fix")
    await stack.wait_final(REPO, number)
    await stack.label(OWNER, REPO, number, "agent:fix")
    statuses = await stack.wait_final(REPO, number, count=2)
    # The second run continues the open PR; its patch no longer applies, and it says so.
    assert "does not apply" in statuses[-1]
    assert len(await stack.pulls(REPO)) == 1


async def test_user_without_permission_gets_one_polite_comment(stack: Stack) -> None:
    number = await start(stack)
    stack.hub.create_user("mallory")
    stack.hub.set_permission(REPO, "mallory", "triage")  # may label, may not trigger
    await stack.label("mallory", REPO, number, "agent:fix")
    [status] = await stack.wait_final(REPO, number)
    assert "Sorry @mallory" in status
    assert "`write` permission" in status
    assert await stack.pulls(REPO) == []
    assert len(await stack.comments(REPO, number)) == 1


async def test_invalid_config_is_reported_with_its_position(stack: Stack) -> None:
    bad = "version: 1\nagents:\n  demo: {adapter: scripted, modle: x}\n"
    number = await start(stack, {"calc.py": CALC, ".agents.yml": bad})
    await stack.label(OWNER, REPO, number, "agent:fix")
    [status] = await stack.wait_final(REPO, number)
    assert ".agents.yml:3:" in status
    assert "modle" in status
    assert await stack.pulls(REPO) == []


async def test_same_delivery_twice_is_one_run(stack: Stack) -> None:
    number = await start(stack)
    await stack.label(OWNER, REPO, number, "agent:fix")
    await stack.wait_final(REPO, number)
    labeled = [d for d in stack.hub.deliveries if d.event == "issues" and d.action == "labeled"]
    await stack.hub.redeliver(labeled[-1].id)
    await stack.hub.wait_for_deliveries()
    assert len(await stack.status_comments(REPO, number)) == 1
    assert len(await stack.pulls(REPO)) == 1


async def test_github_5xx_during_a_run_is_retried_without_a_second_pr(stack: Stack) -> None:
    number = await start(stack)
    stack.hub.add_fault("POST", r"/repos/octocat/calc/pulls$", status=502, count=1)
    await stack.label(OWNER, REPO, number, "agent:fix")
    [status] = await stack.wait_final(REPO, number)
    assert "✅ Done" in status
    assert len(await stack.pulls(REPO)) == 1


async def test_github_down_ends_in_a_failure_comment(stack: Stack) -> None:
    number = await start(stack)
    stack.hub.add_fault("POST", r"/repos/octocat/calc/pulls$", status=503, count=100)
    await stack.label(OWNER, REPO, number, "agent:fix")
    [status] = await stack.wait_final(REPO, number, timeout_s=60)
    assert "Baton gave up after 3 attempts" in status
    assert "503" in status
    assert await stack.pulls(REPO) == []
