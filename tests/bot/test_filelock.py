"""A mirror is fetched by one process at a time: a second process's fetch waits for the flock
beside the mirror, and a waiter cancelled while waiting holds nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.filelock import flocked
from bot import gitops, workspaces
from bot.github import InstallationToken

pytestmark = pytest.mark.anyio
TOKEN = InstallationToken(SecretStr("ghs_" + "t" * 36), 2e9)
# Another process: takes the flock, says so, and holds it until its stdin closes.
HOLDER = """
import fcntl, sys
with open(sys.argv[1], "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.read()
"""


@contextmanager
def held_by_another_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdin is not None
    try:
        assert child.stdout.readline() == "held\n"
        yield child
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()


def release(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.close()
    child.wait(timeout=30)


async def waits_while_held(task: asyncio.Task[object]) -> None:
    for _ in range(10):
        await asyncio.sleep(0.02)
        assert not task.done(), "took the lock another process holds"


async def test_the_second_holder_waits_for_the_first(tmp_path: Path) -> None:
    path = tmp_path / "m.git.lock"
    entered = asyncio.Event()

    async def take() -> None:
        async with flocked(path, poll_s=0.005):
            entered.set()

    with held_by_another_process(path) as child:
        task: asyncio.Task[object] = asyncio.create_task(take())
        await waits_while_held(task)
        release(child)
        await asyncio.wait_for(task, 30)
    assert entered.is_set()


async def test_a_waiter_cancelled_while_waiting_holds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.git.lock"

    async def take() -> None:
        async with flocked(path, poll_s=0.005):
            pytest.fail("entered a lock another process holds")

    with held_by_another_process(path):
        task = asyncio.create_task(take())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # Free again: a process that comes after gets it at once.
    with held_by_another_process(path):
        pass


async def test_a_fetch_into_a_mirror_another_process_holds_waits(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seed = tmp_path / "seed"
    git = ["git", "-C", str(seed), "-c", "user.name=t", "-c", "user.email=t@x"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    subprocess.run([*git, "push", "-q", str(origin), "HEAD:main"], check=True)
    ws = workspaces.Workspaces(root=tmp_path / "ws")
    mirror = tmp_path / "ws" / "mirrors" / "acme" / "app.git"
    with held_by_another_process(mirror.with_name("app.git.lock")) as child:
        task: asyncio.Task[object] = asyncio.create_task(
            ws.prepare(
                repo="acme/app",
                clone_url=str(origin),
                token=TOKEN,
                run_id="r1",
                branch="baton/1",
                start="main",
            )
        )
        await waits_while_held(task)
        assert not (mirror / "HEAD").exists()  # not even initialised while the other holds it
        release(child)
        wt = await asyncio.wait_for(task, 60)
    assert isinstance(wt, gitops.Worktree)
    assert (wt.path / ".git").exists()
