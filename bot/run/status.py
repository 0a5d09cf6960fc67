"""The run's status comment: made once per run, then edited in place from queued to its end."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot import render
from bot.run.services import status_claim

if TYPE_CHECKING:
    from bot.github import RepoGitHub
    from bot.plan import Refusal
    from bot.run.state import RunState


async def post_status(
    state: RunState, gh: RepoGitHub, *, detail: str = "", pr_url: str = ""
) -> None:
    """Create the run's status comment once, then edit it in place."""
    body = render.status_comment(state.rec, detail=detail, pr_url=pr_url)
    store = state.services.store
    async with status_claim(state.services, state.rec.id):
        if state.rec.comment_id is None:
            # The acknowledgement of a waiting run may have made it already.
            stored = await store.get_run(state.rec.id)
            if stored is not None and stored.comment_id is not None:
                state.rec = state.rec.with_(comment_id=stored.comment_id)
        if state.rec.comment_id is None and state.ctx.attempt > 1:
            marker = render.status_marker(state.rec.id)
            found = await gh.find_comment(state.trigger.number, marker)
            if found is not None:
                await state.save(comment_id=found.id)
        if state.rec.comment_id is None:
            await state.save(comment_id=await gh.comment(state.trigger.number, body))
        else:
            await gh.edit_comment(state.rec.comment_id, body)


async def refuse(state: RunState, gh: RepoGitHub, refusal: Refusal) -> None:
    """The run does not start: the row says why, the comment says what to do, and a trigger
    label is removed so that adding it again asks again: removed first, so that someone who
    reads the comment and adds the label at once is never adding one still there (GitHub sends
    no event for that, and nothing would happen)."""
    await state.save(status=RunStatus.REFUSED, error=refusal.reason, finished_at=time.time())
    await state.event("ended", status=RunStatus.REFUSED, reason=refusal.reason)
    if state.trigger.kind == "label" and state.trigger.label:
        await gh.remove_label(state.trigger.number, state.trigger.label)
    await post_status(state, gh, detail=refusal.reason)
