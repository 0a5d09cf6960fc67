"""The scoreboard from GitHub's own webhooks: Baton opens pull requests in the emulator, people
merge one untouched, push to one and merge it, close one, merge and revert one; an agent run
fails on the way. Each step moves merge rate, zero-touch rate and cost per merged PR exactly
as the facts say, `/agent stats` and `baton stats` say the same, and the branches go (but the
one a person pushed to)."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from typing import TYPE_CHECKING, Any, Literal

import pytest
from githubkit import AppAuthStrategy, GitHub

from bot.localhub import gitstore
from bot.localhub.revert import revert_pull
from bot.queue import JobStatus
from bot.scoreboard.read import load_scoreboard
from bot.stack import Stack, make_keys
from bot.stats_cli import print_stats
from config.settings import load_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from bot.scoreboard.compute import Figures

pytestmark = pytest.mark.anyio
OWNER, NAME = "octocat", "notes"
REPO = f"{OWNER}/{NAME}"
SUCCESS_COST, FAILURE_COST = 0.10, 0.40
# A `command` agent: it writes the note its task names, or fails (having spent) on FAIL.
SCRIPT = r"""
import json, pathlib, re, sys
brief = pathlib.Path(sys.argv[1]).read_text()
task = re.search(r"TASK-(\d+)", brief).group(1)
if "FAIL" in brief:
    print(json.dumps({"cost": FAILURE_COST, "summary": "gave up"}))
    sys.exit(3)
pathlib.Path(f"note-{task}.md").write_text(f"note {task}\n")
print(json.dumps({"cost": SUCCESS_COST, "summary": f"wrote note-{task}.md"}))
""".replace("FAILURE_COST", str(FAILURE_COST)).replace("SUCCESS_COST", str(SUCCESS_COST))
AGENTS_YML = f"""version: 1
agents:
  writer:
    adapter: command
    command: [{json.dumps(sys.executable)}, -c, {json.dumps(SCRIPT)}, "{{prompt_file}}"]
    output: {{format: json, cost_usd: cost, summary: summary}}
routes:
  - agent: writer
"""
CI_APP = 2


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    settings = {"job_max_attempts": "2", "job_retry_base_s": "0", "sandbox": "none"}
    async with Stack(workdir=tmp_path, settings=settings) as running:
        yield running


async def settle(stack: Stack) -> None:
    """Every webhook delivered, and every job it queued done."""
    queue = stack.runtime.queue
    for _ in range(3):  # jobs send webhooks, whose jobs may send more
        await stack.hub.wait_for_deliveries()
        deadline = time.monotonic() + 30
        while await queue.count(status=JobStatus.QUEUED) or await queue.count(
            status=JobStatus.RUNNING
        ):
            assert time.monotonic() < deadline, "jobs still pending"
            await asyncio.sleep(0.05)


async def figures(stack: Stack) -> Figures:
    await settle(stack)
    board = await load_scoreboard(stack.runtime.services.store, now=time.time(), repo=REPO)
    [row] = board.by_agent
    assert row.agent == "writer"
    return row.figures


def rates(f: Figures) -> tuple[Any, ...]:
    per = f.cost_per_merged_usd
    return (f.merge_rate, f.zero_touch_rate, None if per is None else round(per, 6))


async def open_pr(stack: Stack, task: int, extra: str = "") -> dict[str, Any]:
    number = await stack.open_issue(OWNER, REPO, f"TASK-{task} {extra}".strip(), "Write a note.")
    await stack.label(OWNER, REPO, number, "agent:fix")
    await stack.wait_final(REPO, number)
    pulls = [p for p in await stack.pulls(REPO) if p["title"].split()[0] == f"TASK-{task}"]
    return pulls[0] if pulls else {}


def ci(stack: Stack) -> GitHub[Any]:
    """A CI app beside Baton, checking the heads of pull requests."""
    keys = make_keys()
    stack.hub.register_app(CI_APP, "ci", keys.public_pem, None)
    installation = stack.hub.install(CI_APP, OWNER)
    app = GitHub(AppAuthStrategy(CI_APP, keys.private_pem), base_url=stack.hub_server.api_url)
    return app.with_auth(app.auth.as_installation(installation))


async def check(gh: GitHub[Any], sha: str, conclusion: Literal["success", "failure"]) -> None:
    await gh.rest.checks.async_create(
        OWNER, NAME, name="tests", head_sha=sha, status="completed", conclusion=conclusion
    )


async def branches(stack: Stack) -> set[str]:
    async with stack.user(OWNER) as user:
        resp = await user.get(f"repos/{REPO}/pulls", params={"state": "all"})
        wanted = {p["head"]["ref"] for p in resp.json()}
    repo = stack.hub.repo(OWNER, NAME)
    assert repo is not None
    return wanted & set(await gitstore.branches(repo.path))


@pytest.mark.slow
async def test_merges_touches_closes_and_reverts_move_the_scoreboard(stack: Stack) -> None:
    await stack.create_repo(OWNER, NAME, {"README.md": "# notes\n", ".agents.yml": AGENTS_YML})
    stack.hub.create_user("reviewer")
    stack.hub.set_permission(REPO, "reviewer", "write")
    checks = ci(stack)
    untouched, touched = await open_pr(stack, 1), await open_pr(stack, 2)
    closed, reverted = await open_pr(stack, 3), await open_pr(stack, 4)
    assert all(p["user"]["login"] == "baton[bot]" for p in (untouched, touched, closed, reverted))
    assert await open_pr(stack, 5, "FAIL") == {}  # failed, having spent FAILURE_COST
    async with checks:
        await check(checks, untouched["head"]["sha"], "success")
        await check(checks, touched["head"]["sha"], "failure")
    f = await figures(stack)
    # Four PRs open and younger than the window: no rate yet; only the failed run's cost is in.
    assert (f.runs, f.opened, f.still_open, f.counted) == (5, 4, 4, 0)
    assert rates(f) == (None, None, None)
    assert (f.cost_runs, f.cost_usd) == (1, FAILURE_COST)

    async with stack.user(OWNER) as owner, stack.user("reviewer") as reviewer:
        n = untouched["number"]
        done = await owner.put(f"repos/{REPO}/pulls/{n}/merge", json={})
        assert done.status_code == 200, done.text
        f = await figures(stack)
        assert rates(f) == (1.0, 1.0, SUCCESS_COST + FAILURE_COST)
        assert (f.ci_first_pass, f.ci_first_known) == (1, 1)

        n = touched["number"]
        changes = {"event": "REQUEST_CHANGES", "body": "Say more in the note."}
        await reviewer.post(f"repos/{REPO}/pulls/{n}/reviews", json=changes)
        clone_url = touched["head"]["repo"]["clone_url"]
        better = {"note-2.md": "note 2, said better\n"}
        await stack.push_files(
            OWNER, clone_url, better, message="Say more", branch=touched["head"]["ref"]
        )
        await reviewer.post(f"repos/{REPO}/pulls/{n}/reviews", json={"event": "APPROVE"})
        await owner.put(f"repos/{REPO}/pulls/{n}/merge", json={})
        f = await figures(stack)
        assert rates(f) == (1.0, 0.5, round((2 * SUCCESS_COST + FAILURE_COST) / 2, 6))
        assert (f.ci_first_pass, f.ci_first_known) == (1, 2)
        assert f.review_rounds == (0, 2)  # two heads reviewed before the second merge

        await owner.patch(f"repos/{REPO}/pulls/{closed['number']}", json={"state": "closed"})
        f = await figures(stack)
        assert rates(f) == (2 / 3, 0.5, round((3 * SUCCESS_COST + FAILURE_COST) / 2, 6))

        await owner.put(f"repos/{REPO}/pulls/{reverted['number']}/merge", json={})
        f = await figures(stack)
        assert rates(f) == (3 / 4, 2 / 3, round((4 * SUCCESS_COST + FAILURE_COST) / 3, 6))
        assert (f.reverted, f.revert_known) == (0, 0)  # merged today: its 14 days are ahead

        repo = stack.hub.repo(OWNER, NAME)
        assert repo is not None
        revert = await revert_pull(stack.hub, repo, reverted["number"], OWNER)
        await owner.put(f"repos/{REPO}/pulls/{revert}/merge", json={})
        f = await figures(stack)
        assert (f.reverted, f.revert_known) == (1, 1)
        assert rates(f) == (3 / 4, 2 / 3, round((4 * SUCCESS_COST + FAILURE_COST) / 3, 6))
        assert (f.opened, f.merged, f.closed_unmerged, f.still_open) == (4, 3, 1, 0)

        # The same figures on GitHub and in the terminal.
        await stack.comment(OWNER, REPO, untouched["number"], "/agent stats")
        await settle(stack)
        said = await stack.comments(REPO, untouched["number"])
        [reply] = [c["body"] for c in said if "Agent scoreboard" in c["body"]]
        assert "| `writer` | 5 | 4 | 3 | 1 | 0 | 75% (3/4) | 67% (2/3) |" in reply
        assert "$0.2667" in reply
        assert f"| `writer` | agent:fix | {REPO} | 5 | 4 | 3 |" in reply
        assert "Drafts are left out until they are ready" in reply

    out = io.StringIO()
    settings = load_settings(stack.env())
    # The command runs its own event loop, as from a terminal.
    assert await asyncio.to_thread(print_stats, settings, repo=REPO, out=out, as_json_=True) == 0
    data = json.loads(out.getvalue())
    [agent] = data["by_agent"]
    assert (agent["merge_rate"], agent["zero_touch_rate"]) == (0.75, pytest.approx(2 / 3))
    assert agent["cost_per_merged_pr_usd"] == pytest.approx(0.8 / 3)
    by_run = {r["pr_number"]: r for r in data["runs"] if r["pr_number"]}
    assert by_run[touched["number"]]["zero_touch"] is False
    assert by_run[reverted["number"]]["reverted"] is True

    # Branches: gone once merged or closed, but the one a person pushed to.
    revert_branch = f"revert-{reverted['number']}-{reverted['head']['ref']}"
    assert await branches(stack) == {touched["head"]["ref"], revert_branch}


async def test_a_branch_is_kept_when_the_repository_says_so(stack: Stack) -> None:
    yml = AGENTS_YML + "policy: {delete_branch_on_close: false}\n"
    await stack.create_repo(OWNER, NAME, {"README.md": "# notes\n", ".agents.yml": yml})
    pr = await open_pr(stack, 1)
    async with stack.user(OWNER) as owner:
        await owner.put(f"repos/{REPO}/pulls/{pr['number']}/merge", json={})
    await settle(stack)
    assert await branches(stack) == {pr["head"]["ref"]}
    f = await figures(stack)
    assert (f.merged, f.zero_touch) == (1, 1)
