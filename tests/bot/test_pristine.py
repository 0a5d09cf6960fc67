"""Overlay worktrees over pristine checkouts, for real (loop images and overlayfs, as root).

As root, a server is promised them (a missing overlay filesystem fails, saying so); not as root
the worktree is a checkout and these tests skip saying why.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from adapters import diskquota, overlay
from adapters.base import Resources
from bot import gitchange, gitops, pristine, workspaces
from bot.github import InstallationToken
from tests.gitrepos import push_commit, seeded_origin, sh

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.anyio
TOKEN = InstallationToken(SecretStr("ghs_" + "t" * 36), 2e9)
MIB = 1024**2


@pytest.fixture(autouse=True)
def as_root(tmp_path: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip(f"uid {os.geteuid()} is not root: it can mount neither images nor overlays")
    for why in (diskquota.mount_unavailable(), overlay.unavailable(tmp_path)):
        if why is not None:
            pytest.fail(f"running as root, but no overlay worktrees: {why}")
    yield
    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        point = line.split()[4]
        if point.startswith(str(tmp_path)):
            subprocess.run(["umount", "--lazy", point], check=False)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A clone of the bare origin (`seed/../origin.git`) holding calc.py and 50 other files."""
    files = {"calc.py": "def add(a, b):\n    return a - b\n"}
    return seeded_origin(tmp_path, files | {f"f{n}.txt": f"{n}\n" for n in range(50)})


def make_workspaces(tmp_path: Path) -> workspaces.Workspaces:
    return workspaces.Workspaces(root=tmp_path / "ws", resources=Resources(disk_bytes=32 * MIB))


async def prepare(ws: workspaces.Workspaces, seed: Path, run_id: str) -> gitops.Worktree:
    origin = str(seed.parent / "origin.git")
    return await ws.prepare(
        repo="acme/app",
        clone_url=origin,
        token=TOKEN,
        run_id=run_id,
        branch=f"baton/{run_id}",
        start="main",
    )


def lower_of(wt: gitops.Worktree) -> Path:
    [lower] = overlay.mounted()[wt.path]
    return lower


async def test_a_worktree_is_an_overlay_whose_writes_stay_in_the_run(
    tmp_path: Path, seed: Path
) -> None:
    ws = make_workspaces(tmp_path)
    first = await prepare(ws, seed, "r1")
    assert os.path.ismount(first.path)
    lower = lower_of(first)
    assert lower == tmp_path / "ws" / "pristine" / "acme" / "app" / first.base_sha / "tree"
    (first.path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (first.path / "f3.txt").unlink()
    (first.path / "new.txt").write_text("new\n")
    staged = await gitchange.stage_changes(first)
    assert staged.changed == ["calc.py", "f3.txt", "new.txt"]
    # The pristine checkout is untouched; the writes are in the run's own image.
    assert "a - b" in (lower / "calc.py").read_text()
    assert (lower / "f3.txt").exists()
    assert (first.path.parent / "upper" / "new.txt").read_text() == "new\n"
    # A second run at the same base starts from the same checkout, with nothing of the first.
    second = await prepare(ws, seed, "r2")
    assert lower_of(second) == lower
    assert "a - b" in (second.path / "calc.py").read_text()
    assert (second.path / "f3.txt").exists()
    assert not (second.path / "new.txt").exists()
    assert sh("git", "status", "--porcelain", cwd=second.path) == ""
    for run_id in ("r1", "r2"):
        await ws.remove("acme/app", run_id)
    assert overlay.lowers_in_use() & {lower} == set()
    assert not first.path.parent.exists()
    assert (lower / "calc.py").exists()  # kept for the next run
    # A server that stops leaves no mount behind (its pristine checkouts are a cache).
    await ws.close()
    assert not lower.parent.exists()
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()


async def test_a_base_a_few_files_on_starts_from_the_same_checkout(
    tmp_path: Path, seed: Path
) -> None:
    ws = make_workspaces(tmp_path)
    first = await prepare(ws, seed, "r1")
    (seed / "calc.py").write_text("def add(a, b):\n    return a + b  # fixed\n")
    (seed / "f7.txt").unlink()
    later = push_commit(seed, "fix")
    second = await prepare(ws, seed, "r2")
    assert second.base_sha == later
    assert lower_of(second).parent.name == first.base_sha
    assert "# fixed" in (second.path / "calc.py").read_text()
    assert not (second.path / "f7.txt").exists()
    assert sh("git", "status", "--porcelain", cwd=second.path) == ""
    assert sh("git", "rev-parse", "HEAD", cwd=second.path) == later


async def test_a_base_far_away_gets_its_own_and_unused_ones_go(
    tmp_path: Path, seed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pristine, "NEAR_FILES", 0)
    ws = make_workspaces(tmp_path)
    first = await prepare(ws, seed, "r1")
    (seed / "f1.txt").write_text("changed\n")
    later = push_commit(seed, "far")
    second = await prepare(ws, seed, "r2")
    assert lower_of(second).parent.name == later
    kept = tmp_path / "ws" / "pristine" / "acme" / "app"
    # The first run still has its checkout below it; once it ends, the next new one removes it.
    assert (kept / first.base_sha).is_dir()
    await ws.remove("acme/app", "r1")
    (seed / "f2.txt").write_text("changed\n")
    newest = push_commit(seed, "farther")
    await prepare(ws, seed, "r3")
    assert sorted(p.name for p in kept.iterdir() if p.is_dir()) == sorted([later, newest])
    # Removing the mirror removes the checkouts no run uses.
    for run_id in ("r2", "r3"):
        await ws.remove("acme/app", run_id)
    assert await ws.remove_mirror("acme/app")
    assert list(kept.iterdir()) == []


async def test_a_server_that_starts_removes_the_checkouts_no_run_uses(
    tmp_path: Path, seed: Path
) -> None:
    """What a server killed outright left mounted goes when the next one on its disk starts;
    a checkout a running run stands on stays."""
    ws = make_workspaces(tmp_path)
    done = await prepare(ws, seed, "r1")
    lower = lower_of(done)
    await ws.remove("acme/app", "r1")
    (seed / "f1.txt").write_text("changed\n")
    push_commit(seed, "on")
    running = await prepare(ws, seed, "r2")
    assert lower_of(running) == lower  # near: the same checkout, under a running run
    assert await make_workspaces(tmp_path).sweep() == []
    assert (lower / "calc.py").exists()
    await ws.remove("acme/app", "r2")
    await make_workspaces(tmp_path).sweep()
    assert not lower.parent.exists()
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()


async def test_an_overlay_the_kernel_refuses_leaves_checkouts(
    tmp_path: Path, seed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel or filesystem that refuses the overlay: the run checks out every file, as do
    the later ones, and nothing fails."""
    tried: list[Path] = []

    async def refused(*, lower: Path, upper: Path, work: Path, at: Path) -> None:
        tried.append(at)
        raise overlay.OverlayError("mounting the worktree's overlay failed: refused (test)")

    monkeypatch.setattr(overlay, "mount", refused)
    ws = make_workspaces(tmp_path)
    for run_id in ("r1", "r2"):
        wt = await prepare(ws, seed, run_id)
        assert not os.path.ismount(wt.path)
        assert "a - b" in (wt.path / "calc.py").read_text()
        assert (wt.path / "f49.txt").exists()
        assert sh("git", "status", "--porcelain", cwd=wt.path) == ""
    assert len(tried) == 1


async def test_checkouts_idle_for_a_day_go_and_one_in_use_stays(tmp_path: Path, seed: Path) -> None:
    ws = make_workspaces(tmp_path)
    running = await prepare(ws, seed, "r1")
    lower = lower_of(running)
    mark = lower.parent.with_name(lower.parent.name + ".ready")
    day_ago = time.time() - 86_400
    os.utime(mark, (day_ago, day_ago))
    # In use: kept, however old.
    assert await ws.drop_idle_checkouts(used_before=time.time() - 3600) == []
    await ws.remove("acme/app", "r1")
    # Used since the cut-off: kept.
    assert await ws.drop_idle_checkouts(used_before=day_ago - 3600) == []
    assert (lower / "calc.py").exists()
    assert await ws.drop_idle_checkouts(used_before=time.time() - 3600) == ["acme/app"]
    assert not lower.parent.exists()
    assert not mark.exists()
    # The next run makes it again.
    again = await prepare(ws, seed, "r2")
    assert lower_of(again) == lower
