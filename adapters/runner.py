"""The one seam every agent or check process runs through: on the host, in the sandbox, or faked.

Whether processes run under bubblewrap is chosen once, from BATON_SANDBOX (`runner_for`), and the
`Runner` is handed to whatever starts them. A process is described by a `ProcessJob` in the
host's terms; the runner says where its directories are as the process sees them (`inside`),
since argv and environment name those paths.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeAlias

from adapters.base import Resources
from adapters.process import Completed, run
from adapters.sandbox import (
    FIX,
    HOME,
    INPUTS,
    WORKSPACE,
    Network,
    ResourceLimits,
    SandboxMode,
    SandboxPlan,
    SandboxUnavailable,
    run_sandboxed,
    sandbox_status,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    LineSink: TypeAlias = Callable[[str], Awaitable[None]]
    Step: TypeAlias = Completed | Callable[["ProcessJob"], Completed | Awaitable[Completed]]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Places:
    """A job's own directories on the host: its worktree, its fresh HOME, its read-only inputs."""

    worktree: Path
    home: Path
    inputs: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessJob:
    """One process to run: what, where, with what it may see and use, and for how long.

    Paths are the host's; `argv` and `env` name them as `Runner.inside` says the process sees
    them. `env` is the complete environment, made by `process.base_env` (the sandbox only makes
    sure HOME is its own). Mounts, network and resources bound a sandboxed process; on the host
    nothing bounds it.
    """

    name: str  # the agent's name, or "verify": for the log and the error a user reads
    argv: tuple[str, ...]
    places: Places
    env: Mapping[str, str]
    read_only: tuple[Path, ...] = ()  # visible read-only at their own paths (the CLI's install)
    git_dir: Path | None = None  # the worktree's git common dir, read-only
    network: Network = "none"
    model_endpoint: str | None = None  # relayed in when the network is "none"
    resources: Resources = field(default_factory=Resources)
    timeout_s: float | None = None


class Runner(Protocol):
    """Runs a job's process to its end. Never raises for the process's own failure (read
    `returncode` / `timed_out`); raises SandboxUnavailable when it needs a sandbox it cannot
    have, SandboxError for a job it cannot run safely, LimitError at a resource bound."""

    @property
    def sandboxed(self) -> bool: ...

    def inside(self, path: Path, places: Places) -> Path:
        """`path` (one of the job's places, or a path in one) as the job's process sees it."""
        ...

    async def run(
        self,
        job: ProcessJob,
        *,
        on_stdout_line: LineSink | None = None,
        on_stderr_line: LineSink | None = None,
    ) -> Completed: ...


def _seen(path: Path, places: Places, view: Places) -> Path:
    """`path`, in one of `places`, at its spot in `view` (the places as its process sees them)."""
    pairs = [(places.worktree, view.worktree), (places.home, view.home)]
    if places.inputs is not None and view.inputs is not None:
        pairs.append((places.inputs, view.inputs))
    # The deepest place first, should one ever sit inside another.
    for host, seen in sorted(pairs, key=lambda pair: len(pair[0].parts), reverse=True):
        if path.is_relative_to(host):
            return seen / path.relative_to(host)
    raise ValueError(f"{path} is in none of the job's places")


SANDBOX_VIEW = Places(worktree=WORKSPACE, home=HOME, inputs=INPUTS)


class HostRunner:
    """Runs processes as the server's own children: BATON_SANDBOX=none, said on every run."""

    sandboxed = False

    def inside(self, path: Path, places: Places) -> Path:
        return _seen(path, places, places)

    async def run(
        self,
        job: ProcessJob,
        *,
        on_stdout_line: LineSink | None = None,
        on_stderr_line: LineSink | None = None,
    ) -> Completed:
        log.warning(
            "BATON_SANDBOX=none: agent %s runs UNSANDBOXED, with the server's filesystem, "
            "processes and network; unset it once bubblewrap is installed",
            job.name,
        )
        return await run(
            job.argv,
            cwd=job.places.worktree,
            env=job.env,
            timeout_s=job.timeout_s,
            check=False,
            on_stdout_line=on_stdout_line,
            on_stderr_line=on_stderr_line,
        )


class SandboxRunner:
    """Runs each process under bubblewrap, bounded and with its network cut or relayed."""

    sandboxed = True

    def __init__(self, *, limits: ResourceLimits | None = None) -> None:
        self._limits = limits or ResourceLimits()

    def inside(self, path: Path, places: Places) -> Path:
        return _seen(path, places, SANDBOX_VIEW)

    async def run(
        self,
        job: ProcessJob,
        *,
        on_stdout_line: LineSink | None = None,
        on_stderr_line: LineSink | None = None,
    ) -> Completed:
        # Probed on the first run that needs it (never at import or startup), then remembered.
        status = await sandbox_status()
        if not status.ok:
            why = f"agent {job.name} needs the sandbox, but {status.reason}; {FIX}"
            raise SandboxUnavailable(why)
        plan = SandboxPlan(
            worktree=job.places.worktree.resolve(),
            home=job.places.home,
            env=job.env,
            read_only=job.read_only,
            git_dir=job.git_dir,
            inputs=job.places.inputs,
            network=job.network,
            model_endpoint=job.model_endpoint,
            limits=self._limits,
            resources=job.resources,
        )
        return await run_sandboxed(
            plan,
            job.argv,
            timeout_s=job.timeout_s,
            on_stdout_line=on_stdout_line,
            on_stderr_line=on_stderr_line,
        )


def runner_for(mode: SandboxMode) -> Runner:
    """The runner BATON_SANDBOX names: made once by the app, handed to everything that runs."""
    return HostRunner() if mode == "none" else SandboxRunner()


def chosen(runner: Runner | None, sandbox: SandboxMode | None) -> Runner:
    """The runner handed in, else the one `sandbox` names, else the sandbox (fail closed).

    For callers still passing BATON_SANDBOX's value instead of a runner.
    """
    if runner is not None and sandbox is not None:
        raise ValueError("pass a runner or a sandbox mode, not both")
    return runner if runner is not None else runner_for(sandbox or "bubblewrap")


# -- the test double ---------------------------------------------------------------------------


def completed(
    stdout: str = "", *, returncode: int | None = 0, stderr: str = "", timed_out: bool = False
) -> Completed:
    """A process's end as a test scripts it (a timed-out one has no exit status)."""
    code = None if timed_out else returncode
    return Completed(code, stdout.encode(), stderr.encode(), duration_s=0.0, timed_out=timed_out)


class FakeRunner:
    """A Runner that starts nothing: it records each job and answers it with the next step.

    A step is a `Completed`, or a function of the job that returns one (it may write into
    `job.places.worktree` and `job.places.home`, as an agent would). The answer's stdout, then
    its stderr, is handed to the caller line by line, as a streaming CLI's would be; an
    exception from the caller's line handler (a budget stop) propagates, as it ends a real run.
    """

    def __init__(self, *steps: Step, sandboxed: bool = True) -> None:
        self.sandboxed = sandboxed
        self.jobs: list[ProcessJob] = []
        self._steps = list(steps)

    def inside(self, path: Path, places: Places) -> Path:
        return _seen(path, places, SANDBOX_VIEW if self.sandboxed else places)

    async def run(
        self,
        job: ProcessJob,
        *,
        on_stdout_line: LineSink | None = None,
        on_stderr_line: LineSink | None = None,
    ) -> Completed:
        self.jobs.append(job)
        if not self._steps:
            raise AssertionError(f"the fake runner has no step left for {job.name}: {job.argv}")
        step = self._steps.pop(0)
        answer = step if isinstance(step, Completed) else step(job)
        done = await answer if inspect.isawaitable(answer) else answer
        if on_stdout_line is not None:
            for line in done.out.splitlines():
                await on_stdout_line(line)
        if on_stderr_line is not None:
            for line in done.err.splitlines():
                await on_stderr_line(line)
        return done
