"""The queue's `run` task, and the mapping of every way a job can end to a final state.

Whatever ends a job (a refusal, an agent that failed, GitHub down, a cancel, or an exception
nobody foresaw) its ledger row and status comment end in a final state that says what happened
and names the run; an unforeseen exception is still logged with its traceback and re-raised to
the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot import gitops
from bot.github import GitHubError, GitHubUnavailable
from bot.logs import bound
from bot.queue import JobContext, RetryLater, WaitTurn, cancel_requested
from bot.run.attempt import RunFailed
from bot.run.budget import release
from bot.run.gate import open_gate
from bot.run.slots import org_slot
from bot.run.state import RunState
from bot.run.status import announce_again, post_status
from bot.run.verbs import handler_for
from bot.store.errors import StoreUnavailable
from bot.trigger import Trigger
from config.errors import BatonError

if TYPE_CHECKING:
    from bot.run.services import Services

log = logging.getLogger(__name__)
# A run the database interrupted looks again after this long (it is back within seconds when
# PostgreSQL restarts; GitHub's side of the run is idempotent).
DATABASE_WAIT_S = 10.0


async def execute(state: RunState) -> None:
    """Gate, then the verb's handler, on one installation client for the repository (a retry
    of a job that only failed to say how its run ended says it, and does nothing else)."""
    s, t = state.services, state.trigger
    async with await s.github.repo(t.installation_id, t.owner, t.name) as gh:
        if await announce_again(state, gh):
            return
        effective = await open_gate(state, gh)
        if effective is not None:
            # The org's max_concurrent_runs: a slot, or back to the queue to wait.
            async with org_slot(state, gh, effective.config):
                await handler_for(state)(state, gh, effective)


async def run_job(services: Services, ctx: JobContext) -> None:
    """One attempt of the job; transient GitHub trouble is retried with backoff, and a database
    that went away mid-run is waited for (the attempt not counted)."""
    try:
        await _run_job(services, ctx)
    except StoreUnavailable as exc:
        log.warning("job %d: %s; it runs again once the database is back", ctx.job_id, exc)
        raise WaitTurn(f"the database was unavailable: {exc}", delay_s=DATABASE_WAIT_S) from exc


async def _run_job(services: Services, ctx: JobContext) -> None:
    trigger = Trigger.model_validate(ctx.args)
    state = await RunState.open(services, trigger, ctx)
    with bound(delivery=trigger.delivery_id, run=state.rec.id, repo=trigger.repo):
        log.info(
            "run %s attempt %d/%d on %s#%d",
            state.rec.id,
            ctx.attempt,
            ctx.max_attempts,
            trigger.repo,
            trigger.number,
        )
        try:
            await execute(state)
        except RunFailed as exc:
            await finish_failed(state, str(exc))
        except gitops.BranchMoved:
            await finish_failed(
                state,
                f"Someone pushed to `{state.rec.branch}` while the agent worked, so Baton "
                "did not overwrite it and pushed nothing. Comment `/agent retry` to run again on "
                "the branch as it is now.",
            )
        except (GitHubUnavailable, gitops.GitError) as exc:
            if not ctx.final_attempt:
                log.warning("attempt %d failed, will retry: %s", ctx.attempt, exc)
                await release(state)  # the next attempt reserves again
                raise RetryLater(str(exc)) from exc
            await finish_failed(
                state,
                f"Baton gave up after {ctx.attempt} attempts: {exc}. Trigger again "
                "to retry once GitHub is reachable.",
            )
        except GitHubError as exc:
            await finish_failed(state, f"GitHub refused a step of this run: {exc}")
        except (StoreUnavailable, WaitTurn):
            raise  # nothing to report: the run goes on later
        except BatonError as exc:
            await finish_failed(state, str(exc))
        except asyncio.CancelledError as exc:
            # A shutdown leaves the job queued for the next start: nothing to report then.
            if cancel_requested(exc):
                await asyncio.shield(finish_cancelled(state))
            raise
        except Exception as exc:
            # The outermost boundary of a run: a bug must not leave it "running" for ever.
            log.exception("run %s failed unexpectedly", state.rec.id)
            await asyncio.shield(finish_unforeseen(state, exc))
            raise
        finally:
            await state.close_live()


async def _report(state: RunState, detail: str) -> None:
    """Say it on the issue; if GitHub cannot hear it, the log already did."""
    s, t = state.services, state.trigger
    try:
        async with await s.github.repo(t.installation_id, t.owner, t.name) as gh:
            await post_status(state, gh, detail=detail)
    except GitHubError as exc:
        log.error("could not report the end of run %s on GitHub: %s", state.rec.id, exc)  # noqa: TRY400


async def finish_cancelled(state: RunState) -> None:
    await release(state)
    await state.save(status=RunStatus.CANCELLED, finished_at=time.time(), error="cancelled")
    await state.event("ended", status=RunStatus.CANCELLED, reason="cancelled on request")
    await _report(state, "Cancelled on request: the agent was stopped and nothing more was pushed.")
    await state.services.workspaces.remove(state.trigger.repo, state.rec.id)


async def finish_failed(state: RunState, reason: str) -> None:
    """Record the failure and say so on the issue."""
    await release(state)
    status = state.rec.status if RunStatus(state.rec.status).final else RunStatus.FAILED
    await state.save(status=status, error=reason, finished_at=time.time())
    await state.event("ended", status=status, reason=reason)
    with bound(agent=state.rec.agent or None):
        log.warning("run %s failed: %s", state.rec.id, reason)
        await state.services.workspaces.remove(state.trigger.repo, state.rec.id)
        await _report(state, state.notes.text(reason))


async def finish_unforeseen(state: RunState, exc: Exception) -> None:
    reason = (
        f"Baton hit an unexpected error ({type(exc).__name__}) in run `{state.rec.id}`, so the "
        "run stopped here; nothing more will be pushed. The Baton server's log has the details "
        "under that run id. Trigger again to retry."
    )
    try:
        await finish_failed(state, reason)
    except Exception:
        # Reporting is best effort here: the original exception is what the queue must see.
        log.exception("could not record the end of run %s", state.rec.id)
