"""The one place Baton starts subprocesses: argv lists, explicit cwd and env, whole-tree kills."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from pathlib import Path

log = logging.getLogger(__name__)

# Output kept in memory per stream; an agent that prints more is truncated, never unbounded.
MAX_CAPTURE = 16 * 1024 * 1024
KILL_GRACE_S = 2.0
CHUNK = 64 * 1024
MAX_LINE = 32 * 1024 * 1024
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class ProcessError(BatonError):
    """A command exited non-zero (or could not start); carries its output for the error report."""

    def __init__(self, argv0: str, returncode: int | None, stderr: str) -> None:
        self.argv0 = argv0
        self.returncode = returncode
        self.stderr = stderr
        tail = stderr.strip().splitlines()[-5:]
        super().__init__(
            f"{argv0} failed (exit {returncode})" + (": " + " | ".join(tail) if tail else "")
        )


@dataclass(frozen=True, slots=True)
class Completed:
    returncode: int | None  # None when killed for a timeout
    stdout: bytes
    stderr: bytes
    duration_s: float
    timed_out: bool = False

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def base_env(
    home: Path | str, extra: Mapping[str, str] | None = None, *, path: str | None = None
) -> dict[str, str]:
    """The environment every child starts from: PATH (`path`, else the server's), LANG and
    HOME, then `extra`, which may change PATH or LANG but never HOME.

    Nothing else of the server's own environment (where its secrets are) reaches a child.
    """
    env = {"PATH": path or os.environ.get("PATH") or DEFAULT_PATH, "LANG": "C.UTF-8"}
    env.update(extra or {})
    env["HOME"] = str(home)
    return env


def minimal_env(**extra: str) -> dict[str, str]:
    """A clean environment for helper tools (git): nothing of the server's secrets leaks in."""
    home = extra.pop("HOME", None) or os.environ.get("HOME", "/nonexistent")
    return base_env(home, extra)


async def _pump(
    stream: asyncio.StreamReader,
    sink: bytearray,
    on_line: Callable[[str], Awaitable[None]] | None,
) -> None:
    # Read in chunks, not readline(): an agent's JSON event line can be far longer than the
    # StreamReader's 64 KiB line limit (a whole file in one tool call).
    pending = bytearray()
    while True:
        chunk = await stream.read(CHUNK)
        if len(sink) < MAX_CAPTURE:
            sink.extend(chunk[: MAX_CAPTURE - len(sink)])
        if on_line is None:
            if not chunk:
                return
            continue
        pending.extend(chunk)
        while (end := pending.find(b"\n")) >= 0:
            line = bytes(pending[:end])
            del pending[: end + 1]
            await on_line(line.decode("utf-8", "replace"))
        if len(pending) > MAX_LINE:
            # A runaway line is passed on in pieces rather than held without bound.
            await on_line(pending.decode("utf-8", "replace"))
            pending.clear()
        if not chunk:
            if pending:
                await on_line(pending.decode("utf-8", "replace"))
            return


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal the whole process group started for `pid` (every child it spawned)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    kill_tree(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), KILL_GRACE_S)
    except TimeoutError:
        kill_tree(proc.pid, signal.SIGKILL)
        await proc.wait()
    # Children that ignored SIGTERM but outlived the leader still hold the group: finish them.
    kill_tree(proc.pid, signal.SIGKILL)


class Service:
    """A long-lived child (Baton's own worker), stopped with its whole process group."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        # Inherits stdout/stderr so its log lines join the server's.
        self._proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), start_new_session=True)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def poll(self) -> int | None:
        return self._proc.poll()

    def stop(self, grace_s: float = 30.0) -> int | None:
        kill_tree(self._proc.pid, signal.SIGTERM)
        try:
            return self._proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            kill_tree(self._proc.pid)
            return self._proc.wait()


async def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: bytes | None = None,
    timeout_s: float | None = None,
    check: bool = True,
    on_stdout_line: Callable[[str], Awaitable[None]] | None = None,
    on_stderr_line: Callable[[str], Awaitable[None]] | None = None,
) -> Completed:
    """Run `argv` in its own session so a timeout or a cancellation kills its whole tree.

    `env` is the complete environment of the child (never the server's own, implicitly).
    Cancellation of the awaiting task kills the tree, then re-raises CancelledError.
    """
    if not argv:
        raise ValueError("empty argv")
    started = time.monotonic()
    log.debug("exec %s (cwd=%s)", argv[0], cwd)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ProcessError(argv[0], None, f"cannot start: {exc.strerror}") from exc
    out, err = bytearray(), bytearray()
    assert proc.stdout is not None
    assert proc.stderr is not None

    async def communicate() -> None:
        if stdin is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin)
                await proc.stdin.drain()
            proc.stdin.close()
        assert proc.stdout is not None
        assert proc.stderr is not None
        await asyncio.gather(
            _pump(proc.stdout, out, on_stdout_line), _pump(proc.stderr, err, on_stderr_line)
        )
        await proc.wait()

    timed_out = False
    try:
        await asyncio.wait_for(communicate(), timeout_s)
    except TimeoutError:
        timed_out = True
        await _terminate(proc)
    except BaseException:
        # Cancelled, or an output callback gave up on the run (a budget stop): the tree goes too.
        await asyncio.shield(_terminate(proc))
        raise
    else:
        # The leader is gone; anything it left running in its group must not outlive the run.
        kill_tree(proc.pid)
    done = Completed(
        returncode=None if timed_out else proc.returncode,
        stdout=bytes(out),
        stderr=bytes(err),
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
    )
    if check and (timed_out or done.returncode != 0):
        raise ProcessError(argv[0], done.returncode, done.err)
    return done
