"""The dashboard's scoreboard page: the figures of the repositories the viewer may see, and
what the rates count."""

from __future__ import annotations

import asyncio

import pytest

from bot.queue import JobStatus
from bot.stack import Stack
from tests.dashboard.helpers import REPO, SECRET_REPO, sign_in, two_repos_with_runs

pytestmark = pytest.mark.anyio
YML = "version: 1\nagents:\n  demo: {adapter: scripted}\nroutes:\n  - agent: demo\n"


async def settle(stack: Stack) -> None:
    await stack.hub.wait_for_deliveries()
    queue = stack.runtime.queue
    for _ in range(600):
        if not (
            await queue.count(status=JobStatus.QUEUED)
            or await queue.count(status=JobStatus.RUNNING)
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("jobs still pending")


async def test_the_scoreboard_shows_only_what_the_viewer_may_see(stack: Stack) -> None:
    await two_repos_with_runs(stack, YML)
    [pr] = await stack.pulls(REPO)
    async with stack.user("octocat") as owner:
        assert (await owner.put(f"repos/{REPO}/pulls/{pr['number']}/merge", json={})).is_success
    await settle(stack)
    async with sign_in(stack, "ann") as ann:
        page = await ann.get("/scoreboard")
        assert page.status_code == 200
        assert REPO in page.text
        assert SECRET_REPO not in page.text
        # demo: one run, one PR merged untouched, at the scripted agent's cost.
        assert '<td class="num">100% (1/1)</td>' in page.text
        assert "Drafts are left out until they are ready" in page.text
    async with sign_in(stack, "octocat") as owner_view:
        page = await owner_view.get("/scoreboard")
        assert REPO in page.text
        assert SECRET_REPO in page.text
    async with sign_in(stack, "eve") as eve:
        assert (
            "No agent has run in the repositories you can see"
            in (await eve.get("/scoreboard")).text
        )
