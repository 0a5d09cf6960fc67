"""The run job: authorize, plan, run the agent in a worktree, and deliver an annotated PR.

Every step is idempotent: a retried job finds the status comment, the commit, the pushed branch,
the PR and the check run that an earlier attempt left, and carries on from there.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from adapters.base import AgentEvent, AgentResult, AgentTask, CostSource, RunStatus
from adapters.registry import AdapterUnavailable, build_adapter
from adapters.sandbox import SandboxUnavailable
from bot import gitops, render
from bot.brief import build_brief
from bot.commands import Command, CommandError, find_command_line, parse, usage
from bot.configsource import ConfigError, load_effective
from bot.github import GitHubError, GitHubUnavailable
from bot.handoff import Handoff, render_handoff, resume_session, summarize_handoff
from bot.ledger import QUEUED, REFUSED, RUNNING, RunRecord, month_start
from bot.logs import bound
from bot.outbound import Outbound
from bot.plan import (
    Refusal,
    RunPlan,
    Spend,
    authorize,
    choose_agent,
    paths_in_text,
    plan_run,
    policy_violation,
)
from bot.queue import JobContext, RetryLater, cancel_requested
from bot.trigger import Trigger
from bot.verify import run_verify
from config.guard import ENV_REF, Operator
from config.merge import FLAGS_FILE
from config.schema import AgentsConfig, AgentSpec, Verify, permission_at_least

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.github import GitHubApp, InstallationToken, PullRequest, RepoGitHub
    from bot.ledger import Ledger
    from config.merge import Effective
    from config.settings import Settings

log = logging.getLogger(__name__)

# How often streamed usage is written to the ledger while an agent runs.
USAGE_SAVE_INTERVAL_S = 2.0
FAILED_STATUSES = frozenset(
    {RunStatus.FAILED.value, RunStatus.TIMED_OUT.value, RunStatus.BUDGET.value}
)


@dataclass(frozen=True, slots=True)
class Services:
    """What a run needs, handed in by the app factory (nothing is imported as a global)."""

    settings: Settings
    github: GitHubApp
    ledger: Ledger
    workspaces: gitops.Workspaces
    server_env: Mapping[str, str]
    # What the operator lets configs reach (variables, endpoints): from settings, once.
    operator: Operator = field(default_factory=Operator)
    # The scanner of the server's own secrets, for the push and every text sent to GitHub.
    outbound: Outbound = field(default_factory=Outbound)
    # One status comment per run: its creation is serialized between the run and the job that
    # acknowledges it while it waits (both run in this worker process).
    # Weak values: a lock nobody holds is dropped, so finished runs leave nothing behind.
    _status_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary, repr=False
    )

    def status_lock(self, run_id: str) -> asyncio.Lock:
        lock = self._status_locks.get(run_id)
        if lock is None:
            lock = self._status_locks[run_id] = asyncio.Lock()
        return lock


class RunFailed(Exception):
    """The run ends without a PR for a reason the user should read (already user-facing)."""


def run_id_for(job_id: int, attempt_index: int = 0) -> str:
    """`r12` for a job's first agent, `r12-2` for its first fallback, and so on."""
    return f"r{job_id}" if attempt_index == 0 else f"r{job_id}-{attempt_index + 1}"


async def acknowledge(gh: RepoGitHub, trigger: Trigger) -> None:
    """👀 on the triggering comment, or on the issue itself for a label (idempotent on GitHub)."""
    if trigger.comment_id is not None:
        await gh.react_comment(trigger.comment_id, "eyes", review=trigger.comment_kind == "review")
    else:
        await gh.react_issue(trigger.number, "eyes")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a run's work goes: the branch, where it starts, and the PR if there is one."""

    branch: str
    start: str  # origin branch the worktree starts from
    pr: PullRequest | None
    issue_number: int | None  # for `Fixes #N`
    title: str
    fresh: bool = False


class Run:
    """One job: one or more agent attempts (fallbacks) toward one PR. `rec` is the current
    attempt's ledger row, saved after every step."""

    def __init__(
        self, services: Services, trigger: Trigger, ctx: JobContext, *, contestant: str = ""
    ) -> None:
        self.s = services
        self.t = trigger
        self.ctx = ctx
        self.command = parse(trigger.command_text) if trigger.command_text is not None else None
        # A compare contestant keeps its own ledger row: r12-claude, r12-codex.
        self.contestant = contestant
        self.verify_passed: bool | None = None
        self.diffstat: tuple[int, int, int] | None = None  # files, added, removed
        # Whose words the brief quotes as the task: on a PR Baton opened, the issue it serves.
        self.task = trigger
        self.handover = ""  # why the agent now working took over from the one before
        self.limit_note = ""  # why a flag's limit did not apply as asked
        self.left_behind = ""  # the diff a failed agent left, for the next one's brief
        self.safety_notes: list[str] = []  # what Baton removed or withheld from the agent's work
        self.rec = self._record(0)

    def _record(self, index: int) -> RunRecord:
        run_id = run_id_for(self.ctx.job_id, index)
        if self.contestant:
            run_id = f"{run_id}-{self.contestant}"
        existing = self.s.ledger.get(run_id)
        if existing is not None:
            return existing
        rec = RunRecord(
            id=run_id, job_id=self.ctx.job_id, repo=self.t.repo, number=self.t.number,
            is_pull_request=self.t.is_pull_request, trigger=self.t.kind, verb=self.t.verb,
            requester=self.t.requester, status=QUEUED, created_at=time.time(),
        )  # fmt: skip
        first = self.s.ledger.get(run_id_for(self.ctx.job_id)) if index > 0 else None
        if first is not None:  # fallbacks share the job's status comment
            rec = rec.with_(comment_id=first.comment_id)
        return rec

    def save(self, **changes: object) -> None:
        self.rec = self.rec.with_(**changes)
        self.s.ledger.save(self.rec)

    # -- status comment ---------------------------------------------------------------------

    async def status(self, gh: RepoGitHub, *, detail: str = "", pr_url: str = "") -> None:
        """Create the job's status comment once, then edit it in place."""
        body = render.status_comment(self.rec, detail=detail, pr_url=pr_url)
        async with self.s.status_lock(self.rec.id):
            if self.rec.comment_id is None:
                # The acknowledgement of a waiting run may have made it already.
                stored = self.s.ledger.get(self.rec.id)
                if stored is not None and stored.comment_id is not None:
                    self.rec = self.rec.with_(comment_id=stored.comment_id)
            if self.rec.comment_id is None and self.ctx.attempt > 1:
                found = await gh.find_comment(self.t.number, render.status_marker(self.rec.id))
                if found is not None:
                    self.save(comment_id=found.id)
            if self.rec.comment_id is None:
                self.save(comment_id=await gh.comment(self.t.number, body))
            else:
                await gh.edit_comment(self.rec.comment_id, body)

    async def refuse(self, gh: RepoGitHub, refusal: Refusal) -> None:
        self.save(status=REFUSED, error=refusal.reason, finished_at=time.time())
        await self.status(gh, detail=refusal.reason)
        if self.t.kind == "label" and self.t.label:
            await gh.remove_label(self.t.number, self.t.label)

    # -- the job ------------------------------------------------------------------------------

    async def execute(self) -> None:
        async with await self.s.github.repo(
            self.t.installation_id, self.t.owner, self.t.name
        ) as gh:
            permission = await gh.permission(self.t.requester)
            flags: dict[str, object] = {}
            try:
                effective = await self._load(gh, flags)
                # Flags override keys of the agents that will run, so the route is read first.
                flags = self._flags(effective.config)
                if flags:
                    effective = await self._load(gh, flags)
            except ConfigError as exc:
                # The built-in trigger rule decides who hears about a broken config.
                refusal = self._authorize(permission, AgentsConfig())
                if refusal is None:
                    await self.refuse(gh, Refusal(_config_error_text(exc)))
                elif not self.t.requester_is_bot:
                    await self.refuse(gh, refusal)
                return
            refusal = self._authorize(permission, effective.config)
            if refusal is not None:
                if not self.t.requester_is_bot:  # never converse with a bot not allow-listed
                    await self.refuse(gh, refusal)
                return
            locked = _locked_flags(effective) if flags else None
            if locked is not None:
                await self.refuse(gh, locked)
                return
            await self._work(gh, effective)

    async def _load(self, gh: RepoGitHub, flags: Mapping[str, object]) -> Effective:
        return await load_effective(
            app=self.s.github, gh=gh, trigger=self.t,
            settings_repo=self.s.settings.settings_repo, flags=flags,
            label_prefix=self.s.settings.label_prefix, operator=self.s.operator,
        )  # fmt: skip

    def _flags(self, config: AgentsConfig) -> dict[str, object]:
        """The command's flags as config keys of the agents they apply to: every contestant of
        a compare; else the agent that runs first, and its fallbacks for limits (not model)."""
        command = self.command
        if not isinstance(command, Command) or not command.flags:
            return {}
        if command.verb == "compare":
            return {k: v for a in command.agents for k, v in command.overrides(a).items()}
        agent = command.agent or self.t.agent
        fallback: tuple[str, ...] = ()
        if agent is None:
            chosen = choose_agent(trigger=self._routed(), config=config, paths=self._paths())
            if isinstance(chosen, Refusal):
                return {}  # the plan refuses with the reason
            agent, fallback = chosen
        out = command.overrides(agent)
        limits_only = replace(command, flags={k: v for k, v in command.flags.items()
                                              if k != "model"})  # fmt: skip
        for other in fallback:
            out.update(limits_only.overrides(other))
        return out

    def _unknown_agent(self, config: AgentsConfig) -> Refusal | None:
        """A command naming an agent this repository lacks gets the usage and the valid names."""
        if not isinstance(self.command, Command):
            return None
        named = self.command.agents or ((self.command.agent,) if self.command.agent else ())
        missing = [a for a in named if a not in config.agents]
        if not missing:
            return None
        return Refusal(
            f"`{missing[0]}` is not an agent this repository knows, so nothing ran.\n\n"
            + usage(self.s.settings.command, sorted(config.agents))
        )

    def _routed(self) -> Trigger:
        """Commands route like the fix label: one set of routes serves both triggers."""
        if self.t.kind == "command" and self.t.label is None:
            return self.t.model_copy(update={"label": f"{self.s.settings.label_prefix}fix"})
        return self.t

    def _paths(self) -> list[str]:
        return paths_in_text(f"{self.t.title}\n{self.t.body}")

    def _authorize(self, permission: str, config: AgentsConfig) -> Refusal | None:
        return authorize(
            trigger=self.t, permission=permission, config=config,
            server_allow_bots=self.s.settings.allow_bots,
        )  # fmt: skip

    def _spend(self) -> Spend:
        since = month_start()
        ledger = self.s.ledger
        return Spend(
            repo_month=ledger.spend(since=since, repo=self.t.repo),
            owner_month=ledger.spend(since=since, owner=self.t.owner),
            requester_month=ledger.spend(since=since, requester=self.t.requester),
        )

    async def _acknowledge(self, gh: RepoGitHub) -> None:
        await acknowledge(gh, self.t)

    async def _target(self, gh: RepoGitHub) -> Target | Refusal:
        fresh = isinstance(self.command, Command) and bool(self.command.flags.get("fresh"))
        if self.t.is_pull_request:
            pr = await gh.get_pull(self.t.number)
            if pr.state != "open":
                return Refusal(f"Pull request #{pr.number} is {pr.state}; reopen it first.")
            if pr.head_repo and pr.head_repo != self.t.repo:
                return Refusal(
                    f"The branch of #{pr.number} lives in the fork {pr.head_repo}, where Baton "
                    "cannot push. Ask for a fix on an issue instead."
                )
            issue = next(
                (r.number for r in self.s.ledger.for_pull(self.t.repo, pr.number)
                 if not r.is_pull_request), None,
            )  # fmt: skip
            return Target(branch=pr.head_ref, start=pr.base_ref if fresh else pr.head_ref, pr=pr,
                          issue_number=issue, title=pr.title, fresh=fresh)  # fmt: skip
        branch = gitops.branch_name(self.t.number, self.t.title)
        open_pr = await gh.find_pull(branch)
        return Target(branch=branch, start=branch if open_pr else self.t.default_branch,
                      pr=open_pr, issue_number=self.t.number, title=self.t.title)  # fmt: skip

    async def _work(self, gh: RepoGitHub, effective: Effective) -> None:
        config = effective.config
        unknown = self._unknown_agent(config)
        if unknown is not None:
            await self.refuse(gh, unknown)
            return
        if isinstance(self.command, Command) and self.command.verb == "compare":
            from bot.compare import run_compare  # noqa: PLC0415 - compare builds on this module

            await run_compare(self, gh, config, self.command.agents)
            return
        plan = plan_run(
            trigger=self._routed(), config=config, paths=self._paths(), spend=self._spend()
        )
        if isinstance(plan, Refusal):
            await self.refuse(gh, plan)
            return
        self.limit_note = _capped_flag_note(self.command, plan)
        target = await self._target(gh)
        if isinstance(target, Refusal):
            await self.refuse(gh, target)
            return
        if target.pr is not None and target.issue_number is not None:
            issue = await gh.get_issue(target.issue_number)
            self.task = self.t.model_copy(update={
                "number": issue.number, "is_pull_request": False, "title": issue.title,
                "body": issue.body, "author": issue.author,
            })  # fmt: skip
        if self.rec.status in {QUEUED, REFUSED}:
            self.save(status=RUNNING, started_at=time.time())
        await self._acknowledge(gh)
        if self.t.kind == "label" and self.t.label:
            await gh.remove_label(self.t.number, self.t.label)
        token = await self.s.github.token(self.t.installation_id, (self.t.name,))
        handoff = await self._handoff(gh, target, token, config)
        chain = [plan.agent, *plan.fallback]
        failures: list[str] = []
        for index, agent in enumerate(chain):
            if index > 0:
                self.rec = self._record(index)
            if self.rec.status in FAILED_STATUSES:
                failures.append(self.rec.error)  # an earlier job attempt already tried this one
                handoff = _with_failed(handoff, self.rec)
                continue
            step = replace(plan, agent=agent, spec=config.agents[agent])
            self.save(agent=agent, adapter=step.spec.adapter, model=step.spec.model,
                      network=step.spec.sandbox.network,
                      status=RUNNING, started_at=self.rec.started_at or time.time())  # fmt: skip
            if index > 0:
                self.handover = (f"`{chain[index - 1]}` did not succeed ({failures[-1]}); "
                                 f"handing over to `{agent}`.")  # fmt: skip
            await self.status(gh, detail=self._detail(handoff))
            outcome = await self._attempt(gh, step, target, token, handoff=handoff)
            if outcome is None:
                return
            failures.append(outcome)
            handoff = _with_failed(handoff, self.rec, self.left_behind)
            self.left_behind = ""
        raise RunFailed(failures[-1] if len(failures) == 1 else " Then: ".join(failures))

    def _clean(self, wall: Outbound, text: str, channel: str) -> str:
        """`text`, or the notice that stands for it when it carries a secret (said once more in
        the status comment)."""
        checked = wall.check(text, channel)
        if checked != text:
            self.safety_notes.append(checked)
        return checked

    def _detail(self, handoff: Handoff | None) -> str:
        """The status comment's text: a fallback's reason, then what was handed over."""
        summary = summarize_handoff(handoff) if handoff is not None else ""
        parts = (self.limit_note, self.handover, *self.safety_notes, summary)
        return "\n\n".join(p for p in parts if p)

    async def _handoff(
        self, gh: RepoGitHub, target: Target, token: InstallationToken, config: AgentsConfig
    ) -> Handoff | None:
        """The context the agent inherits; None for a first run on a new issue."""
        instruction = self.command.instruction if isinstance(self.command, Command) else ""
        if target.pr is None:
            if not instruction:
                return None
            return Handoff(task_ref=f"issue #{self.t.number}", instruction=instruction)
        pr = target.pr
        earlier = tuple(
            r for r in self.s.ledger.for_pull(self.t.repo, pr.number)
            if r.job_id != self.ctx.job_id and r.agent
        )  # fmt: skip
        diff = await self.s.workspaces.diff(
            repo=self.t.repo, clone_url=self.t.clone_url, token=token,
            base=pr.base_ref, head=pr.head_ref,
        )  # fmt: skip
        trusted, withheld = [], 0
        allowed: dict[str, bool] = {}
        need = config.triggers.min_permission
        for comment in await gh.review_comments(pr.number):
            if comment.line is None:
                continue  # outdated: its line is no longer in the diff
            if find_command_line(comment.body, self.s.settings.command) is not None:
                continue  # a command in a thread: its instruction reaches the agent as such
            if comment.author not in allowed:
                # Only people who may trigger runs may steer them: others' words stay out.
                have = await gh.permission(comment.author)
                allowed[comment.author] = permission_at_least(have, need)
            if allowed[comment.author]:
                trusted.append(comment)
            else:
                withheld += 1
        failing = tuple(
            c for c in await gh.check_runs(pr.head_sha)
            if c.conclusion in {"failure", "timed_out", "action_required"}
            and c.app_slug != self.s.settings.app_slug
        )  # fmt: skip
        first_issue = target.issue_number
        return Handoff(
            task_ref=f"pull request #{pr.number}"
            + (f" (for issue #{first_issue})" if first_issue else ""),
            earlier_runs=earlier, diff=diff, review_comments=tuple(trusted),
            failing_checks=failing, instruction=instruction, withheld_comments=withheld,
            fresh=target.fresh,
        )  # fmt: skip

    async def _attempt(
        self,
        gh: RepoGitHub,
        plan: RunPlan,
        target: Target,
        token: InstallationToken,
        *,
        handoff: Handoff | None,
        verify: Verify | None = None,
    ) -> str | None:
        """One agent's attempt; None when it delivered, else why it did not."""
        remote_now = (
            target.pr.head_sha if target.pr is not None
            else await self.s.workspaces.remote_sha(self.t.repo, target.branch)
        )  # fmt: skip
        wt = await self._worktree(token, target)
        if not self.rec.commit_sha:
            # A new worktree builds on the branch as it is now; that head is the push's lease for
            # every later attempt of this run, so a commit someone pushes meanwhile is never
            # replaced by a retry that would otherwise read it as the head to expect.
            self.save(lease_sha=remote_now or "")
        expected_remote = self.rec.lease_sha or None
        if not self.rec.commit_sha:
            wall = self._wall(token, plan.spec)
            result = await self._run_agent(plan, wt, handoff, wall)
            if not result.ok:
                reason = wall.check(_agent_failure_text(plan.agent, result), "agent's error")
                self.save(error=reason, finished_at=time.time())
                self.left_behind = await _partial_diff(wt)
                await self.s.workspaces.remove(self.t.repo, self.rec.id)
                return reason
            staged = await gitops.stage_changes(wt)
            if staged.removed_git:
                self.safety_notes.append(render.removed_git_note(staged.removed_git))
            violation = policy_violation(staged.changed, plan.policy)
            if violation is None:
                violation = await _leaks(wt, staged, wall)
            title = target.title or self.t.title
            number = target.issue_number or self.t.number
            message = render.commit_message(title=title, number=number, rec=self.rec)
            if violation is None and wall.findings(message, "commit message"):
                violation = "The commit message would carry a secret; nothing was pushed."
            if violation is not None:
                raise RunFailed(violation)
            sha = await gitops.commit(wt, message)
            self.save(commit_sha=sha, branch=target.branch)
        self.diffstat = await gitops.diffstat(wt)
        if verify is not None:
            try:
                self.verify_passed = await run_verify(verify, wt.path,
                                                      sandbox=self.s.settings.sandbox)  # fmt: skip
            except SandboxUnavailable as exc:
                log.warning("verify not run: %s", exc)
        await self._push(wt, target, expected_remote)
        pr = await self._open_pr(gh, target, plan)
        if self.rec.check_run_id is None:
            title, summary = render.check_run_output(self.rec)
            check_id = await gh.create_check_run(
                head_sha=self.rec.commit_sha, name=render.CHECK_NAME, conclusion="success",
                title=title, summary=summary, external_id=self.rec.id,
            )  # fmt: skip
            self.save(check_run_id=check_id)
        self.save(status=RunStatus.SUCCESS.value, finished_at=time.time())
        await self.status(gh, pr_url=pr.html_url, detail=self._detail(handoff))
        await self.s.workspaces.remove(self.t.repo, self.rec.id)
        return None

    async def _push(self, wt: gitops.Worktree, target: Target, expected: str | None) -> None:
        token = await self.s.github.token(self.t.installation_id, (self.t.name,))
        remote = await gitops.ls_remote(
            cwd=wt.path, clone_url=self.t.clone_url, token=token, branch=target.branch
        )
        if remote == self.rec.commit_sha:
            return  # an earlier attempt of this job pushed it
        if target.fresh and expected:
            # The replaced head stays reachable: a tag named in the PR body keeps it.
            await gitops.push_ref(
                wt, clone_url=self.t.clone_url, token=token, sha=expected,
                ref=f"refs/tags/{render.previous_tag(self.t.number, expected)}",
            )  # fmt: skip
            self.save(replaced_sha=expected)
        await gitops.push(wt, clone_url=self.t.clone_url, token=token, expected_remote=expected)

    def _wall(self, token: InstallationToken, spec: AgentSpec) -> Outbound:
        """The server's secrets plus this run's own: its installation token, and whatever key
        or variable this agent was handed (the ones it can read)."""
        env = self.s.server_env
        names = {spec.api_key_env} if spec.api_key_env else set()
        names.update(ENV_REF.findall(" ".join(spec.env.values())))
        extra = {f"the server's {name}": env.get(name, "") for name in sorted(names)}
        extra["the installation token"] = token.value.get_secret_value()
        return self.s.outbound.with_secrets(extra)

    async def _worktree(self, token: InstallationToken, target: Target) -> gitops.Worktree:
        if self.rec.commit_sha:
            wt = await self.s.workspaces.existing(run_id=self.rec.id, branch=target.branch)
            if wt is not None and await gitops.head_sha(wt) == self.rec.commit_sha:
                return wt
            # The committed work is gone with its worktree: run the agent again.
            self.save(commit_sha="")
        return await self.s.workspaces.prepare(
            repo=self.t.repo, clone_url=self.t.clone_url, token=token,
            run_id=self.rec.id, branch=target.branch, start=target.start,
        )  # fmt: skip

    async def _run_agent(
        self, plan: RunPlan, wt: gitops.Worktree, handoff: Handoff | None, wall: Outbound
    ) -> AgentResult:
        try:
            adapter = build_adapter(
                agent=plan.agent, spec=plan.spec, server_env=self.s.server_env,
                sandbox=self.s.settings.sandbox, prices=plan.prices,
            )  # fmt: skip
        except AdapterUnavailable as exc:
            return AgentResult(status=RunStatus.FAILED, error=str(exc))
        extra = render_handoff(handoff) if handoff is not None else ""
        task = AgentTask(
            prompt=build_brief(self.task, extra=extra), title=self.task.title,
            body=self.task.body, model=plan.spec.model,
            resume_session_id=resume_session(handoff, plan.agent),
        )  # fmt: skip
        last_save = 0.0

        async def sink(event: AgentEvent) -> None:
            nonlocal last_save
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
            self.save(**changes)

        started = time.monotonic()
        result = await adapter.run(task, wt.path, self.s.workspaces.bounded(wt, plan.limits), sink)
        usage = result.usage
        self.save(
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
            summary=self._clean(wall, result.summary, "agent's summary"),
            session_id=result.session_id,
            duration_s=round(time.monotonic() - started, 3),
        )
        if not result.ok:
            self.save(status=result.status.value)
        return result

    async def _open_pr(self, gh: RepoGitHub, target: Target, plan: RunPlan) -> PullRequest:
        pr = target.pr
        if pr is None and self.ctx.attempt > 1:
            # Only a retried job can find a PR it opened itself; a race is caught by the 422.
            pr = await gh.find_pull(target.branch)
        runs = [*self._earlier_runs(pr), self.rec.with_(status=RunStatus.SUCCESS.value)]
        body = render.pr_body(summary=self.rec.summary, issue_number=target.issue_number,
                              runs=runs)  # fmt: skip
        if pr is None:
            try:
                pr = await gh.create_pull(
                    title=target.title or f"Agent change for #{self.t.number}",
                    head=target.branch, base=self.t.default_branch, body=body,
                    draft=plan.policy.draft,
                )  # fmt: skip
            except GitHubError as exc:
                # Two attempts raced, or GitHub created it but the answer was lost: find it.
                if exc.status != 422:
                    raise
                pr = await gh.find_pull(target.branch)
                if pr is None:
                    raise
        else:
            pr = await gh.update_pull(pr.number, body=body)
        self.save(pr_number=pr.number, pr_url=pr.html_url)
        return pr

    def _earlier_runs(self, pr: PullRequest | None) -> list[RunRecord]:
        """Every finished run that went into this PR: earlier jobs' runs on it, and the agents
        of this job's fallback chain that did not succeed (their cost counts too)."""
        ledger = self.s.ledger
        rows = {r.id: r for r in (ledger.for_pull(self.t.repo, pr.number) if pr else [])}
        if not self.contestant:
            for r in ledger.for_target(self.t.repo, self.t.number):
                if r.job_id == self.ctx.job_id:
                    rows[r.id] = r
        return sorted(
            (r for r in rows.values()
             if r.id != self.rec.id and r.agent and r.status not in {QUEUED, RUNNING, REFUSED}),
            key=lambda r: r.created_at,
        )  # fmt: skip


MAX_LEFT_BEHIND_CHARS = 20_000
MAX_FINDINGS_SHOWN = 5


async def _leaks(wt: gitops.Worktree, staged: gitops.Staged, wall: Outbound) -> str | None:
    """Why the change may not leave the machine: a secret in any file (binary ones too, read
    from git's objects) or file name, in any form; or a file too large to scan."""
    try:
        blobs = await gitops.staged_blobs(wt)
    except gitops.FileTooLarge as exc:
        return f"Nothing was pushed: {exc}."
    scanner = wall.scanner
    found = scanner.scan_text("\n".join(staged.changed), where="the changed files' names")
    for blob in blobs:
        if blob.new is not None:
            found += scanner.scan_blob(blob.new, where=blob.path, old=blob.old)
    if not found:
        return None
    listed = "; ".join(str(f) for f in found[:MAX_FINDINGS_SHOWN])
    more = (
        f" (and {len(found) - MAX_FINDINGS_SHOWN} more)" if len(found) > MAX_FINDINGS_SHOWN else ""
    )
    return f"The agent's change contains what looks like {listed}{more}; nothing was pushed."


async def _partial_diff(wt: gitops.Worktree) -> str:
    """What a failed agent changed before it stopped ("" when nothing, or unreadable)."""
    try:
        await gitops.stage_changes(wt)
        return await gitops.staged_diff(wt)
    except gitops.GitError as exc:
        log.info("could not read what the failed agent left: %s", exc)
        return ""


def _with_failed(handoff: Handoff | None, rec: RunRecord, left_behind: str = "") -> Handoff:
    """The next agent in a fallback chain hears what the failed one did, and sees what it had
    changed when it stopped (not kept: the next agent starts from the same point)."""
    base = handoff or Handoff(task_ref=f"issue #{rec.number}")
    notes = base.notes
    if left_behind.strip():
        diff = left_behind[:MAX_LEFT_BEHIND_CHARS] + (
            "\n[truncated]" if len(left_behind) > MAX_LEFT_BEHIND_CHARS else ""
        )
        note = (
            f"What `{rec.agent}` had changed when it stopped (not kept; you start from the same "
            f"point):\n\n```diff\n{diff}\n```\n"
        )
        notes = (*notes, note)
    return replace(base, earlier_runs=(*base.earlier_runs, rec), notes=notes)


def _locked_flags(effective: Effective) -> Refusal | None:
    flagged = [w for w in effective.warnings if w.file == FLAGS_FILE]
    if not flagged:
        return None
    reasons = "\n".join(f"- {w.message}" for w in flagged)
    return Refusal(
        f"A flag tried to change a key the organization locks, so nothing ran:\n{reasons}"
    )


def _config_error_text(exc: ConfigError) -> str:
    lines = "\n".join(str(issue) for issue in exc.issues)
    return (
        "The agent configuration is invalid, so no agent was started:\n\n"
        f"```\n{lines}\n```\n\nFix the file on the default branch and trigger again. "
        "`baton config check` shows the same errors locally."
    )


def _capped_flag_note(command: Command | CommandError | None, plan: RunPlan) -> str:
    """`--max-cost` above a budget does not raise it: say which limit applies instead."""
    asked = command.flags.get("max-cost") if isinstance(command, Command) else None
    cap = plan.limits.max_cost_usd
    if not isinstance(asked, float) or cap is None or cap >= asked:
        return ""
    return (
        f"`--max-cost={asked:g}` is above {plan.cost_cap_by}, so this run stops at "
        f"${cap:.4f} instead."
    )


def _agent_failure_text(agent: str, result: AgentResult) -> str:
    what = {
        RunStatus.TIMED_OUT: "ran out of time",
        RunStatus.BUDGET: "stopped at its cost limit",
        RunStatus.CANCELLED: "was cancelled",
    }.get(result.status, "failed")
    detail = f": {result.error}" if result.error else ""
    return f"Agent `{agent}` {what}{detail}"


async def run_job(services: Services, ctx: JobContext) -> None:
    """The queue's `run` task: one attempt; transient GitHub trouble is retried with backoff."""
    trigger = Trigger.model_validate(ctx.args)
    run = Run(services, trigger, ctx)
    with bound(delivery=trigger.delivery_id, run=run.rec.id):
        log.info("run %s attempt %d/%d on %s#%d", run.rec.id, ctx.attempt, ctx.max_attempts,
                 trigger.repo, trigger.number)  # fmt: skip
        try:
            await run.execute()
        except RunFailed as exc:
            await _finish_failed(run, str(exc))
        except gitops.BranchMoved:
            await _finish_failed(
                run, f"Someone pushed to `{run.rec.branch}` while the agent worked, so Baton did "
                "not overwrite it and pushed nothing. Comment `/agent retry` to run again on "
                "the branch as it is now.",
            )  # fmt: skip
        except (GitHubUnavailable, gitops.GitError) as exc:
            if not ctx.final_attempt:
                log.warning("attempt %d failed, will retry: %s", ctx.attempt, exc)
                raise RetryLater(str(exc)) from exc
            await _finish_failed(
                run, f"Baton gave up after {ctx.attempt} attempts: {exc}. Trigger again "
                "to retry once GitHub is reachable.",
            )  # fmt: skip
        except GitHubError as exc:
            await _finish_failed(run, f"GitHub refused a step of this run: {exc}")
        except asyncio.CancelledError as exc:
            # A shutdown leaves the job queued for the next start: nothing to report then.
            if cancel_requested(exc):
                await asyncio.shield(_finish_cancelled(run))
            raise


async def _finish_cancelled(run: Run) -> None:
    run.save(status=RunStatus.CANCELLED.value, finished_at=time.time(), error="cancelled")
    try:
        async with await run.s.github.repo(run.t.installation_id, run.t.owner, run.t.name) as gh:
            await run.status(gh, detail="Cancelled on request: the agent was stopped and "
                             "nothing more was pushed.")  # fmt: skip
    except GitHubError as exc:
        log.warning("could not report the cancellation of run %s: %s", run.rec.id, exc)
    await run.s.workspaces.remove(run.t.repo, run.rec.id)


async def _finish_failed(run: Run, reason: str) -> None:
    """Record the failure and say so on the issue; if GitHub cannot hear it, the log does."""
    status = run.rec.status if run.rec.status not in {QUEUED, RUNNING} else "failed"
    run.save(status=status, error=reason, finished_at=time.time())
    log.warning("run %s failed: %s", run.rec.id, reason)
    await run.s.workspaces.remove(run.t.repo, run.rec.id)
    try:
        async with await run.s.github.repo(run.t.installation_id, run.t.owner, run.t.name) as gh:
            parts = (run.limit_note, *run.safety_notes, reason)
            await run.status(gh, detail="\n\n".join(p for p in parts if p))
    except GitHubError as exc:
        # The reason was logged above; a traceback of GitHub being down adds nothing.
        log.error("could not report the failure of run %s on GitHub: %s", run.rec.id, exc)  # noqa: TRY400
