"""A run's area is recorded with the process that made it; a dead owner's areas are swept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.runareas import RunAreas

pytestmark = pytest.mark.anyio


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


async def test_a_dead_processes_areas_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    mine = RunAreas(root=tmp_path)
    await mine.make("r1")
    await mine.make("r2")
    (tmp_path / "runs" / "r2.owner").write_text(f"{dead_pid()}\n")  # as if its worker died
    (tmp_path / "runs" / "r2" / "scratch" / "left.txt").write_text("x")
    other = RunAreas(root=tmp_path)
    assert await other.sweep() == ["r2"]
    assert not (tmp_path / "runs" / "r2").exists()
    assert not (tmp_path / "runs" / "r2.owner").exists()
    assert (tmp_path / "runs" / "r1" / "scratch").is_dir()  # its owner (this test) is alive


async def test_closing_removes_only_the_areas_this_process_made(tmp_path: Path) -> None:
    first, second = RunAreas(root=tmp_path), RunAreas(root=tmp_path)
    await first.make("r1")
    await second.make("r2")
    await first.close()
    assert not (tmp_path / "runs" / "r1").exists()
    assert (tmp_path / "runs" / "r2").is_dir()
    await second.remove("r2")
    assert list((tmp_path / "runs").iterdir()) == []
