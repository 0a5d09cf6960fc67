"""The subprocess runner: explicit env, output capture, and whole-tree kills."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from adapters.process import ProcessError, run

pytestmark = pytest.mark.anyio

# A parent that starts a grandchild which would outlive it, printing the grandchild's pid.
TREE = (
    "import subprocess, sys, time\n"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(p.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


async def test_env_is_exactly_what_was_given(tmp_path: Path) -> None:
    os.environ["BATON_TEST_LEAK"] = "server-secret"
    try:
        done = await run([sys.executable, "-c", "import os; print(sorted(os.environ))"],
                         cwd=tmp_path, env={"ONLY": "1"})  # fmt: skip
    finally:
        del os.environ["BATON_TEST_LEAK"]
    assert "BATON_TEST_LEAK" not in done.out
    assert "'ONLY'" in done.out


async def test_stdin_is_closed_so_a_cli_never_waits_for_input(tmp_path: Path) -> None:
    probe = "import os, sys; print(os.readlink('/proc/self/fd/0'), repr(sys.stdin.read()))"
    done = await run([sys.executable, "-c", probe], cwd=tmp_path, env={}, timeout_s=10)
    assert done.out.split() == ["/dev/null", "''"]


async def test_failure_carries_stderr(tmp_path: Path) -> None:
    with pytest.raises(ProcessError) as err:
        await run([sys.executable, "-c", "import sys; sys.exit('boom')"], cwd=tmp_path, env={})
    assert err.value.returncode == 1
    assert "boom" in str(err.value)


async def test_missing_program_is_a_process_error(tmp_path: Path) -> None:
    with pytest.raises(ProcessError, match="cannot start"):
        await run(["/nonexistent/agent"], cwd=tmp_path, env={})


async def test_streams_lines(tmp_path: Path) -> None:
    seen: list[str] = []

    async def on_line(line: str) -> None:
        seen.append(line)

    await run([sys.executable, "-c", "print('a'); print('b')"], cwd=tmp_path, env={},
              on_stdout_line=on_line)  # fmt: skip
    assert seen == ["a", "b"]


async def test_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    pids: list[int] = []

    async def on_line(line: str) -> None:
        pids.append(int(line))

    done = await run([sys.executable, "-c", TREE], cwd=tmp_path, env={}, timeout_s=1.5,
                     check=False, on_stdout_line=on_line)  # fmt: skip
    assert done.timed_out
    assert done.returncode is None
    await asyncio.sleep(0.2)
    assert pids
    assert not alive(pids[0])


async def test_cancel_kills_the_whole_tree(tmp_path: Path) -> None:
    pids: list[int] = []
    started = asyncio.Event()

    async def on_line(line: str) -> None:
        pids.append(int(line))
        started.set()

    task = asyncio.create_task(
        run([sys.executable, "-c", TREE], cwd=tmp_path, env={}, on_stdout_line=on_line)
    )
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)
    assert not alive(pids[0])


async def test_lines_longer_than_the_stream_limit(tmp_path: Path) -> None:
    """Claude Code's stream-json can put a whole file on one line (well over 64 KiB)."""
    seen: list[int] = []

    async def on_line(line: str) -> None:
        seen.append(len(line))

    done = await run(
        [sys.executable, "-c", "print('x' * 300_000); print('tail', end='')"],
        cwd=tmp_path, env={}, on_stdout_line=on_line,
    )  # fmt: skip
    assert seen == [300_000, 4]
    assert len(done.stdout) == 300_005
