"""Workspaces with real git: mirror, worktree per run, commit with trailers, leased push."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import gitchange, gitops, workspaces
from bot.github import InstallationToken
from tests.gitrepos import seeded_origin, sh

pytestmark = pytest.mark.anyio
TOKEN = InstallationToken(SecretStr("ghs_" + "t" * 36), 2e9)


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare 'remote' with one commit on main."""
    seed = seeded_origin(tmp_path, {"calc.py": "def add(a, b):\n    return a - b\n"})
    return seed.parent / "origin.git"


def test_branch_names() -> None:
    assert gitops.branch_name(12, "Adder subtracts instead of adding!") == (
        "baton/12-adder-subtracts-instead-of-adding"
    )
    assert gitops.branch_name(3, "🙂") == "baton/3"
    assert len(gitops.branch_name(1, "x" * 200)) <= len("baton/1-") + 40


async def test_run_commit_push(origin: Path, tmp_path: Path) -> None:
    ws = workspaces.Workspaces(root=tmp_path / "ws")
    wt = await ws.prepare(repo="acme/app", clone_url=str(origin), token=TOKEN, run_id="r1",
                          branch="baton/1-fix", start="main")  # fmt: skip
    (wt.path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (wt.path / "new.txt").write_text("x\n")
    assert (await gitchange.stage_changes(wt)).changed == ["calc.py", "new.txt"]
    sha = await gitops.commit(wt, "Fix add (#1)\n\nAgent: scripted\nBaton-Run: r1\n")
    await gitops.push(wt, clone_url=str(origin), token=TOKEN, expected_remote=None)
    assert await gitops.ls_remote(cwd=wt.path, clone_url=str(origin), token=TOKEN,
                                  branch="baton/1-fix") == sha  # fmt: skip
    log = sh("git", "log", "-1", "--format=%an%n%(trailers:key=Baton-Run,valueonly)",
             "refs/heads/baton/1-fix", cwd=origin)  # fmt: skip
    assert log.splitlines() == ["baton[bot]", "r1"]
    # A later attempt of the same run finds the committed worktree.
    again = await ws.existing(run_id="r1", branch="baton/1-fix")
    assert again is not None
    assert await gitops.head_sha(again) == sha


async def test_push_refuses_when_the_branch_moved(origin: Path, tmp_path: Path) -> None:
    ws = workspaces.Workspaces(root=tmp_path / "ws")
    wt = await ws.prepare(repo="acme/app", clone_url=str(origin), token=TOKEN, run_id="r2",
                          branch="baton/2-x", start="main")  # fmt: skip
    (wt.path / "a.txt").write_text("a\n")
    await gitchange.stage_changes(wt)
    await gitops.commit(wt, "a")
    # Someone else pushes the branch first: our lease (branch absent) no longer holds.
    main_sha = sh("git", "rev-parse", "main", cwd=origin)
    sh("git", "update-ref", "refs/heads/baton/2-x", main_sha, cwd=origin)
    with pytest.raises(gitops.GitError, match="push"):
        await gitops.push(wt, clone_url=str(origin), token=TOKEN, expected_remote=None)
    assert sh("git", "rev-parse", "refs/heads/baton/2-x", cwd=origin) == main_sha


async def test_token_reaches_git_only_through_env(origin: Path, tmp_path: Path) -> None:
    env = gitops.auth_env(TOKEN)
    secret = TOKEN.value.get_secret_value()
    assert all(secret not in v for v in env.values())  # base64 inside a header, never raw
    header = next(v for k, v in env.items() if k.startswith("GIT_CONFIG_VALUE") and "Basic" in v)
    assert header.startswith("Authorization: Basic ")
    ws = workspaces.Workspaces(root=tmp_path / "ws")
    with pytest.raises(gitops.GitError) as err:
        await ws.prepare(repo="acme/none", clone_url=str(tmp_path / "missing.git"), token=TOKEN,
                         run_id="r3", branch="b", start="main")  # fmt: skip
    assert secret not in str(err.value)


async def test_prepare_replaces_a_stale_worktree(origin: Path, tmp_path: Path) -> None:
    ws = workspaces.Workspaces(root=tmp_path / "ws")
    first = await ws.prepare(repo="acme/app", clone_url=str(origin), token=TOKEN, run_id="r4",
                             branch="baton/4-x", start="main")  # fmt: skip
    (first.path / "junk.txt").write_text("left over\n")
    second = await ws.prepare(repo="acme/app", clone_url=str(origin), token=TOKEN, run_id="r4",
                              branch="baton/4-x", start="main")  # fmt: skip
    assert not (second.path / "junk.txt").exists()
    await ws.remove("acme/app", "r4")
    assert not second.path.exists()
