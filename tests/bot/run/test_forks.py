"""A fork's pull request: Baton never pushes to the fork; a retry puts the agent's work on a
branch of the base repository, starting from the fork's head, and opens a new PR that
references the original, and the status comment says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot import gitops
from tests.bot.run.flow import (
    OWNER,
    REPO,
    branch_files,
    command_agent,
    commits_on,
    fake,
    run_events,
    start,
    writes,
    yml,
)
from tests.e2e.repo_files import CALC

if TYPE_CHECKING:
    from pathlib import Path

    from bot.stack import Stack

pytestmark = pytest.mark.anyio


async def fork_pr(stack: Stack) -> tuple[int, str]:
    """mallory forks octocat/calc, commits to her fork and asks for it to be pulled."""
    config = yml(command_agent("writer"), "writer")
    await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": config})
    stack.hub.create_user("mallory")
    async with stack.user("mallory") as mallory:
        fork = (await mallory.post(f"repos/{REPO}/forks")).json()
        assert (fork["full_name"], fork["fork"], fork["parent"]["full_name"]) == (
            "mallory/calc",
            True,
            REPO,
        )
        await stack.push_files(
            "mallory", fork["clone_url"], {"hers.txt": "from the fork\n"}, message="Her change"
        )
        resp = await mallory.post(
            f"repos/{REPO}/pulls",
            json={
                "title": "Fix subtraction",
                "head": "mallory:main",
                "base": "main",
                "body": "Please",
            },
        )
        resp.raise_for_status()
        pr = resp.json()
    assert (pr["head"]["repo"]["full_name"], pr["head"]["label"]) == (
        "mallory/calc",
        "mallory:main",
    )
    return int(pr["number"]), str(fork["clone_url"])


async def fork_refs(stack: Stack) -> str:
    return await gitops.git("for-each-ref", cwd=stack.hub.repo("mallory", "calc").path)


async def test_a_retry_on_a_forks_pr_opens_a_new_pr_from_a_base_branch(tmp_path: Path) -> None:
    saw: list[set[str]] = []
    runner = fake(writes({"notes.txt": "done\n"}, saw=saw))
    async with await start(tmp_path, runner) as stack:
        number, _ = await fork_pr(stack)
        before = await fork_refs(stack)
        [original] = await stack.pulls(REPO)
        head = original["head"]["sha"]
        await stack.comment(OWNER, REPO, number, "/agent retry")
        [status] = await stack.wait_final(REPO, number)
        assert "✅ Done: `writer`" in status, status
        pulls = {p["number"]: p for p in await stack.pulls(REPO)}
        new = next(p for n, p in pulls.items() if n != number)
        branch = f"baton/{number}-fix-subtraction"
        said = (
            f"Continues #{number} (branch `main` of the fork `mallory/calc`): Baton never "
            f"pushes to a fork, so this work is on `{branch}` in this repository."
        )
        assert said in status
        assert new["html_url"] in status
        assert (new["head"]["ref"], new["head"]["repo"]["full_name"]) == (branch, REPO)
        assert new["body"].startswith(said)
        assert "hers.txt" in saw[0]  # the agent started from the fork's head
        assert {"hers.txt", "notes.txt"} <= await branch_files(stack, branch)
        assert next(c.split("|")[0] for c in await commits_on(stack, branch)) == "Her change"
        assert await fork_refs(stack) == before  # the fork received nothing
        assert pulls[number]["head"]["sha"] == head  # nor did its PR
        # The handoff brief shows the agent what the fork's pull request changes.
        runs = await stack.runtime.services.store.list_runs()
        [rid] = [r.id for r in runs if r.verb == "retry"]
        [brief] = [e["text"] for e in await run_events(stack, rid) if e["kind"] == "brief"]
        assert "diff against the base (1 files, +1 -0)" in brief, brief
        assert "+from the fork" in brief
        assert "the diff (1 files, +1 -0)" in status


async def test_a_second_retry_on_the_forks_pr_continues_baton_s_branch(tmp_path: Path) -> None:
    runner = fake(writes({"one.txt": "1\n"}), writes({"two.txt": "2\n"}))
    async with await start(tmp_path, runner) as stack:
        number, _ = await fork_pr(stack)
        before = await fork_refs(stack)
        await stack.comment(OWNER, REPO, number, "/agent retry")
        await stack.wait_final(REPO, number)
        await stack.comment(OWNER, REPO, number, "/agent retry")
        statuses = await stack.wait_final(REPO, number, count=2)
        assert all("✅ Done" in s for s in statuses), statuses
        assert len(await stack.pulls(REPO)) == 2  # the fork's, and the one Baton opened
        branch = f"baton/{number}-fix-subtraction"
        assert {"hers.txt", "one.txt", "two.txt"} <= await branch_files(stack, branch)
        assert await fork_refs(stack) == before
