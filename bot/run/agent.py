"""One agent's turn at the work: its adapter, its brief, its usage streamed into the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from adapters.base import AgentEvent, AgentResult, AgentTask, CostSource, RunStatus, clip
from adapters.registry import AdapterUnavailable, build_adapter
from bot.brief import build_brief
from bot.handoff import render_handoff, resume_session
from config.guard import ENV_REF

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot import gitops
    from bot.github import InstallationToken
    from bot.handoff import Handoff
    from bot.outbound import Outbound
    from bot.plan import RunPlan
    from bot.run.services import Services
    from bot.run.state import RunState
    from config.schema import AgentSpec

# How often streamed usage is written to the ledger while an agent runs.
USAGE_SAVE_INTERVAL_S = 2.0
BRIEF_KEPT = 200_000  # characters of the brief the run's event log keeps


def wall_for(services: Services, token: InstallationToken, spec: AgentSpec) -> Outbound:
    """The server's secrets plus this run's own: its installation token, and whatever key or
    variable this agent was handed (the ones it can read)."""
    env = services.server_env
    names = {spec.api_key_env} if spec.api_key_env else set()
    names.update(ENV_REF.findall(" ".join(spec.env.values())))
    extra = {f"the server's {name}": env.get(name, "") for name in sorted(names)}
    extra["the installation token"] = token.value.get_secret_value()
    return services.outbound.with_secrets(extra)


def _event_data(event: AgentEvent, wall: Outbound) -> dict[str, object]:
    """What the run's timeline keeps of an adapter's event: its text masked like a log line,
    then clipped (masked first, so that a cut never leaves part of a secret readable)."""
    data: dict[str, object] = {**event.data}
    if event.text:
        data["text"] = clip(wall.mask(event.text))
    if event.usage is not None:
        data["usage"] = event.usage.as_dict()
    if event.cost_usd is not None:
        data["cost_usd"] = event.cost_usd
    return data


def clean(state: RunState, wall: Outbound, text: str, channel: str) -> str:
    """`text`, or the notice that stands for it when it carries a secret (said once more in the
    status comment)."""
    checked = wall.check(text, channel)
    if checked != text:
        state.notes.safety.append(checked)
    return checked


async def watched(
    work: Awaitable[AgentResult],
    look: Callable[[], Awaitable[str | None]] | None,
    *,
    every_s: float,
) -> AgentResult | str:
    """The agent's result; or, when `look` (every `every_s`) gives a reason to stop it first,
    that reason, once the agent is stopped (its whole process tree, as at a cancel)."""
    task = asyncio.ensure_future(work)
    try:
        while look is not None:
            done, _ = await asyncio.wait({task}, timeout=every_s)
            if done:
                break
            why = await look()
            if why:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return why
        return await task
    finally:
        if not task.done():  # this run itself was cancelled: the agent goes with it
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def run_agent(
    state: RunState,
    plan: RunPlan,
    wt: gitops.Worktree,
    handoff: Handoff | None,
    wall: Outbound,
    *,
    look: Callable[[], Awaitable[str | None]] | None = None,
) -> AgentResult:
    s = state.services
    try:
        adapter = build_adapter(
            agent=plan.agent,
            spec=plan.spec,
            server_env=s.server_env,
            runner=s.runner,
            prices=plan.prices,
        )
    except AdapterUnavailable as exc:
        return AgentResult(status=RunStatus.FAILED, error=str(exc))
    extra = render_handoff(handoff) if handoff is not None else ""
    task = AgentTask(
        prompt=build_brief(state.task, extra=extra),
        title=state.task.title,
        body=state.task.body,
        model=plan.spec.model,
        resume_session_id=resume_session(handoff, plan.agent),
    )
    # The brief as the agent got it, for the dashboard (masked like every logged text).
    await state.event("brief", text=wall.mask(task.prompt[:BRIEF_KEPT]))
    last_save = 0.0

    async def sink(event: AgentEvent) -> None:
        nonlocal last_save
        await state.event(
            event.kind if event.kind != "started" else "agent_started", **_event_data(event, wall)
        )
        if event.usage is None and event.cost_usd is None:
            return
        now = time.monotonic()
        if now - last_save < USAGE_SAVE_INTERVAL_S:
            return
        last_save = now
        changes: dict[str, object] = {}
        if event.cost_usd is not None:
            # A streamed cost is the harness's own running figure; the result's replaces it.
            changes.update(cost_usd=event.cost_usd, cost_source=CostSource.REPORTED.value)
        if event.usage is not None:
            changes.update(
                input_tokens=event.usage.input_tokens, output_tokens=event.usage.output_tokens
            )
        await state.save(**changes)

    started = time.monotonic()
    work = adapter.run(task, wt.path, s.workspaces.bounded(wt, plan.limits), sink)
    outcome = await watched(work, look, every_s=s.settings.pause_recheck_s)
    if isinstance(outcome, str):
        # Stopped from outside (the org's pause): what it streamed so far is all there is.
        await state.save(
            status=RunStatus.CANCELLED, error=outcome, duration_s=time.monotonic() - started
        )
        return AgentResult(status=RunStatus.CANCELLED, error=outcome)
    result = outcome
    usage = result.usage
    await state.save(
        model=usage.model or plan.spec.model,
        harness_version=result.harness_version,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        turns=usage.turns,
        cost_usd=result.cost_usd,
        cost_source=result.cost_source.value,
        price_date=result.price_date,
        summary=clean(state, wall, result.summary, "agent's summary"),
        session_id=result.session_id,
        duration_s=round(time.monotonic() - started, 3),
    )
    if not result.ok:
        await state.save(status=result.status)
    return result
