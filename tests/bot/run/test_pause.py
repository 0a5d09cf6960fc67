"""The org's kill switch: while `enforce.paused` is on no run starts and each trigger hears the
reason once; `cancel_running` stops a running agent and keeps its work; `resume_queued` lets a
waiting run start by itself once the pause is lifted; lifting it restores normal service."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tests.bot.run.flow import (
    OWNER,
    REPO,
    branch_files,
    command_agent,
    fake,
    start,
    writes,
    yml,
)
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.process import Completed
    from adapters.runner import ProcessJob
    from bot.stack import Stack

pytestmark = pytest.mark.anyio
SETTINGS = {"pause_recheck_s": "0.2"}
CONFIG = yml(command_agent("writer"), "writer")


def org(**switch: object) -> str:
    keys = ", ".join(f"{k}: {v}" for k, v in switch.items())
    return f"version: 1\nenforce:\n  {{{keys}}}\n" if switch else "version: 1\n"


class Org:
    """The org's settings repository, whose agents.yml the test rewrites."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.clone_url = ""

    async def write(self, text: str) -> None:
        if not self.clone_url:
            self.clone_url = await self.stack.create_repo(OWNER, ".github", {"agents.yml": text})
        else:
            await self.stack.push_files(
                OWNER, self.clone_url, {"agents.yml": text}, message="Org rules"
            )


async def setup(stack: Stack, org_text: str) -> tuple[Org, int]:
    settings = Org(stack)
    await settings.write(org_text)
    await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": CONFIG})
    return settings, await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)


async def test_paused_refuses_with_the_reason_and_lifting_it_resumes(tmp_path: Path) -> None:
    runner = fake(writes({"notes.txt": "x\n"}))
    async with await start(tmp_path, runner, settings=SETTINGS) as stack:
        switch, number = await setup(stack, org(paused="true", reason='"budget review"'))
        await stack.label(OWNER, REPO, number, "agent:fix")
        [status] = await stack.wait_final(REPO, number)
        assert "🚫 Not started." in status, status
        assert (
            "Baton is paused for the octocat organization: “budget review” (`enforce.paused` in "
            "octocat/.github:agents.yml:3:"
        ) in status
        assert "Nothing starts until the org lifts the pause; ask again then." in status
        assert runner.jobs == []
        await switch.write(org())
        await stack.label(OWNER, REPO, number, "agent:fix")
        statuses = await stack.wait_final(REPO, number, count=2)
        assert "✅ Done" in statuses[1], statuses
        assert len(runner.jobs) == 1


async def test_cancel_running_stops_the_agent_and_keeps_its_work(tmp_path: Path) -> None:
    started = asyncio.Event()

    async def works_on(job: ProcessJob) -> Completed:
        writes({"notes.txt": "half\n"})(job)
        started.set()
        await asyncio.Event().wait()  # until stopped from outside
        raise AssertionError("not reached")

    runner = fake(works_on)
    async with await start(tmp_path, runner, settings=SETTINGS) as stack:
        switch, number = await setup(stack, org())
        await stack.label(OWNER, REPO, number, "agent:fix")
        await asyncio.wait_for(started.wait(), 30)
        await switch.write(org(paused="true", reason='"incident"', cancel_running="true"))
        [status] = await stack.wait_final(REPO, number)
        [pr] = await stack.pulls(REPO)
        assert pr["draft"] is True
        assert f"🛑 Cancelled; its work so far is in draft {pr['html_url']}." in status, status
        assert "Stopped because the octocat organization paused Baton: “incident”" in status
        assert "Its work so far is kept in a draft pull request." in status
        assert "notes.txt" in await branch_files(stack, pr["head"]["ref"])
        assert pr["body"].startswith("> 🛑 **Stopped by the org's pause.**")


async def test_resume_queued_starts_the_waiting_run_once_lifted(tmp_path: Path) -> None:
    runner = fake(writes({"notes.txt": "x\n"}))
    async with await start(tmp_path, runner, settings=SETTINGS) as stack:
        switch, number = await setup(stack, org(paused="true", resume_queued="true"))
        await stack.label(OWNER, REPO, number, "agent:fix")
        [waiting] = await stack.wait_final(REPO, number, marks=("⏳",))
        assert "This run starts by itself once the pause is lifted" in waiting, waiting
        await asyncio.sleep(1)  # it looks again several times meanwhile, and stays queued
        assert runner.jobs == []
        assert len(await stack.comments(REPO, number)) == 1
        await switch.write(org())
        [status] = await stack.wait_final(REPO, number)
        assert "✅ Done" in status, status
        assert len(await stack.status_comments(REPO, number)) == 1  # the same comment, edited
