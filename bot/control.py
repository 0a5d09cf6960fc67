"""Control commands, answered at once (no lock): help, status, config, budget, cancel, and the
usage reply for a command Baton could not read."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot import approve as approvals
from bot.budget_view import Scope, budget_report
from bot.commands import Command, CommandError, parse, usage
from bot.configsource import ConfigError, load_effective
from bot.github import GitHubError
from bot.ledger import RunRecord
from bot.plan import Refusal, authorize
from bot.queue import JobContext, JobStatus
from bot.render import format_cost, format_duration, status_comment
from bot.run import acknowledge, run_id_for, status_claim
from bot.scoreboard.read import stats_reply
from bot.store.spend import month_bounds
from bot.trigger import Trigger
from config.render import render_effective
from config.schema import AgentsConfig

if TYPE_CHECKING:
    from bot.github import RepoGitHub
    from bot.queue import JobQueue
    from bot.run import Services
    from config.merge import Effective

log = logging.getLogger(__name__)

CONTROL_MARKER = "<!-- baton:reply -->"


def _reply(text: str) -> str:
    return f"{CONTROL_MARKER}\n{text}"


async def _config_or_error(
    services: Services, gh: RepoGitHub, trigger: Trigger
) -> Effective | ConfigError:
    try:
        return await load_effective(
            app=services.github, gh=gh, trigger=trigger,
            settings_repo=services.settings.settings_repo,
            label_prefix=services.settings.label_prefix, operator=services.operator,
        )  # fmt: skip
    except ConfigError as exc:
        return exc


def _config_error_lines(exc: ConfigError) -> str:
    return "\n".join(str(issue) for issue in exc.issues)


async def status_text(services: Services, queue: JobQueue, trigger: Trigger) -> str:
    """Queued and running runs on this issue or PR, with elapsed time and cost so far."""
    now = time.time()
    lines = []
    for status in (JobStatus.RUNNING, JobStatus.QUEUED):
        for job in await queue.list_jobs(status=status, lock=trigger.lock):
            run_id = str(job.args.get("run_id") or run_id_for(job.id))  # an approved run's own
            rec = await services.store.get_run(run_id)
            elapsed = now - (job.started_at or job.created_at)
            agent = rec.agent if rec and rec.agent else str(job.args.get("agent") or "routed")
            cost = format_cost(rec.cost_usd, rec.cost_source) if rec else "unknown"
            lines.append(
                f"| `{run_id}` | {status.value} | {agent} | {format_duration(elapsed)} | {cost} |"
            )
    if not lines:
        recent = (await services.store.runs_for_target(trigger.repo, trigger.number))[-3:]
        done = "\n".join(
            f"- `{r.id}` {r.agent or '-'}: {r.status}, "
            f"{format_cost(r.cost_usd, r.cost_source, r.price_date)}"
            for r in recent
        )
        return "No run is queued or running here." + (f"\n\nRecent runs:\n{done}" if done else "")
    header = "| run | state | agent | elapsed | cost so far |\n|---|---|---|---|---|\n"
    return header + "\n".join(lines)


async def budget_text(services: Services, trigger: Trigger, effective: Effective) -> str:
    """This UTC month's spend for the repository, its owner and the requester, reported, priced
    and unknown kept apart, with each monthly cap, who set it, and what is left."""
    store, now = services.store, services.clock()
    since, until = month_bounds(now)
    scopes: list[Scope] = []
    org = f"the {trigger.owner} organization"
    who = {"requester": trigger.requester}
    named = [
        ("this repository", "budget.monthly_usd", {"repo": trigger.repo}),
        (org, "budget.org_monthly_usd", {"owner": trigger.owner}),
        (f"@{trigger.requester}", "budget.per_requester_monthly_usd", who),
    ]
    for title, key, where in named:
        costs = await store.cost_breakdown(since=since, until=until, **where)
        held = await store.held(now=now, **where)
        scopes.append(Scope(title=title, key=key, costs=costs, held_usd=held))
    return budget_report(scopes, effective=effective, now=now)


async def _cancel(services: Services, queue: JobQueue, trigger: Trigger, gh: RepoGitHub) -> str:
    job_id = await queue.running_job_id(trigger.lock)
    queued = await queue.list_jobs(status=JobStatus.QUEUED, lock=trigger.lock)
    if job_id is None and not queued:
        return "Nothing is running or queued here, so there is nothing to cancel."
    # The queued ones first: stopping the running job frees the lock for the next in line.
    waiting = []
    for job in queued:
        if await queue.cancel(job.id):
            waiting.append(f"`r{job.id}` (queued)")
            await _settle_queued_status(services, gh, job.id)
    cancelled = []
    if job_id is not None and await queue.cancel(job_id):
        cancelled.append(f"`r{job_id}` (running: its agent was stopped, nothing more is pushed)")
    cancelled += waiting
    return "Cancelled " + ", ".join(cancelled) + "." if cancelled else "Nothing could be cancelled."


async def _checked(
    services: Services, gh: RepoGitHub, trigger: Trigger
) -> tuple[Effective | ConfigError, Refusal | None]:
    """The config (or its errors), and why the requester may not ask (None when they may);
    a broken config is judged by the built-in trigger rule."""
    permission = await gh.permission(trigger.requester)
    loaded = await _config_or_error(services, gh, trigger)
    config = loaded.config if not isinstance(loaded, ConfigError) else AgentsConfig()
    refusal = authorize(trigger=trigger, permission=permission, config=config,
                        server_allow_bots=services.settings.allow_bots)  # fmt: skip
    return loaded, refusal


async def _settle_queued_status(services: Services, gh: RepoGitHub, job_id: int) -> None:
    """A run cancelled before it started: its "queued" status comment, if any, says so."""
    rec = await services.store.get_run(run_id_for(job_id))
    if rec is None or rec.comment_id is None:
        return
    comment_id = rec.comment_id
    rec = rec.with_(status=RunStatus.CANCELLED, finished_at=time.time(), error="cancelled")
    await services.store.save_run(rec)
    await gh.edit_comment(comment_id, status_comment(rec, detail="Cancelled before it started."))


async def control_job(services: Services, queue: JobQueue, ctx: JobContext) -> None:
    """The queue's `control` task: check permission, then answer the command in one comment."""
    trigger = Trigger.model_validate(ctx.args)
    prefix = services.settings.command
    try:
        async with await services.github.repo(
            trigger.installation_id, trigger.owner, trigger.name
        ) as gh:
            loaded, refusal = await _checked(services, gh, trigger)
            config = loaded.config if not isinstance(loaded, ConfigError) else AgentsConfig()
            if refusal is not None:
                if trigger.requester_is_bot:
                    return  # never converse with a bot that is not allow-listed
                await gh.comment(trigger.number, _reply(refusal.reason))
                return
            await _react(gh, trigger)
            command = parse(trigger.command_text or "")
            agents = sorted(config.agents)
            if isinstance(command, CommandError):
                text = f"{command.message}.\n\n{usage(prefix, agents)}"
            else:
                text = await _answer(
                    services,
                    queue=queue,
                    gh=gh,
                    trigger=trigger,
                    command=command,
                    loaded=loaded,
                    agents=agents,
                )
            await gh.comment(trigger.number, _reply(text))
    except GitHubError as exc:
        log.warning("could not answer `%s %s`: %s", prefix, trigger.command_text, exc)


async def _react(gh: RepoGitHub, trigger: Trigger) -> None:
    if trigger.comment_id is not None:
        await gh.react_comment(trigger.comment_id, "eyes", review=trigger.comment_kind == "review")


async def _answer(
    services: Services,
    *,
    queue: JobQueue,
    gh: RepoGitHub,
    trigger: Trigger,
    command: Command,
    loaded: Effective | ConfigError,
    agents: list[str],
) -> str:
    prefix = services.settings.command
    if command.verb == "help":
        return usage(prefix, agents)
    if command.verb == "status":
        return await status_text(services, queue, trigger)
    if command.verb == "cancel":
        return await _cancel(services, queue, trigger, gh)
    if command.verb == "stats":
        window_s = services.settings.stats_window_days * 86400
        return await stats_reply(
            services.store, repo=trigger.repo, now=services.clock(), window_s=window_s
        )
    if isinstance(loaded, ConfigError):
        return f"The agent configuration is invalid:\n\n```\n{_config_error_lines(loaded)}\n```"
    if command.verb == "config":
        return (
            "Effective configuration (each key's source; locked keys cannot be changed by the "
            f"repository or by flags):\n\n```yaml\n{render_effective(loaded)}\n```"
        )
    if command.verb == "budget":
        return await budget_text(services, trigger, loaded)
    if command.verb in {"approve", "deny"}:
        return await approvals.answer(services, queue, gh, trigger, deny=command.verb == "deny")
    return usage(prefix, agents)


async def ack_job(services: Services, queue: JobQueue, ctx: JobContext) -> None:
    """The queue's `ack` task: a label or work command that waits behind another run on the same
    issue is acknowledged now rather than when its turn comes: 👀, and its status comment saying
    it is queued, which the run edits in place once it starts."""
    trigger = Trigger.model_validate(ctx.args["trigger"])
    job_id = int(ctx.args["run_job"])
    waiting = await queue.get(job_id)
    if waiting is None or waiting.status != JobStatus.QUEUED:
        return  # it has started, and acknowledged itself
    try:
        async with await services.github.repo(
            trigger.installation_id, trigger.owner, trigger.name
        ) as gh:
            loaded, refusal = await _checked(services, gh, trigger)
            if isinstance(loaded, ConfigError) or refusal is not None:
                return  # the run reports the broken config, or refuses, where the user is
            await acknowledge(gh, trigger)
            await _queued_status(services, queue, gh, trigger, job_id)
    except GitHubError as exc:
        log.warning("could not acknowledge the queued run r%s: %s", job_id, exc)


async def _queued_status(
    services: Services, queue: JobQueue, gh: RepoGitHub, trigger: Trigger, job_id: int
) -> None:
    run_id = run_id_for(job_id)
    async with status_claim(services, run_id):
        waiting = await queue.get(job_id)
        known = await services.store.get_run(run_id)
        if waiting is None or waiting.status != JobStatus.QUEUED or known is not None:
            return  # it started meanwhile: its own status comment follows it
        holder = await queue.running_job_id(trigger.lock)
        where = "pull request" if trigger.is_pull_request else "issue"
        detail = (
            f"Waiting for `{run_id_for(holder)}` to finish on this {where}; it starts then."
            if holder is not None
            else f"Waiting for the run before it on this {where}."
        )
        rec = RunRecord(
            id=run_id, job_id=job_id, repo=trigger.repo, number=trigger.number,
            is_pull_request=trigger.is_pull_request, trigger=trigger.kind, verb=trigger.verb,
            requester=trigger.requester, status=RunStatus.QUEUED, created_at=services.clock(),
            agent=trigger.agent or "", label=trigger.label or "",
        )  # fmt: skip
        comment_id = await gh.comment(trigger.number, status_comment(rec, detail=detail))
        await services.store.save_run(rec.with_(comment_id=comment_id), only_its_comment=True)
