"""`/agent approve` and `/agent deny`: the answer to a run waiting because its cost cap is above
`budget.approve_above_usd`. Approving queues it again under its own id (it starts with the cap
that was approved at most); denying ends it. Only maintain or admin may approve, and a requester
approves their own run only as an admin."""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.queue import NewJob
from bot.render import status_comment
from bot.store.base import claimed
from bot.trigger import Trigger
from config.schema import permission_at_least

if TYPE_CHECKING:
    from bot.github import RepoGitHub
    from bot.ledger import RunRecord
    from bot.queue import JobQueue
    from bot.run import Services

APPROVER = "maintain"
CLAIM_TTL_S = 30.0


async def _waiting(services: Services, trigger: Trigger) -> RunRecord | None:
    rows = await services.store.runs_for_target(trigger.repo, trigger.number)
    waiting = [r for r in rows if r.status == RunStatus.AWAITING_APPROVAL]
    return waiting[-1] if waiting else None


async def _stored_trigger(services: Services, run_id: str) -> Trigger | None:
    """The trigger the waiting run kept in its event log."""
    for event in reversed(await services.store.events(run_id)):
        if event.kind == "awaiting_approval" and isinstance(event.data.get("trigger"), dict):
            return Trigger.model_validate(event.data["trigger"])
    return None


def refusal(*, deny: bool, login: str, permission: str, rec: RunRecord) -> str | None:
    """Why `login` may not answer this waiting run (None when they may). Pure."""
    own = login.lower() == rec.requester.lower()
    if deny and own:
        return None  # withdrawing one's own request needs no one else
    if not permission_at_least(permission, APPROVER):
        verb = "Denying" if deny else "Approving"
        return (
            f"{verb} a run above the approval threshold needs `maintain` or `admin` permission "
            f"(@{login} has `{permission}`)."
        )
    if not deny and own and permission != "admin":
        return (
            f"@{login} asked for `{rec.id}`, so someone else with `maintain` or `admin` "
            "permission must approve it (or an admin)."
        )
    return None


async def answer(
    services: Services, queue: JobQueue, gh: RepoGitHub, trigger: Trigger, *, deny: bool
) -> str:
    """Approve or deny the run waiting here; the reply's text."""
    login = trigger.requester
    waiting = await _waiting(services, trigger)
    if waiting is None:
        return "No run here is waiting for approval."
    why = refusal(deny=deny, login=login, permission=await gh.permission(login), rec=waiting)
    if why is not None:
        return why
    owner = f"{os.getpid()}-{uuid.uuid4().hex}"
    async with claimed(services.store, f"approval:{waiting.id}", owner=owner, ttl_s=CLAIM_TTL_S):
        rec = await services.store.get_run(waiting.id)
        if rec is None or rec.status != RunStatus.AWAITING_APPROVAL:
            return f"`{waiting.id}` is no longer waiting for approval."
        if deny:
            return await _deny(services, gh, rec, login)
        return await _approve(services, queue, gh, rec, login)


async def _deny(services: Services, gh: RepoGitHub, rec: RunRecord, login: str) -> str:
    reason = f"Denied by @{login}: the run did not start."
    rec = rec.with_(status=RunStatus.REFUSED, error=reason, finished_at=time.time())
    await services.store.save_run(rec)
    await services.store.append_event(rec.id, "denied", {"by": login})
    await services.store.append_event(
        rec.id, "ended", {"status": RunStatus.REFUSED, "reason": reason}
    )
    if rec.comment_id is not None:
        await gh.edit_comment(rec.comment_id, status_comment(rec, detail=reason))
    return f"Denied `{rec.id}`: it will not run."


async def _approve(
    services: Services, queue: JobQueue, gh: RepoGitHub, rec: RunRecord, login: str
) -> str:
    stored = await _stored_trigger(services, rec.id)
    if stored is None:
        return f"`{rec.id}` cannot be started again: what asked for it is not on record."
    again = stored.model_copy(
        update={"run_id": rec.id, "approved_by": login, "approved_cap_usd": rec.cost_cap_usd}
    )
    submitted = await queue.submit(
        NewJob(
            task="run",
            args=again.model_dump(mode="json"),
            lock=again.lock,
            dedupe_key=f"approved:{rec.id}",
            max_attempts=services.settings.job_max_attempts,
        )
    )
    rec = rec.with_(status=RunStatus.QUEUED, error="")
    await services.store.save_run(rec)
    await services.store.append_event(rec.id, "approved", {"by": login, "job": submitted.job_id})
    if rec.comment_id is not None:
        detail = f"Approved by @{login}: it starts as soon as a worker is free."
        await gh.edit_comment(rec.comment_id, status_comment(rec, detail=detail))
    return f"Approved `{rec.id}`: it starts now, with a cap of {_cap(rec)}."


def _cap(rec: RunRecord) -> str:
    return f"${rec.cost_cap_usd:.4f}" if rec.cost_cap_usd is not None else "no cap"
