"""Catching up after downtime: a label added while the server was down gets its run when the
server starts again; a delivery that succeeded is never redelivered; one redelivered after it
had already run does not run again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.localhub.webhooks import Delivery
from bot.stack import Stack
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE, agents_yml

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
OWNER = "octocat"
REPO = "octocat/calc"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    # A look at start only: the test decides when the server starts again.
    async with Stack(workdir=tmp_path, settings={"redeliver_interval_s": "3600"}) as running:
        await running.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": agents_yml()})
        yield running


def labeled(stack: Stack) -> list[Delivery]:
    return [d for d in stack.hub.deliveries if (d.event, d.action) == ("issues", "labeled")]


async def test_a_label_added_while_the_server_was_down_gets_its_run(stack: Stack) -> None:
    number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)
    await stack.hub.wait_for_deliveries()
    await stack.stop_baton()

    await stack.label(OWNER, REPO, number, "agent:fix")
    await stack.hub.wait_for_deliveries()
    [missed] = labeled(stack)
    assert missed.status_code is None  # GitHub could not reach the server: a failed delivery
    succeeded = {d.id for d in stack.hub.deliveries if d.status_code is not None}

    await stack.start_baton()
    [status] = await stack.wait_final(REPO, number)

    assert "✅ Done" in status
    assert len(await stack.pulls(REPO)) == 1
    again = [d for d in stack.hub.deliveries if d.redelivery]
    # Only what never arrived was asked for, and it came back under its own id.
    assert [(d.id, d.event, d.action) for d in again] == [(missed.id, "issues", "labeled")]
    assert again[0].status_code == 202
    assert not succeeded & {d.id for d in again}


async def test_a_redelivered_delivery_that_had_run_does_not_run_again(stack: Stack) -> None:
    number = await stack.open_issue(OWNER, REPO, ISSUE_TITLE, ISSUE_BODY)
    await stack.label(OWNER, REPO, number, "agent:fix")
    await stack.wait_final(REPO, number)
    await stack.runtime.queue.wait_idle(30)
    jobs = await stack.runtime.queue.list_jobs()
    # GitHub gave up waiting for the answer (a timeout): it counts the delivery as failed
    # although Baton had received and run it.
    [ran] = labeled(stack)
    ran.status_code, ran.error = None, "timed out"
    await stack.stop_baton()

    await stack.start_baton()
    again = await _redelivered(stack, ran.id)
    await stack.runtime.queue.wait_idle(30)

    assert again.status_code == 202  # answered ("duplicate"), and nothing was queued
    assert await stack.runtime.queue.list_jobs() == jobs
    assert len(await stack.pulls(REPO)) == 1
    assert len(await stack.runtime.services.store.runs_for_target(REPO, number)) == 1


async def _redelivered(stack: Stack, guid: str) -> Delivery:
    """The redelivery of `guid`, once GitHub has its answer."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await stack.hub.wait_for_deliveries()
        done = [d for d in stack.hub.deliveries if d.id == guid and d.redelivery]
        if done and done[0].duration_s is not None:
            found: Delivery = done[0]
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"{guid} was not redelivered")
