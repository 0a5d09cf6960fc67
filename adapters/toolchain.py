"""The agent CLIs Baton drives, pinned: where they are, which version, and installing them."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from adapters.filelock import flocked
from adapters.process import ProcessError, minimal_env, run
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import TextIO

PREFIX_ENV = "BATON_AGENTS_PREFIX"
VERSION_TIMEOUT_S = 30.0
INSTALL_TIMEOUT_S = 1800.0
# Registry, proxy and certificate settings an installer needs; nothing else of ours leaks in.
_PASSED_ENV = re.compile(
    r"^(npm_config_\w+|NPM_CONFIG_\w+|PIP_\w+|NODE_EXTRA_CA_CERTS|SSL_CERT_\w+|REQUESTS_CA_BUNDLE"
    r"|(?i:https?_proxy|no_proxy))$"
)
_VERSION = re.compile(r"\d+\.\d+\.\d+(?:[-.][0-9A-Za-z.]+)?")


@dataclass(frozen=True, slots=True)
class Harness:
    name: str
    kind: Literal["npm", "pip"]
    package: str
    version: str
    bin: str
    optional: bool = False  # not installed by `baton agents install` without a name

    @property
    def spec(self) -> str:
        return (
            f"{self.package}@{self.version}"
            if self.kind == "npm"
            else (f"{self.package}=={self.version}")
        )


HARNESSES: dict[str, Harness] = {
    h.name: h
    for h in (
        Harness("claude-code", "npm", "@anthropic-ai/claude-code", "2.1.197", "claude"),
        Harness("codex", "npm", "@openai/codex", "0.169.0", "codex"),
        Harness("gemini", "npm", "@google/gemini-cli", "0.61.0", "gemini"),
        Harness("aider", "pip", "aider-chat", "0.86.2", "aider"),
        Harness("opencode", "npm", "opencode-ai", "1.18.33", "opencode", optional=True),
        Harness("qwen", "npm", "@qwen-code/qwen-code", "0.15.10", "qwen", optional=True),
    )
}


@dataclass(frozen=True, slots=True)
class Found:
    path: Path | None
    version: str | None  # as the binary's `--version` says; None when absent or unreadable

    @property
    def ok(self) -> bool:
        return self.path is not None


@dataclass(frozen=True, slots=True)
class Installed:
    name: str
    path: Path
    version: str | None
    reused: bool  # the pinned version was already there


class UnknownHarness(BatonError):
    """A name that is not in HARNESSES."""


def default_prefix(env: Mapping[str, str] | None = None) -> Path:
    """`$BATON_AGENTS_PREFIX`, else `~/.cache/baton/agents`."""
    env = os.environ if env is None else env
    if env.get(PREFIX_ENV):
        return Path(env[PREFIX_ENV]).expanduser()
    return Path("~/.cache/baton/agents").expanduser()


def npm_root(prefix: Path) -> Path:
    """The npm tree ends in `node_modules`: the path a sandbox must mount it under."""
    return prefix / "npm" / "node_modules"


def prefix_bin(harness: Harness, prefix: Path) -> Path:
    prefix = prefix.resolve()
    if harness.kind == "npm":
        return npm_root(prefix) / ".bin" / harness.bin
    return prefix / harness.name / "bin" / harness.bin


def harness(name: str) -> Harness:
    try:
        return HARNESSES[name]
    except KeyError:
        known = ", ".join(HARNESSES)
        raise UnknownHarness(f"unknown agent {name!r} (known: {known})") from None


def installer_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    source = os.environ if env is None else env
    passed = {k: v for k, v in source.items() if _PASSED_ENV.match(k)}
    if source.get("PATH"):
        passed["PATH"] = source["PATH"]
    return minimal_env(**passed)


def parse_version(text: str) -> str | None:
    found = _VERSION.search(text)
    return found.group(0) if found else None


# `--version` of a binary, by what identifies its installed file: running it costs up to
# 1.3 s (Gemini CLI) and would otherwise be paid again by every run.
# ctime and inode, not mtime: npm gives every file it unpacks the same fixed mtime.
_versions: dict[tuple[Path, int, int, int], str | None] = {}


async def version_of(path: Path) -> str | None:
    try:
        real = path.resolve()
        st = real.stat()
    except OSError:
        return None
    key = (real, st.st_ino, st.st_ctime_ns, st.st_size)
    if key not in _versions:
        _versions[key] = await _run_version(path)
    return _versions[key]


async def _run_version(path: Path) -> str | None:
    try:
        done = await run(
            [str(path), "--version"],
            cwd=path.parent,
            env=minimal_env(),
            timeout_s=VERSION_TIMEOUT_S,
            check=False,
        )
    except ProcessError:
        return None
    return parse_version(done.out) if done.returncode == 0 else None


def _on_path(name: str, env: Mapping[str, str]) -> Path | None:
    for folder in env.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


async def find(
    name: str, prefix: Path | None = None, *, env: Mapping[str, str] | None = None
) -> Found:
    """The harness's binary: in the prefix first, then on PATH; with its `--version`."""
    h = harness(name)
    candidate = prefix_bin(h, prefix if prefix is not None else default_prefix(env))
    path = candidate if candidate.exists() else _on_path(h.bin, os.environ if env is None else env)
    if path is None:
        return Found(path=None, version=None)
    return Found(path=path, version=await version_of(path))


async def _install_one(h: Harness, prefix: Path, env: dict[str, str]) -> None:
    if h.kind == "npm":
        root = prefix / "npm"
        root.mkdir(parents=True, exist_ok=True)
        argv = ["npm", "install", "--prefix", str(root), "--no-fund", "--no-audit", "--save-exact"]
        await run([*argv, h.spec], cwd=root, env=env, timeout_s=INSTALL_TIMEOUT_S)
        return
    venv = prefix / h.name
    venv.parent.mkdir(parents=True, exist_ok=True)
    if not (venv / "bin" / "python").exists():
        await run([sys.executable, "-m", "venv", str(venv)], cwd=prefix, env=env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", h.spec]
    await run(pip, cwd=prefix, env=env, timeout_s=INSTALL_TIMEOUT_S)


async def install(
    names: Sequence[str], prefix: Path | None = None, *, env: Mapping[str, str] | None = None
) -> list[Installed]:
    """Install each pinned harness into the prefix, reusing one whose pinned version is there.

    Raises ProcessError (with the installer's output) when npm or pip fails.
    """
    prefix = (prefix if prefix is not None else default_prefix(env)).resolve()
    harnesses = [harness(n) for n in names]  # every name checked before anything is installed
    # Two installers on one prefix (workers starting together on one machine) would interleave
    # npm's and pip's writes: the second waits, then finds the pinned versions there.
    async with flocked(prefix / ".install.lock"):
        return await _install_all(harnesses, prefix, env)


async def _install_all(
    harnesses: Sequence[Harness], prefix: Path, env: Mapping[str, str] | None
) -> list[Installed]:
    results = []
    for h in harnesses:
        path = prefix_bin(h, prefix)
        version = await version_of(path) if path.exists() else None
        reused = version == h.version
        if not reused:
            await _install_one(h, prefix, installer_env(env))
            version = await version_of(path)
            if version != h.version:
                raise ProcessError(h.bin, None, f"installed {h.spec} but {path} reports {version}")
        results.append(Installed(name=h.name, path=path, version=version, reused=reused))
    return results


def _row(cells: Sequence[str]) -> str:
    widths = (12, 10, 10)
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)) + (
        "  " + cells[3] if len(cells) > 3 else ""
    )


async def _list(prefix: Path, out: TextIO) -> int:
    out.write(_row(["agent", "pinned", "found", "path"]) + "\n")
    found = await asyncio.gather(*(find(name, prefix) for name in HARNESSES))
    for h, f in zip(HARNESSES.values(), found, strict=True):
        version = f.version or ("?" if f.ok else "-")
        where = str(f.path) if f.path else "not installed (baton agents install " + h.name + ")"
        out.write(_row([h.name, h.version, version, where]) + "\n")
    return 0


USAGE = "usage: baton agents [--prefix DIR] [list | install [NAME ...]]\n"


def agents_main(argv: Sequence[str], *, out: TextIO, err: TextIO) -> int:
    """`baton agents` (list pinned, found version and path) and `baton agents install NAME...`."""
    args = list(argv)
    prefix = default_prefix()
    if args[:1] == ["--prefix"]:
        if len(args) < 2:
            err.write(USAGE)
            return 2
        prefix, args = Path(args[1]).expanduser(), args[2:]
    if args in ([], ["list"]):
        return asyncio.run(_list(prefix, out))
    if args[0] != "install" or any(a.startswith("-") for a in args[1:]):
        err.write(USAGE)
        return 2
    names = args[1:] or [h.name for h in HARNESSES.values() if not h.optional]
    try:
        results = asyncio.run(install(names, prefix))
    except UnknownHarness as exc:
        err.write(f"{exc}\n")
        return 2
    except ProcessError as exc:
        err.write(f"install failed: {exc}\n")
        return 1
    for r in results:
        action = "already installed" if r.reused else "installed"
        out.write(f"{r.name} {r.version} {action} at {r.path}\n")
    return 0
