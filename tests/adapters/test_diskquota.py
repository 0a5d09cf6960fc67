"""A run's disk area without mounting (plain and measured), and how its use is measured."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters import diskquota

pytestmark = pytest.mark.anyio
MIB = 1024**2


def fill(path: Path, size: int) -> None:
    path.write_bytes(os.urandom(size))


def test_usage_counts_what_is_allocated_once(tmp_path: Path) -> None:
    fill(tmp_path / "a", MIB)
    os.link(tmp_path / "a", tmp_path / "hard")
    (tmp_path / "sub").mkdir()
    fill(tmp_path / "sub" / "b", MIB)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    fill(outside / "big", 8 * MIB)
    (tmp_path / "link").symlink_to(outside)
    used = diskquota.usage([tmp_path])
    assert 2 * MIB <= used < 3 * MIB


def test_a_big_filesystem_is_measured_not_watched(tmp_path: Path) -> None:
    assert diskquota.own_filesystem_full(tmp_path, MIB) is None


def test_the_watch_measures_spread_out_and_always_at_the_end(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    watch = diskquota.DiskWatch((work, home), 3 * MIB, min_interval_s=60)
    fill(work / "a", 2 * MIB)
    assert not watch.over()
    fill(home / "b", 2 * MIB)  # the HOME counts with the worktree
    assert not watch.over()  # measured a moment ago: not again yet
    assert watch.over(final=True)


async def test_without_mounting_the_area_is_a_plain_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diskquota, "mount_unavailable", lambda: "no loop devices here")
    area, image = tmp_path / "runs" / "r1", tmp_path / "images" / "r1.img"
    area.mkdir(parents=True)
    (area / "stale").write_text("from a crashed run\n")
    image.parent.mkdir()
    image.write_bytes(b"old image")
    why = await diskquota.make_area(area, image=image, size=64 * MIB)
    assert why == "no loop devices here"
    assert area.is_dir()
    assert list(area.iterdir()) == []
    assert not image.exists()
    await diskquota.remove_area(area, image=image)
    assert not area.exists()
