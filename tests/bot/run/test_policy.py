"""Policy on the diff, before anything is pushed: a protected path, a secret, or more changed
lines than allowed stop the push; nothing reaches the emulator's repository (no ref, no blob)
and the status comment names the rule and the file, never the secret itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from bot import gitops
from tests.bot.run.flow import OWNER, REPO, command_agent, fake, heads, labeled, start, writes, yml
from tests.e2e.repo_files import CALC

if TYPE_CHECKING:
    from pathlib import Path

    from bot.stack import Stack

pytestmark = pytest.mark.anyio
AWS_KEY = "AKIA" + "Q7W3E9R2T5Y8U1I4"  # the format of an AWS access key id, made up


@dataclass(frozen=True)
class Violation:
    files: dict[str, str]
    extra: str  # config
    said: str  # the comment names the rule and the file


VIOLATIONS = {
    "protected path": Violation(
        files={".github/workflows/ci.yml": "on: push\njobs: {}\n"},
        extra="",
        said="The agent changed protected paths (`.github/workflows/ci.yml`); "
        "`policy.protected_paths` forbids it, so nothing was pushed.",
    ),
    "secret": Violation(
        files={"config.txt": f"aws_key = {AWS_KEY}\n"},
        extra="",
        said="looks like an AWS access key in config.txt line 1; nothing was pushed.",
    ),
    "too many lines": Violation(
        files={"big.txt": "line\n" * 30, "small.txt": "x\n"},
        extra="policy: {max_changed_lines: 10}\n",
        said="The agent changed 31 lines, more than `policy.max_changed_lines` (10), most in "
        "`big.txt` (30), `small.txt` (1); nothing was pushed.",
    ),
}


async def has_blob(stack: Stack, text: str) -> bool:
    """Whether the emulator's repository holds `text` as an object."""
    path = stack.hub.repo(OWNER, "calc").path
    sha = await gitops.git("hash-object", "--stdin", cwd=path, stdin=text.encode())
    try:
        await gitops.git("cat-file", "-e", sha, cwd=path)
    except gitops.GitError:
        return False
    return True


@pytest.mark.parametrize("violation", VIOLATIONS.values(), ids=VIOLATIONS.keys())
async def test_a_violation_pushes_nothing_and_names_the_rule_and_the_file(
    tmp_path: Path, violation: Violation
) -> None:
    runner = fake(writes(violation.files))
    async with await start(tmp_path, runner) as stack:
        number = await labeled(stack, yml(command_agent("writer"), "writer", extra=violation.extra))
        [status] = await stack.status_comments(REPO, number)
        assert "❌ Failed" in status, status
        assert violation.said in status
        assert AWS_KEY not in status
        assert await stack.pulls(REPO) == []
        assert "baton/" not in await heads(stack)
        assert await has_blob(stack, CALC)  # the probe finds what was pushed
        for text in violation.files.values():
            assert not await has_blob(stack, text)
        hub_repo = stack.hub.repo(OWNER, "calc")
        assert await gitops.git("rev-list", "--all", "--count", cwd=hub_repo.path) == "1"


async def test_a_budget_stop_is_checked_like_any_push(tmp_path: Path) -> None:
    """Work kept at the limit passes the same checks: a secret in it pushes nothing."""
    runner = fake(writes({"config.txt": f"key {AWS_KEY}\n"}, costs=(0.05, 0.2)))
    agent = command_agent("writer", max_cost_usd="0.1")
    async with await start(tmp_path, runner) as stack:
        number = await labeled(stack, yml(agent, "writer"))
        [status] = await stack.status_comments(REPO, number)
        assert "💸 Stopped at budget" in status, status
        assert "looks like an AWS access key in config.txt line 1; nothing was pushed." in status
        assert await stack.pulls(REPO) == []
        assert not await has_blob(stack, f"key {AWS_KEY}\n")
