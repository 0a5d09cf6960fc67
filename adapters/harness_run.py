"""One adapter runs every real CLI: sandbox, fresh home, streaming, limits, normalized result."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from adapters import toolchain
from adapters.base import (
    AgentAdapter,
    AgentEvent,
    AgentResult,
    AgentTask,
    CostSource,
    EventSink,
    Limits,
    RunStatus,
    Usage,
)
from adapters.harness import (
    ConfigProblem,
    Driver,
    Final,
    GiveUp,
    Invocation,
    api_base,
    install_mounts,
    resolve_endpoint,
    tail,
)
from adapters.prices import PriceTable
from adapters.process import ProcessError, base_env
from adapters.runlimits import LimitError
from adapters.runner import Places, ProcessJob
from adapters.sandbox import SandboxError, SandboxUnavailable, git_common_dir
from adapters.sessions import SessionStore, default_sessions_dir
from adapters.untrusted import write_inside

if TYPE_CHECKING:
    from collections.abc import Mapping

    from adapters.harness import Parser
    from adapters.process import Completed
    from adapters.runner import Runner
    from config.schema import AgentSpec

log = logging.getLogger(__name__)
POLL_S = 0.5  # how often the CLI's files are read for usage while it runs


class _OverBudget(Exception):
    def __init__(self, cost: float) -> None:
        self.cost = cost


@dataclass(slots=True)
class _SoFar:
    """The latest usage and cost a running CLI showed: what a run stopped early has to go on."""

    usage: Usage | None = None
    cost_usd: float | None = None


@functools.cache
def _prices() -> PriceTable:
    return PriceTable.load()


def _drift(harness: str, found: str | None) -> str:
    """What to say when the CLI found is not the version Baton pins ("" when it is)."""
    pinned = toolchain.HARNESSES[harness].version
    if found == pinned:
        return ""
    return (
        f"{harness} {found or 'of unknown version'} is installed, not the pinned {pinned} "
        f"(`baton agents install {harness}` installs it)"
    )


def _counted(usage: Usage) -> bool:
    return any(v for k, v in usage.as_dict().items() if k != "turns")


class HarnessAdapter(AgentAdapter):
    """Drives one real CLI through its `Driver` (flags, env, parsing), run by the `Runner`."""

    def __init__(
        self,
        *,
        driver: Driver,
        spec: AgentSpec,
        agent: str,
        server_env: Mapping[str, str],
        runner: Runner,
        prices: PriceTable | None = None,
        prefix: Path | None = None,
        sessions: Path | None = None,
    ) -> None:
        self.name = driver.harness
        self._driver = driver
        self._spec = spec
        self._agent = agent
        self._server_env = server_env
        self._runner = runner
        self._prices = prices
        self._prefix = prefix if prefix is not None else toolchain.default_prefix(server_env)
        self._sessions = SessionStore(
            root=sessions if sessions is not None else default_sessions_dir(server_env),
            harness=driver.harness,
        )

    def _fail(self, error: str, version: str = "") -> AgentResult:
        return AgentResult(
            status=RunStatus.FAILED, error=f"{self._agent}: {error}", harness_version=version
        )

    async def run(
        self, task: AgentTask, workdir: Path, limits: Limits, events: EventSink
    ) -> AgentResult:
        model = task.model or self._spec.model
        vendor = self._driver.vendor(model)
        try:
            endpoint = resolve_endpoint(vendor=vendor, spec=self._spec, server_env=self._server_env)
            found = await toolchain.find(self._driver.harness, self._prefix, env=self._server_env)
        except ConfigProblem as exc:
            return self._fail(str(exc))
        if found.path is None:
            return self._fail(
                f"the {self._driver.harness} CLI is not installed; run "
                f"`baton agents install {self._driver.harness}`"
            )
        version = found.version or ""
        drift = _drift(self._driver.harness, found.version)
        if drift:
            log.warning("agent %s: %s", self._agent, drift)
        # Inside the run's bounded area when the caller gives one: HOME counts against its disk.
        tmp_prefix = f"baton-{self._driver.harness}-"
        with tempfile.TemporaryDirectory(prefix=tmp_prefix, dir=limits.scratch) as tmp:
            home = Path(tmp) / "home"
            home.mkdir()
            resume = task.resume_session_id
            if resume and not self._sessions.restore(resume, home):
                log.info("no stored session %s for %s: starting a new one", resume, self._agent)
                resume = None
            places = Places(worktree=workdir.resolve(), home=home)
            inv = Invocation(
                prompt=task.prompt,
                model=model,
                workdir=self._runner.inside(places.worktree, places),
                home=self._runner.inside(home, places),
                host_home=home,
                endpoint=endpoint,
                resume=resume,
                agents_md=(workdir / "AGENTS.md").is_file(),
                max_cost_usd=limits.max_cost_usd,
                as_root=not self._runner.sandboxed and os.geteuid() == 0,
                price=(self._prices or _prices()).lookup(model),
            )
            launch = self._driver.launch(inv)
            # The relay lets through the paths under the base the CLI appends its own to.
            base = endpoint.base_url
            relayed = api_base(base, vendor.style) if base else None
            for rel, text in launch.home_files.items():
                target = home / rel
                write_inside(home, target, text)
            before = {name for name in self._driver.artifacts() if (workdir / name).exists()}
            job = ProcessJob(
                name=self._agent,
                argv=(str(found.path), *launch.argv),
                places=places,
                env=base_env(inv.home, launch.env),
                read_only=install_mounts(found.path),
                git_dir=git_common_dir(workdir),
                network=self._spec.sandbox.network,
                model_endpoint=relayed,
                resources=limits.resources,
                timeout_s=limits.timeout_s,
            )
            parser = self._driver.parser(inv)
            await events(AgentEvent(kind="started", text=f"{self._driver.harness} {version}"))
            so_far = _SoFar()
            try:
                done = await self._execute(job, parser, limits=limits, events=events, so_far=so_far)
            except _OverBudget as stop:
                why = (f"{self._agent}: stopped at ${stop.cost:.4f}, over the "
                       f"${limits.max_cost_usd:.4f} limit of this run")  # fmt: skip
                # Kept like a finished run's, so `/agent continue` resumes where it stopped.
                session = parser.session()
                if session:
                    self._sessions.save(session, home)
                stopped = self._stopped(so_far, model, version, RunStatus.BUDGET, why)
                return replace(stopped, session_id=session)
            except GiveUp as stop:
                why = f"{self._agent} ({self.name}) failed: {stop}"
                return self._stopped(so_far, model, version, RunStatus.FAILED, why)
            except LimitError as stop:
                why = f"{self._agent}: {stop}"
                return self._stopped(so_far, model, version, RunStatus.FAILED, why)
            except (SandboxUnavailable, SandboxError, ProcessError) as exc:
                return self._fail(str(exc), version)
            finally:
                self._tidy(workdir, before)
            final = parser.finish(done)
            if final.session_id:
                self._sessions.save(final.session_id, home)
        result = self._result(final, done, limits, model, version)
        if drift and result.status is RunStatus.FAILED:
            # Flags and output formats are read as the pinned version has them.
            result = replace(result, error=f"{result.error} (note: {drift})")
        await events(AgentEvent(kind="finished", text=result.status.value, usage=result.usage,
                                cost_usd=result.cost_usd))  # fmt: skip
        return result

    async def _execute(
        self, job: ProcessJob, parser: Parser, *, limits: Limits, events: EventSink, so_far: _SoFar
    ) -> Completed:
        """The CLI's one process, run by the runner while its output and files are watched."""

        async def check(found: list[AgentEvent]) -> None:
            for event in found:
                await events(event)
                cost = event.cost_usd
                if cost is None and event.usage is not None:
                    priced = (self._prices or _prices()).price(event.usage)
                    cost = priced.cost_usd if priced else None
                if event.usage is not None:
                    so_far.usage, so_far.cost_usd = event.usage, event.cost_usd
                cap = limits.max_cost_usd
                if cost is not None and cap is not None and cost > cap:
                    raise _OverBudget(cost)

        async def on_line(line: str) -> None:
            await check(parser.feed(line))

        async def watch() -> None:
            while True:
                await asyncio.sleep(POLL_S)
                await check(parser.poll())

        work = self._runner.run(job, on_stdout_line=on_line)
        try:
            # A budget stop from the watcher cancels the run, which kills the CLI's whole tree.
            async with asyncio.TaskGroup() as group:
                watcher = group.create_task(watch())
                done = await work
                watcher.cancel()
        except ExceptionGroup as failed:
            # One side failed (the run, or the watcher at the budget); the other was cancelled.
            raise failed.exceptions[0] from None
        return done

    def _tidy(self, workdir: Path, before: set[str]) -> None:
        """A CLI's own bookkeeping files are not part of the agent's change."""
        for name in self._driver.artifacts():
            path = workdir / name
            if name in before or not (path.exists() or path.is_symlink()):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _cost(
        self, usage: Usage, reported: float | None
    ) -> tuple[float | None, CostSource, str | None]:
        """The run's cost, where it came from, and the price table's date when priced."""
        if reported is not None:
            return reported, CostSource.REPORTED, None
        # No tokens and no cost means the CLI reported nothing (killed before its report, or
        # failed first): pricing that as $0 would present a guess as a fact.
        priced = (self._prices or _prices()).price(usage) if _counted(usage) else None
        if priced is None:
            return None, CostSource.UNKNOWN, None
        return priced.cost_usd, CostSource.PRICED, priced.date

    def _stopped(
        self, so_far: _SoFar, model: str, version: str, status: RunStatus, error: str
    ) -> AgentResult:
        """A run Baton stopped: what it had used by then is all there is to record."""
        usage = so_far.usage or Usage()
        usage = usage if usage.model else replace(usage, model=model)
        cost, source, date = self._cost(usage, so_far.cost_usd)
        return AgentResult(
            status=status, usage=usage, cost_usd=cost, cost_source=source, price_date=date,
            error=error, harness_version=version,
        )  # fmt: skip

    def _result(
        self, final: Final, done: Completed, limits: Limits, model: str, version: str
    ) -> AgentResult:
        usage = final.usage if final.usage.model else replace(final.usage, model=model)
        cost, source, date = self._cost(usage, final.cost_usd)
        result = AgentResult(
            status=RunStatus.SUCCESS, summary=final.summary, usage=usage, cost_usd=cost,
            cost_source=source, price_date=date, session_id=final.session_id,
            harness_version=version,
        )  # fmt: skip
        if done.timed_out:
            why = f"{self._agent}: no result within {limits.timeout_s:.0f}s"
            return replace(result, status=RunStatus.TIMED_OUT, error=why)
        over = cost is not None and limits.max_cost_usd is not None and cost > limits.max_cost_usd
        if final.budget or over:
            spent = f"${cost:.4f}" if cost is not None else "its budget"
            why = f"{self._agent}: stopped at {spent}, over the limit of this run"
            return replace(result, status=RunStatus.BUDGET, error=why)
        if final.error or done.returncode != 0:
            why = final.error or tail(done.err) or tail(done.out) or f"exit {done.returncode}"
            return replace(result, status=RunStatus.FAILED,
                           error=f"{self._agent} ({self.name}) failed: {why}")  # fmt: skip
        return result
