"""Agents run under bubblewrap: read-only system, the worktree the only writable place, no secrets.

Inside, the worktree is `/workspace`, HOME is `/home/agent` (a fresh directory of the run),
inputs such as the prompt file are read-only under `/run/baton/input`, `/tmp` is a private
tmpfs, and the process runs as uid 1000 in its own user, pid, ipc, uts and (unless the plan
says `network: host`) network namespaces, with no capabilities, rlimits per process, and the
run's processes, memory and disk bounded together (`adapters/runlimits.py`).
"""

from __future__ import annotations

import resource
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from adapters.base import Resources
from adapters.netforward import INSIDE_RELAY, Endpoint, ModelRelay, parse_endpoint
from adapters.process import DEFAULT_PATH, Completed, ProcessError, base_env, run
from adapters.runlimits import bounded
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

SandboxMode = Literal["bubblewrap", "none"]
Network = Literal["host", "none"]

WORKSPACE = Path("/workspace")
HOME = Path("/home/agent")
INPUTS = Path("/run/baton/input")
_NET = Path("/run/baton/net")
_SOCKET = "model.sock"
SANDBOX_UID = 1000
GIB = 1024**3

# Only what TLS, DNS, the dynamic linker, locales and the usual toolchains read: never all of
# /etc, where a server may keep its own key. passwd and group are written fresh per run.
_ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "gai.conf",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "protocols",
    "python3",
    "python3.11",
    "resolv.conf",
    "services",
    "ssl",
    "timezone",
)
# Started by root, the sandbox user is the host's uid 0 without capabilities: owner permission
# checks still pass for it, and a fresh procfs would let it write global sysctls (say
# kernel.core_pattern). These are covered with the host's read-only view.
_PROC_READ_ONLY = ("sys", "sysrq-trigger", "fs", "irq", "bus", "acpi", "scsi")
_USR_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")

FIX = (
    "install it (`apt-get install bubblewrap`), or set BATON_SANDBOX=none to run agents unsandboxed"
)


class SandboxUnavailable(BatonError):
    """Bubblewrap cannot run here and the operator has not opted out; the message says how."""


class SandboxError(BatonError, ValueError):
    """A plan that cannot be run safely (say, network `none` without a model endpoint)."""


@dataclass(frozen=True, slots=True)
class ResourceLimits:
    """Per-run rlimits, applied by `prlimit` to bwrap and inherited by everything inside.

    Memory is capped with RLIMIT_DATA, not RLIMIT_AS: Node reserves large PROT_NONE ranges for
    WebAssembly (Gemini CLI fails under an 8-32 GiB AS limit and starts at 64 GiB), which DATA
    does not count. Claude Code needs more than 512 MiB of DATA just to print its version.
    RLIMIT_NPROC is not enforced by the kernel when the server runs as root (the sandbox user
    maps to root), and counts per user, not per run: the run's cgroup (`Resources`) is the bound.
    """

    data_bytes: int = 8 * GIB
    nproc: int = 4096
    fsize_bytes: int = 4 * GIB
    nofile: int = 8192
    tmp_bytes: int = 1 * GIB


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxPlan:
    """Everything one sandboxed process may see; `env` is its complete environment."""

    worktree: Path
    home: Path
    env: Mapping[str, str]
    read_only: tuple[Path, ...] = ()  # mounted read-only at their own paths
    git_dir: Path | None = None  # the worktree's git common dir, read-only
    inputs: Path | None = None  # read-only at INPUTS
    network: Network = "host"
    model_endpoint: str | None = None  # relayed in when network is "none"
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    resources: Resources = field(default_factory=Resources)  # all the run's processes together
    relay_python: str = "/usr/bin/python3"  # runs the relay inside when network is "none"


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


def _passwd_files(private: Path) -> tuple[Path, Path]:
    passwd, group = private / "passwd", private / "group"
    passwd.write_text(
        f"agent:x:{SANDBOX_UID}:{SANDBOX_UID}:agent:{HOME}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    group.write_text(f"agent:x:{SANDBOX_UID}:\nnogroup:x:65534:\n")
    return passwd, group


def _prlimit_args(prlimit: str, limits: ResourceLimits) -> list[str]:
    # An unprivileged server cannot raise a hard limit: stay within what it has.
    nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = limits.nofile if nofile_hard < 0 else min(limits.nofile, nofile_hard)
    return [
        prlimit,
        f"--data={limits.data_bytes}",
        f"--nproc={limits.nproc}",
        f"--fsize={limits.fsize_bytes}",
        f"--nofile={nofile}",
        "--core=0",
        "--",
    ]


def bwrap_args(
    plan: SandboxPlan, argv: Sequence[str], *, bwrap: str, private: Path, relay: Endpoint | None
) -> list[str]:
    """The bwrap command line for `plan` (no secrets: the environment is passed, not argv)."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
    if plan.network == "host":
        args.append("--share-net")
    args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    args += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in _USR_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", str(host.readlink()), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    for name in _ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    passwd, group = _passwd_files(private)
    args += ["--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group), "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for name in _PROC_READ_ONLY:
        args += ["--ro-bind-try", f"/proc/{name}", f"/proc/{name}"]
    # Paths inside the sandbox: its own size-capped tmpfs, never the host's /tmp.
    args += ["--size", str(plan.limits.tmp_bytes), "--tmpfs", "/tmp"]  # noqa: S108
    args += ["--symlink", "/tmp", "/var/tmp"]  # noqa: S108
    args += ["--bind", str(plan.worktree), str(WORKSPACE)]
    dot_git = plan.worktree / ".git"
    if dot_git.exists():
        # The `.git` file (or dir) stays as Baton made it: it decides which config and hooks
        # Baton's own git commands read after the run.
        args += ["--ro-bind", str(dot_git), str(WORKSPACE / ".git")]
    if plan.git_dir is not None:
        args += ["--ro-bind", str(plan.git_dir), str(plan.git_dir)]
    for path in plan.read_only:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(plan.home), str(HOME)]
    if plan.inputs is not None:
        args += ["--ro-bind", str(plan.inputs), str(INPUTS)]
    command = list(argv)
    if relay is not None:
        args += ["--ro-bind", str(private / "net"), str(_NET)]
        command = [plan.relay_python, "-c", INSIDE_RELAY, str(_NET / _SOCKET), relay.origin, *argv]
    args += ["--chdir", str(WORKSPACE), "--remount-ro", "/", "--", *command]
    return args


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
) -> Completed:
    endpoint = _check_plan(plan)
    with tempfile.TemporaryDirectory(prefix="baton-sbx-") as tmp:
        private = Path(tmp)
        full = _prlimit_args(prlimit, plan.limits) + bwrap_args(
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
                )
                return await bound.supervise(work)

        if endpoint is None:
            return await go()
        (private / "net").mkdir()
        async with ModelRelay(socket_path=private / "net" / _SOCKET, endpoint=endpoint):
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
        on_stdout_line=on_stdout_line, stdin=stdin,
    )  # fmt: skip
