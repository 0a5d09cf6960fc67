"""The bubblewrap command line of a sandbox plan: what one agent process may see, and its rlimits.

No I/O but two small files (the sandbox's own passwd and group) written to the plan's private
directory; the environment is passed by the caller, never in argv.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from adapters.base import Resources
from adapters.netforward import INSIDE_RELAY, Endpoint

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

Network = Literal["host", "none"]

WORKSPACE = Path("/workspace")
HOME = Path("/home/agent")
INPUTS = Path("/run/baton/input")
NET_DIR = Path("/run/baton/net")
SOCKET = "model.sock"
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


def _passwd_files(private: Path) -> tuple[Path, Path]:
    passwd, group = private / "passwd", private / "group"
    passwd.write_text(
        f"agent:x:{SANDBOX_UID}:{SANDBOX_UID}:agent:{HOME}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    group.write_text(f"agent:x:{SANDBOX_UID}:\nnogroup:x:65534:\n")
    return passwd, group


def prlimit_args(prlimit: str, limits: ResourceLimits) -> list[str]:
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
        args += ["--ro-bind", str(private / "net"), str(NET_DIR)]
        command = [
            plan.relay_python,
            "-c",
            INSIDE_RELAY,
            str(NET_DIR / SOCKET),
            relay.origin,
            *argv,
        ]
    args += ["--chdir", str(WORKSPACE), "--remount-ro", "/", "--", *command]
    return args
