"""`baton demo`, run as a user runs it: the console script, in an empty directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.real_agents import PREFIX

pytestmark = pytest.mark.slow

BATON = Path(sys.executable).with_name("baton")


def demo(tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["BATON_AGENTS_PREFIX"] = str(PREFIX)
    done = subprocess.run(
        [str(BATON), "demo", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the user's directory
    return done.stdout


def test_demo_prints_the_pull_request_that_came_back(tmp_path: Path) -> None:
    out = demo(tmp_path)
    assert "Pull request #2: add() subtracts instead of adding" in out
    assert "  branch:   baton/1-add-subtracts-instead-of-adding -> main" in out
    assert "  agent:    demo (scripted)" in out
    assert "  model:    scripted-1" in out
    assert "  cost:     $0.0087 (reported)" in out
    assert "  tokens:   1200 in / 340 out" in out
    assert "**Baton** · ✅ Done: `demo` (scripted, scripted-1)" in out
    assert "\nDashboard: http://127.0.0.1:" in out
    assert "sign in with GitHub as octocat" in out
    assert "or with the operator token " in out


def test_demo_with_a_real_cli(tmp_path: Path) -> None:
    out = demo(tmp_path, "--agent", "claude-code")
    assert "  agent:    claude-code (claude-code)" in out
    assert "  model:    claude-sonnet-4-5" in out
    assert "(reported)" in out  # Claude Code states its own cost
    assert "✅ Done: `claude-code`" in out
