"""The org-wide `max_concurrent_runs`: a run holds one of the org's slots while it works, on
whichever worker it runs; a run that finds them all taken goes back to the queue (its attempt
not counted) and its status comment says why it waits.

A slot is a claim in the store (`slots:<owner>:<i>`), renewed while the run holds it, so one a
dead worker held frees itself within `SLOT_TTL_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import uuid
from typing import TYPE_CHECKING

from bot.queue import WaitTurn
from bot.run.status import post_status

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bot.github import RepoGitHub
    from bot.run.state import RunState
    from config.schema import AgentsConfig

log = logging.getLogger(__name__)

SLOT_TTL_S = 90.0
# The waiting run looks again after this long, give or take a fifth (so waiters spread out).
WAIT_S = 15.0


def slot_keys(owner: str, cap: int) -> list[str]:
    return [f"slots:{owner.lower()}:{i}" for i in range(cap)]


def waiting_text(cap: int, owner: str, where: str) -> str:
    runs = "run" if cap == 1 else "runs"
    return (
        f"Waiting: the {owner} organization allows {cap} {runs} at once and all are busy. "
        f"This {where}'s run starts as soon as one ends."
    )


async def _renew(state: RunState, key: str, holder: str) -> None:
    store = state.services.store
    while True:
        await asyncio.sleep(SLOT_TTL_S / 3)
        if not await store.claim(key, holder, ttl_s=SLOT_TTL_S):
            log.warning("run %s lost its slot %s (its hold lapsed)", state.rec.id, key)


@contextlib.asynccontextmanager
async def org_slot(state: RunState, gh: RepoGitHub, config: AgentsConfig) -> AsyncIterator[None]:
    """Hold one of the org's run slots for the block; WaitTurn when none is free."""
    cap = config.max_concurrent_runs
    if cap is None:
        yield
        return
    owner = state.trigger.owner
    store = state.services.store
    holder = f"{os.getpid()}-{uuid.uuid4().hex}"
    taken = None
    for key in slot_keys(owner, cap):
        if await store.claim(key, holder, ttl_s=SLOT_TTL_S):
            taken = key
            break
    if taken is None:
        where = "pull request" if state.trigger.is_pull_request else "issue"
        text = waiting_text(cap, owner, where)
        logged = await store.events(state.rec.id)
        if not logged or logged[-1].kind != "waiting":
            # Said once per wait, not at every look.
            await state.event("waiting", reason="max_concurrent_runs", cap=cap)
            await post_status(state, gh, detail=text)
        raise WaitTurn(text, delay_s=WAIT_S * random.uniform(0.8, 1.2))
    renew = asyncio.create_task(_renew(state, taken, holder), name=f"slot-{state.rec.id}")
    try:
        yield
    finally:
        renew.cancel()
        await asyncio.gather(renew, return_exceptions=True)
        await asyncio.shield(store.release(taken, holder))
