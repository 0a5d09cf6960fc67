"""`baton demo`'s first minute: the agents it accepts are in --help and a wrong name stops it
before anything starts; a missing CLI is installed only when asked for (`--install`), or after a
yes at the terminal."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.toolchain import harness
from bot.demo import run_demo

BATON = str(Path(sys.executable).with_name("baton"))


def baton(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BATON, *args], capture_output=True, text=True, timeout=60, check=False)


def test_help_lists_the_agents_it_accepts() -> None:
    text = " ".join(baton("demo", "--help").stdout.split())
    assert "scripted (built in, the default)" in text
    assert "claude-code, codex, gemini, aider, opencode, qwen" in text
    assert "--install" in text
    assert "--keep" in text


def test_an_unknown_agent_stops_it_before_anything_starts(tmp_path: Path) -> None:
    done = subprocess.run(
        [BATON, "demo", "--agent", "claud"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "invalid choice: 'claud' (choose from 'scripted', 'claude-code'," in done.stderr
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def no_codex(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Codex is neither in Baton's prefix nor on PATH."""
    monkeypatch.setenv("BATON_AGENTS_PREFIX", str(tmp_path / "prefix"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert not any((Path(d) / "codex").exists() for d in os.environ["PATH"].split(":"))
    return tmp_path / "prefix"


@pytest.mark.anyio
async def test_without_a_terminal_a_missing_cli_needs_install(no_codex: Path) -> None:
    out = io.StringIO()

    code = await run_demo(agent="codex", install=False, ask=None, out=out)

    assert code == 1
    assert "codex is not installed here: `baton demo --agent codex --install` installs" in (
        out.getvalue()
    )
    assert "local GitHub emulator" not in out.getvalue()  # nothing was started
    assert not no_codex.exists()


@pytest.mark.anyio
async def test_at_a_terminal_it_asks_first_and_a_no_starts_nothing(no_codex: Path) -> None:
    asked: list[str] = []

    def answer(question: str) -> bool:
        asked.append(question)
        return False

    out = io.StringIO()
    code = await run_demo(agent="codex", install=False, ask=answer, out=out)

    assert code == 1
    [question] = asked
    assert question.startswith(f"The demo with codex needs {harness('codex').spec} (with its")
    assert question.endswith("Install it now? [y/N] ")
    assert "codex is not installed; nothing was started" in out.getvalue()
    assert not no_codex.exists()
