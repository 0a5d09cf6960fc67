"""Agents run under bubblewrap: read-only system, the worktree the only writable place, no secrets.

Inside, the worktree is `/workspace`, HOME is `/home/agent` (a fresh directory of the run),
inputs such as the prompt file are read-only under `/run/baton/input`, `/tmp` is a private
tmpfs, and the process runs as uid 1000 in its own user, pid, ipc, uts and (unless the plan
says `network: host`) network namespaces, with no capabilities, rlimits per process, and the
run's processes, memory and disk bounded together (`adapters/runlimits.py`).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from adapters.bwrap import (
    HOME,
    INPUTS,
    SOCKET,
    WORKSPACE,
    Network,
    ResourceLimits,
    SandboxPlan,
    bwrap_args,
    prlimit_args,
)
from adapters.netforward import Endpoint, ModelRelay, parse_endpoint
from adapters.process import DEFAULT_PATH, Completed, ProcessError, base_env, run
from adapters.runlimits import bounded
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

__all__ = [
    "HOME",
    "INPUTS",
    "WORKSPACE",
    "Network",
    "ResourceLimits",
    "SandboxError",
    "SandboxMode",
    "SandboxPlan",
    "SandboxStatus",
    "SandboxUnavailable",
    "bwrap_args",
    "git_common_dir",
    "run_sandboxed",
    "sandbox_status",
]

SandboxMode = Literal["bubblewrap", "none"]

FIX = (
    "install it (`apt-get install bubblewrap`), or set BATON_SANDBOX=none to run agents unsandboxed"
)


class SandboxUnavailable(BatonError):
    """Bubblewrap cannot run here and the operator has not opted out; the message says how."""


class SandboxError(BatonError, ValueError):
    """A plan that cannot be run safely (say, network `none` without a model endpoint)."""


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    ok: bool
    reason: str


_status: SandboxStatus | None = None


def git_common_dir(worktree: Path) -> Path | None:
    """The git dir a linked worktree's `.git` file points into (None for a plain `.git` dir)."""
    dot_git = worktree / ".git"
    if dot_git.is_symlink() or not dot_git.is_file():
        return None
    text = dot_git.read_text().strip()
    if not text.startswith("gitdir:"):
        return None
    gitdir = (worktree / text.removeprefix("gitdir:").strip()).resolve()
    commondir = gitdir / "commondir"
    common = (gitdir / commondir.read_text().strip()).resolve() if commondir.is_file() else gitdir
    # Only something that is a git dir gets mounted: a forged `.git` file must not expose /etc.
    if not (common / "HEAD").is_file() or not (common / "objects").is_dir():
        return None
    if not gitdir.is_relative_to(common):
        return None
    return common


def _check_plan(plan: SandboxPlan) -> Endpoint | None:
    for name, path in (("worktree", plan.worktree), ("home", plan.home)):
        if not path.is_absolute() or not path.is_dir():
            raise SandboxError(f"the sandbox {name} {path} is not an existing absolute directory")
    if (plan.worktree / ".git").is_symlink():
        raise SandboxError("the worktree's .git is a symlink; refusing to mount what it points at")
    if plan.network == "host":
        return None
    if not plan.model_endpoint:
        return None  # no network at all: an agent that needs no model API
    return parse_endpoint(plan.model_endpoint)


async def _run(
    plan: SandboxPlan,
    argv: Sequence[str],
    *,
    bwrap: str,
    prlimit: str,
    timeout_s: float | None,
    on_stdout_line: Callable[[str], Awaitable[None]] | None,
    stdin: bytes | None,
    on_stderr_line: Callable[[str], Awaitable[None]] | None = None,
) -> Completed:
    endpoint = _check_plan(plan)
    with tempfile.TemporaryDirectory(prefix="baton-sbx-") as tmp:
        private = Path(tmp)
        full = prlimit_args(prlimit, plan.limits) + bwrap_args(
            plan, argv, bwrap=bwrap, private=private, relay=endpoint
        )

        async def go() -> Completed:
            async with bounded(plan.resources, paths=(plan.worktree, plan.home)) as bound:
                work = run(
                    bound.wrap(full),
                    cwd=plan.worktree,
                    env=base_env(HOME, plan.env, path=DEFAULT_PATH),
                    stdin=stdin,
                    timeout_s=timeout_s,
                    check=False,
                    on_stdout_line=on_stdout_line,
                    on_stderr_line=on_stderr_line,
                )
                return await bound.supervise(work)

        if endpoint is None:
            return await go()
        (private / "net").mkdir()
        async with ModelRelay(socket_path=private / "net" / SOCKET, endpoint=endpoint):
            return await go()


def _tools() -> tuple[str, str] | str:
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    if prlimit is None:
        return "prlimit (util-linux) is not installed"
    return bwrap, prlimit


async def sandbox_status() -> SandboxStatus:
    """Whether bubblewrap runs here with Baton's profile: tried once, then remembered."""
    global _status  # noqa: PLW0603 - one probe per process; the answer does not change
    if _status is not None:
        return _status
    tools = _tools()
    if isinstance(tools, str):
        _status = SandboxStatus(ok=False, reason=tools)
        return _status
    with tempfile.TemporaryDirectory(prefix="baton-sbx-probe-") as tmp:
        (Path(tmp) / "w").mkdir()
        (Path(tmp) / "h").mkdir()
        plan = SandboxPlan(worktree=Path(tmp) / "w", home=Path(tmp) / "h", env={})
        try:
            done = await _run(
                plan, ["true"], bwrap=tools[0], prlimit=tools[1], timeout_s=30,
                on_stdout_line=None, stdin=None,
            )  # fmt: skip
        except ProcessError as exc:
            _status = SandboxStatus(ok=False, reason=f"bubblewrap cannot start: {exc}")
            return _status
    if done.returncode == 0:
        _status = SandboxStatus(ok=True, reason="bubblewrap runs")
    else:
        tail = " | ".join(done.err.strip().splitlines()[-3:]) or f"exit {done.returncode}"
        _status = SandboxStatus(ok=False, reason=f"bubblewrap cannot run here: {tail}")
    return _status


async def run_sandboxed(
    plan: SandboxPlan,
    argv: Sequence[str],
    *,
    timeout_s: float | None,
    on_stdout_line: Callable[[str], Awaitable[None]] | None = None,
    stdin: bytes | None = None,
    on_stderr_line: Callable[[str], Awaitable[None]] | None = None,
) -> Completed:
    """Run `argv` inside the plan's sandbox; timeout or cancel kills everything in it.

    Never raises for the command's own failure (check `returncode` / `timed_out`); raises
    LimitError (LimitReached) when the run is ended at, or cannot be given, its resource bounds.
    """
    status = await sandbox_status()
    tools = _tools()
    if not status.ok or isinstance(tools, str):
        raise SandboxUnavailable(f"{status.reason}; {FIX}")
    return await _run(
        plan, argv, bwrap=tools[0], prlimit=tools[1], timeout_s=timeout_s,
        on_stdout_line=on_stdout_line, stdin=stdin, on_stderr_line=on_stderr_line,
    )  # fmt: skip
