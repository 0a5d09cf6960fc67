"""One job's run toward one PR: the current agent's ledger row, saved after every step, and what
the status comment says besides the row's facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.checkrun.github import GitHubChecks
from bot.checkrun.live import LiveCheck
from bot.commands import Command, CommandError, parse
from bot.ledger import RunRecord

if TYPE_CHECKING:
    from bot.queue import JobContext
    from bot.run.services import Services
    from bot.trigger import Trigger


def run_id_for(job_id: int, attempt_index: int = 0) -> str:
    """`r12` for a job's first agent, `r12-2` for its first fallback, and so on."""
    return f"r{job_id}" if attempt_index == 0 else f"r{job_id}-{attempt_index + 1}"


@dataclass
class Notes:
    """Lines of the status comment that are not the row's facts."""

    approval: str = ""  # who approved a run above `budget.approve_above_usd`
    estimate: str = ""  # what runs like this one cost and took here
    target: str = ""  # where the work goes when it is not where it was asked (a fork's PR)
    result: str = ""  # what the run delivers when it is not a change of its own
    limit: str = ""  # why a flag's limit did not apply as asked
    handover: str = ""  # why the agent now working took over from the one before
    safety: list[str] = field(default_factory=list)  # what Baton removed or withheld

    def text(self, *extra: str) -> str:
        parts = (
            self.approval,
            self.target,
            self.result,
            self.estimate,
            self.limit,
            self.handover,
            *self.safety,
            *extra,
        )
        return "\n\n".join(p for p in parts if p)


class RunState:
    """`rec` is the current agent's row; `task` whose words the brief quotes as the task (on a PR
    Baton opened, the issue it serves). Made with `await RunState.open(...)`."""

    def __init__(
        self,
        services: Services,
        trigger: Trigger,
        ctx: JobContext,
        rec: RunRecord,
        *,
        contestant: str = "",
    ) -> None:
        self.services = services
        self.trigger = trigger
        self.ctx = ctx
        self.command: Command | CommandError | None = (
            parse(trigger.command_text) if trigger.command_text is not None else None
        )
        # A compare contestant keeps its own ledger row: r12-claude, r12-codex.
        self.contestant = contestant
        self.task = trigger
        self.notes = Notes()
        self.rec = rec
        # The live check run of each run id this state has been (a fallback is another run).
        self._live: dict[str, LiveCheck] = {}

    @classmethod
    async def open(
        cls, services: Services, trigger: Trigger, ctx: JobContext, *, contestant: str = ""
    ) -> RunState:
        rec = await record_for(services, trigger, ctx, 0, contestant=contestant)
        state = cls(services, trigger, ctx, rec, contestant=contestant)
        # A run carried on under its own id (approved, or waiting out a pause) was queued once.
        if rec.status == RunStatus.QUEUED and ctx.attempt == 1 and not trigger.run_id:
            t = trigger
            await state.event(
                "queued",
                trigger=t.kind,
                verb=t.verb,
                requester=t.requester,
                delivery=t.delivery_id,
            )
        return state

    @property
    def cmd(self) -> Command | None:
        """The parsed command, when it is one (not a parse error, not a label)."""
        return self.command if isinstance(self.command, Command) else None

    async def next_agent(self, index: int) -> None:
        self.rec = await record_for(
            self.services, self.trigger, self.ctx, index, contestant=self.contestant
        )

    async def save(self, **changes: object) -> None:
        self.rec = self.rec.with_(**changes)
        await self.services.store.save_run(self.rec)

    async def event(self, kind: str, **data: object) -> None:
        """One line of the run's timeline (the dashboard, live check run and `baton runs show`
        read it)."""
        appended = await self.services.store.append_event(self.rec.id, kind, data)
        self.services.observer.on_event(self.rec, kind, data)
        self._live_check().observe(appended)

    def _live_check(self) -> LiveCheck:
        live = self._live.get(self.rec.id)
        if live is None:
            s = self.services
            live = LiveCheck(
                run_id=self.rec.id,
                store=s.store,
                send=GitHubChecks(s.github, self.trigger),
                least_interval_s=s.settings.check_run_update_s,
            )
            self._live[self.rec.id] = live
        return live

    async def close_live(self) -> None:
        """Let the live check runs send their end (bot/checkrun), then stop them."""
        for live in self._live.values():
            await live.close()


def row_id(t: Trigger, ctx: JobContext, index: int, *, contestant: str = "") -> str:
    """The id of the row of the chain's `index`th agent."""
    run_id = run_id_for(ctx.job_id, index)
    if t.run_id:  # an approved run carries on under the id it waited with
        run_id = t.run_id if index == 0 else f"{t.run_id}-{index + 1}"
    return f"{run_id}-{contestant}" if contestant else run_id


async def last_row(services: Services, t: Trigger, ctx: JobContext) -> RunRecord | None:
    """The row of the last agent this job's chain reached (None: it made no row yet)."""
    found: RunRecord | None = None
    index = 0
    while (rec := await services.store.get_run(row_id(t, ctx, index))) is not None:
        found, index = rec, index + 1
    return found


async def record_for(
    services: Services, t: Trigger, ctx: JobContext, index: int, *, contestant: str = ""
) -> RunRecord:
    """The row of the chain's `index`th agent: stored (a retried job), or a new one."""
    store = services.store
    run_id = row_id(t, ctx, index, contestant=contestant)
    existing = await store.get_run(run_id)
    if existing is not None:
        if existing.job_id != ctx.job_id and t.run_id:
            existing = existing.with_(job_id=ctx.job_id)  # the approved job runs it now
            await store.save_run(existing)
        return existing
    rec = RunRecord(
        id=run_id,
        job_id=ctx.job_id,
        repo=t.repo,
        number=t.number,
        is_pull_request=t.is_pull_request,
        trigger=t.kind,
        verb=t.verb,
        requester=t.requester,
        label=t.label or "",
        status=RunStatus.QUEUED,
        created_at=services.clock(),  # the clock monthly budgets count by
    )
    first = await store.get_run(t.run_id or run_id_for(ctx.job_id)) if index > 0 else None
    if first is not None:  # fallbacks share the job's status comment
        rec = rec.with_(comment_id=first.comment_id)
    return rec
