"""A pull request that changes `.agents.yml` gets a "Baton config" check run, through the local
GitHub emulator: errors annotated at their lines, the effective config when it is valid."""

from __future__ import annotations

from typing import Any

import pytest

from bot.stack import Stack
from tests.e2e.command_agents import OWNER, REPO, settle
from tests.e2e.repo_files import CALC

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
GOOD = "version: 1\nagents:\n  claude: {adapter: claude-code, model: claude-sonnet-4-5}\n"
# Line 5 names a key Baton does not know.
BAD_KEY = "version: 1\nagents:\n  claude:\n    adapter: claude-code\n    modle: x\n"
# Line 3 routes to an agent nobody defined (found once the file is merged with the org's).
BAD_ROUTE = "version: 1\nroutes:\n  - agent: nobody\n"


async def open_pr(stack: Stack, clone_url: str, branch: str, files: dict[str, str]) -> str:
    sha = await stack.push_files(OWNER, clone_url, files, message="Change", branch=branch,
                                 base="main")  # fmt: skip
    async with stack.user(OWNER) as user:
        resp = await user.post(f"repos/{REPO}/pulls",
                               json={"title": branch, "head": branch, "base": "main"})  # fmt: skip
        resp.raise_for_status()
    return sha


async def config_checks(stack: Stack, sha: str) -> list[dict[str, Any]]:
    await settle(stack)
    async with stack.user(OWNER) as user:
        data = (await user.get(f"repos/{REPO}/commits/{sha}/check-runs")).json()
        runs = [r for r in data["check_runs"] if r["name"] == "Baton config"]
        for run in runs:
            run["annotations"] = (
                await user.get(f"repos/{REPO}/check-runs/{run['id']}/annotations")
            ).json()
    return runs


async def test_a_broken_agents_yml_is_annotated_on_its_pull_request(stack: Stack) -> None:
    clone_url = await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": GOOD})
    sha = await open_pr(stack, clone_url, "config", {".agents.yml": BAD_KEY})
    [check] = await config_checks(stack, sha)
    assert check["conclusion"] == "failure"
    assert check["output"]["title"] == "1 error in .agents.yml"
    assert ".agents.yml:5:5: unknown key 'modle'" in check["output"]["summary"]
    notes = [(a["path"], a["start_line"], a["annotation_level"]) for a in check["annotations"]]
    assert notes == [(".agents.yml", 5, "failure")]

    route = await stack.push_files(OWNER, clone_url, {".agents.yml": BAD_ROUTE},
                                   message="Route", branch="config")  # fmt: skip
    [check] = await config_checks(stack, route)
    assert check["conclusion"] == "failure"
    assert "nobody" in check["output"]["summary"]
    assert [a["start_line"] for a in check["annotations"]] == [3]

    # The fix, pushed to the same branch, is checked again and passes.
    fixed = GOOD.replace("claude-sonnet-4-5", "claude-opus-4-1")
    head = await stack.push_files(OWNER, clone_url, {".agents.yml": fixed}, message="Fix",
                                  branch="config")  # fmt: skip
    [check] = await config_checks(stack, head)
    assert (check["conclusion"], check["output"]["title"]) == ("success", ".agents.yml is valid")
    assert "claude-opus-4-1" in check["output"]["summary"]  # the effective config it merges to


async def test_a_pull_request_that_leaves_agents_yml_alone_gets_no_check(stack: Stack) -> None:
    clone_url = await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": GOOD})
    sha = await open_pr(stack, clone_url, "docs", {"README.md": "hello\n"})
    assert await config_checks(stack, sha) == []
