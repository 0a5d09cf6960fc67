"""What an agent leaves in its worktree and home steers none of Baton's own reads (real git)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from adapters.untrusted import read_inside, remove_nested_git, write_inside
from bot import gitchange, gitops

pytestmark = pytest.mark.anyio
IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@x")


def sh(*args: str, cwd: Path) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True, env=env)
    return done.stdout.strip()


def repo_with_gitlink(root: Path) -> tuple[Path, str]:
    """A checkout tracking `sub` as a submodule (a gitlink), as many repositories do."""
    work = root / "work"
    work.mkdir(parents=True)
    sh("git", "init", "-q", "-b", "main", cwd=work)
    (work / "calc.py").write_text("x = 1\n")
    sh("git", "add", "calc.py", cwd=work)
    sh("git", *IDENTITY, "commit", "-qm", "init", cwd=work)
    head = sh("git", "rev-parse", "HEAD", cwd=work)
    sh("git", "update-index", "--add", "--cacheinfo", f"160000,{head},sub", cwd=work)
    sh("git", *IDENTITY, "commit", "-qm", "submodule", cwd=work)
    (work / "sub").mkdir(exist_ok=True)
    return work, sh("git", "rev-parse", "HEAD", cwd=work)


def plant_fsmonitor(work: Path, marker: Path) -> None:
    """What the hostile agent did: a nested repository whose config names a command."""
    nested = work / "sub"
    sh("git", "init", "-q", cwd=nested)
    with (nested / ".git" / "config").open("a") as config:
        config.write(f"[core]\n\tfsmonitor = touch {marker}\n")
    (work / "calc.py").write_text("x = 2\n")


def test_the_planted_fsmonitor_runs_under_a_plain_git(tmp_path: Path) -> None:
    """The attack is real: git as anyone would run it executes the agent's command."""
    work, _ = repo_with_gitlink(tmp_path)
    marker = tmp_path / "pwned"
    plant_fsmonitor(work, marker)
    sh("git", "add", "--all", cwd=work)
    sh("git", *IDENTITY, "commit", "-qm", "change", cwd=work)
    assert marker.exists()


async def test_baton_stages_and_commits_without_running_it(tmp_path: Path) -> None:
    work, base = repo_with_gitlink(tmp_path)
    marker = tmp_path / "pwned"
    plant_fsmonitor(work, marker)
    wt = gitops.Worktree(path=work, branch="main", base_sha=base)
    staged = await gitchange.stage_changes(wt)
    await gitchange.staged_diff(wt)
    await gitops.commit(wt, "change")
    await gitops.diffstat(wt)
    assert not marker.exists()
    assert staged.removed_git == ["sub/.git"]
    assert staged.changed == ["calc.py"]
    assert not (work / "sub" / ".git").exists()


async def test_a_git_file_pointing_elsewhere_is_removed_not_followed(tmp_path: Path) -> None:
    work, base = repo_with_gitlink(tmp_path)
    elsewhere, _ = repo_with_gitlink(tmp_path / "other")
    (work / "sub" / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
    (work / "docs").mkdir()
    (work / "docs" / ".git").symlink_to(elsewhere / ".git")
    staged = await gitchange.stage_changes(gitops.Worktree(path=work, branch="main", base_sha=base))
    assert staged.removed_git == ["docs/.git", "sub/.git"]
    assert (elsewhere / ".git" / "HEAD").is_file()  # the link was removed, not its target


async def test_a_symlink_is_committed_as_a_link(tmp_path: Path) -> None:
    work, base = repo_with_gitlink(tmp_path)
    secret = tmp_path / "server-key.pem"
    secret.write_text("PRIVATE")
    (work / "key.pem").symlink_to(secret)
    wt = gitops.Worktree(path=work, branch="main", base_sha=base)
    await gitchange.stage_changes(wt)
    sha = await gitops.commit(wt, "link")
    assert sh("git", "cat-file", "-p", f"{sha}:key.pem", cwd=work) == str(secret)
    mode = sh("git", "ls-tree", sha, "key.pem", cwd=work).split()[0]
    assert mode == "120000"


def test_the_roots_own_git_and_ordinary_files_stay(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".gitignore").write_text("x\n")
    assert remove_nested_git(tmp_path) == []
    assert (tmp_path / ".git").is_dir()
    assert (tmp_path / "a" / ".gitignore").is_file()


def test_reads_never_follow_a_planted_link(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    secret = tmp_path / "key.pem"
    secret.write_text("PRIVATE")
    (home / "log.jsonl").symlink_to(secret)
    (home / "dir").symlink_to(tmp_path)
    (home / "ok.jsonl").write_text("line\n")
    for planted in (home / "log.jsonl", home / "dir" / "key.pem"):
        with pytest.raises(OSError):
            read_inside(home, planted)
    assert read_inside(home, home / "ok.jsonl", offset=2) == b"ne\n"


def test_writes_replace_a_planted_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    target = tmp_path / "crontab"
    target.write_text("original")
    (home / "baseline.json").symlink_to(target)
    write_inside(home, home / "baseline.json", "{}")
    assert target.read_text() == "original"
    assert (home / "baseline.json").read_text() == "{}"
    assert not (home / "baseline.json").is_symlink()
    (home / ".codex").symlink_to(tmp_path)
    with pytest.raises(OSError):
        write_inside(home, home / ".codex" / "config.toml", "x")
    assert not (tmp_path / "config.toml").exists()
