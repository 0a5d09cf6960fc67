"""`budget.approve_above_usd`: a run whose cap is above it waits (holding no worker, lock or
reservation); its requester cannot approve it, a maintainer's `/agent approve` starts it,
`/agent deny` ends it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from adapters.base import RunStatus
from bot.queue import JobStatus
from tests.bot.run.flow import OWNER, REPO, command_agent, fake, start, writes, yml
from tests.e2e.command_agents import reply, until
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE

if TYPE_CHECKING:
    from pathlib import Path

    from bot.stack import Stack

pytestmark = pytest.mark.anyio
WAITING = ("⏸️", "✅", "❌", "🚫")
CONFIG = yml(
    command_agent("writer", max_cost_usd="5"), "writer", extra="budget: {approve_above_usd: 2}\n"
)


async def waiting_issue(stack: Stack) -> int:
    """alice (maintain) labels an issue; its run waits for approval."""
    await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": CONFIG})
    for login, permission in (("alice", "maintain"), ("bob", "maintain")):
        stack.hub.create_user(login)
        stack.hub.set_permission(REPO, login, permission)
    number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)
    await stack.label("alice", REPO, number, "agent:fix")
    await stack.wait_final(REPO, number, marks=WAITING)
    return number


async def test_a_run_above_the_threshold_waits_until_a_maintainer_approves(
    tmp_path: Path,
) -> None:
    runner = fake(writes({"notes.txt": "x\n"}))
    async with await start(tmp_path, runner) as stack:
        number = await waiting_issue(stack)
        [status] = await stack.status_comments(REPO, number)
        assert "⏸️ Awaiting approval: `writer`" in status, status
        assert (
            "`writer` would run up to $5.0000 (its cap: `agents.writer.max_cost_usd` (repo file "
            ".agents.yml:3:"
        ) in status
        assert "above $2.0000 (`budget.approve_above_usd` (repo file .agents.yml:" in status
        assert "@alice cannot approve their own run unless they are an admin" in status
        # Waiting holds nothing: no job runs, no budget is reserved, no agent started.
        services = stack.runtime.services
        await stack.runtime.queue.wait_idle(30)
        assert await stack.runtime.queue.count(status=JobStatus.RUNNING) == 0
        assert await services.store.held(now=services.clock(), repo=REPO) == 0.0
        assert runner.jobs == []

        await stack.comment("alice", REPO, number, "/agent approve")
        text = await reply(stack, number)
        assert "@alice asked for `r1`, so someone else with `maintain` or `admin` permission" in (
            text
        )
        await stack.comment("bob", REPO, number, "/agent approve")
        assert "Approved `r1`: it starts now, with a cap of $5.0000." in await reply(
            stack, number, 2
        )
        [status] = await stack.wait_final(REPO, number)
        assert "✅ Done: `writer`" in status, status
        assert "Approved by @bob." in status
        assert len(await stack.status_comments(REPO, number)) == 1  # the same comment, edited
        row = await services.store.get_run("r1")
        assert row is not None
        assert (row.status, row.requester) == (RunStatus.SUCCESS, "alice")
        kinds = [e.kind for e in await services.store.events("r1")]
        assert kinds.index("awaiting_approval") < kinds.index("approved") < kinds.index("started")


async def test_deny_ends_a_waiting_run_and_needs_maintain(tmp_path: Path) -> None:
    runner = fake()
    async with await start(tmp_path, runner) as stack:
        number = await waiting_issue(stack)
        stack.hub.create_user("carol")
        stack.hub.set_permission(REPO, "carol", "write")
        await stack.comment("carol", REPO, number, "/agent deny")
        assert "needs `maintain` or `admin` permission (@carol has `write`)" in await reply(
            stack, number
        )
        await stack.comment("bob", REPO, number, "/agent deny")
        assert "Denied `r1`: it will not run." in await reply(stack, number, 2)
        [status] = await stack.wait_final(REPO, number)
        assert "🚫 Not started." in status
        assert "Denied by @bob" in status
        await stack.comment("bob", REPO, number, "/agent approve")
        assert "No run here is waiting for approval." in await reply(stack, number, 3)
        assert runner.jobs == []


async def test_a_compare_whose_caps_together_are_above_the_threshold_waits(
    tmp_path: Path,
) -> None:
    """Each agent's cap ($2) is below the threshold ($3), the comparison's ($4) is not."""
    runner = fake(writes({"a.txt": "a\n"}), writes({"b.txt": "b\n"}))
    agents = command_agent("writer", max_cost_usd="2") + command_agent("other", max_cost_usd="2")
    config = yml(agents, "writer", extra="budget: {approve_above_usd: 3}\n")
    async with await start(tmp_path, runner) as stack:
        await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": config})
        for login in ("alice", "bob"):
            stack.hub.create_user(login)
            stack.hub.set_permission(REPO, login, "maintain")
        number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)
        await stack.comment("alice", REPO, number, "/agent compare writer other")
        [status] = await stack.wait_final(REPO, number, marks=WAITING)
        assert "⏸️ Awaiting approval: the agents will work on this" in status, status
        assert (
            "This comparison would run up to $4.0000 together (`writer` up to $2.0000, `other` "
            "up to $2.0000), above $3.0000 (`budget.approve_above_usd` (repo file .agents.yml:"
        ) in status
        await stack.runtime.queue.wait_idle(30)
        services = stack.runtime.services
        assert await services.store.held(now=services.clock(), repo=REPO) == 0.0
        assert runner.jobs == []
        await stack.comment("alice", REPO, number, "/agent approve")
        assert "@alice asked for `r1`" in await reply(stack, number)
        await stack.comment("bob", REPO, number, "/agent approve")
        assert "Approved `r1`: it starts now, with a cap of $4.0000." in await reply(
            stack, number, 2
        )

        async def compared() -> str | None:
            for text in await stack.status_comments(REPO, number):
                if text.startswith("<!-- baton:status run=r1 -->") and "✅" in text:
                    return text
            return None

        status = await until(compared, "the comparison's own status to end")
        assert "✅ Done." in status, status
        assert "Approved by @bob. The agents' draft PRs are compared below." in status
        assert sorted(job.name for job in runner.jobs) == ["other", "writer"]
        pulls = await stack.pulls(REPO)
        assert sorted(p["head"]["ref"] for p in pulls) == [
            "baton/1-add-subtracts-other",
            "baton/1-add-subtracts-writer",
        ]
        assert all(p["draft"] for p in pulls)
        comments = [c["body"] for c in await stack.comments(REPO, number)]
        assert any("<!-- baton:compare r1 -->" in c for c in comments)
        row = await services.store.get_run("r1")
        assert row is not None
        assert (row.status, row.requester, row.cost_cap_usd) == ("success", "alice", 4.0)
