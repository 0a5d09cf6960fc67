"""`baton demo`, run as a user runs it: the console script, in an empty directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.real_agents import PREFIX
from tests.procs import LineReader

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
    # What GitHub shows of it: the provenance table, the commit, the check run, the diff.
    assert "Provenance (the PR body's table):\n  | run | agent | harness | model |" in out
    assert "| `r1` | demo | scripted 1.0 | scripted-1 | $0.0087 (reported) |" in out
    assert "trailers:\n  Agent: demo\n  Agent-Model: scripted-1\n  Agent-Cost-USD: 0.0087\n" in out
    assert "Check run Baton: success (demo · scripted-1 · $0.0087 (reported))" in out
    assert "Diff:\n  calc.py | 2 +-\n  1 file changed, 1 insertion(+), 1 deletion(-)\n" in out

    assert "\nDashboard: http://127.0.0.1:" in out
    assert "sign in with GitHub as octocat" in out
    assert "or with the operator token " in out


def test_demo_keep_serves_until_interrupted(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    with subprocess.Popen(
        [str(BATON), "demo", "--keep"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            assert proc.stdout is not None
            out = LineReader(proc.stdout).read_until("Press Ctrl-C to stop.", timeout_s=120)
            pull_url = out.split("  url:      ", 1)[1].split()[0]
            hub_url = out.split("local GitHub emulator: ", 1)[1].split()[0]
            page = httpx.get(pull_url, timeout=30)
            listing = httpx.get(f"{hub_url}/octocat/calculator", timeout=30)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)

    assert proc.returncode == 0
    assert page.status_code == 200
    assert "add() subtracts instead of adding" in page.text
    assert "<span class=add>+    return a + b</span>" in page.text
    assert 'href="/octocat/calculator/issues/1"' in listing.text
    assert list(tmp_path.iterdir()) == []


def test_demo_with_a_real_cli(tmp_path: Path) -> None:
    out = demo(tmp_path, "--agent", "claude-code", "--install")
    assert "  agent:    claude-code (claude-code)" in out
    assert "  model:    claude-sonnet-4-5" in out
    assert "(reported)" in out  # Claude Code states its own cost
    assert "✅ Done: `claude-code`" in out
