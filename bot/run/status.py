"""The run's status comment: made once per run, then edited in place from queued to its end."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot import render
from bot.run.services import status_claim
from bot.run.state import last_row

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


async def announce_end(
    state: RunState, gh: RepoGitHub, *, reason: str, detail: str, pr_url: str = ""
) -> None:
    """The timeline records the row's end with what the status comment will say, then the
    comment says it. A job retried because that edit failed finds the end recorded and only
    says it again (`announce_again`): the run is not delivered, nor ended, twice."""
    await state.event(
        "ended", status=state.rec.status, reason=reason, job=state.ctx.job_id, announce=detail
    )
    await post_status(state, gh, pr_url=pr_url, detail=detail)


async def announce_again(state: RunState, gh: RepoGitHub) -> bool:
    """True when an earlier attempt of this job ended its run and only the status comment's
    last edit is missing: posted now, and there is nothing else to do."""
    if state.ctx.attempt == 1:
        return False
    rec = await last_row(state.services, state.trigger, state.ctx)
    events = await state.services.store.events(rec.id) if rec is not None else []
    if rec is None or not events:
        return False
    end = events[-1]
    if end.kind != "ended" or end.data.get("job") != state.ctx.job_id:
        return False
    detail = end.data.get("announce")
    if not isinstance(detail, str):
        return False
    state.rec = rec
    await post_status(state, gh, pr_url=rec.pr_url, detail=detail)
    return True


async def refuse(state: RunState, gh: RepoGitHub, refusal: Refusal) -> None:
    """The run does not start: the row says why, the comment says what to do, and a trigger
    label is removed so that adding it again asks again: removed first, so that someone who
    reads the comment and adds the label at once is never adding one still there (GitHub sends
    no event for that, and nothing would happen)."""
    await state.save(status=RunStatus.REFUSED, error=refusal.reason, finished_at=time.time())
    if state.trigger.kind == "label" and state.trigger.label:
        await gh.remove_label(state.trigger.number, state.trigger.label)
    await announce_end(state, gh, reason=refusal.reason, detail=refusal.reason)
