"""The `baton` command line as a user meets it: help, version, and errors without tracebacks."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.database import open_database

BATON = Path(sys.executable).with_name("baton")


def baton(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The console script, in `cwd`, with no BATON_ setting but these."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.run(
        [str(BATON), *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`main()` run in an empty directory with no BATON_ setting from the caller's environment."""
    for key in list(os.environ):
        if key.startswith("BATON_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", ["agent", "agents", "agent run"])
def test_help_of_the_commands_that_take_their_own_arguments_is_printed(
    tmp_path: Path, command: str
) -> None:
    done = baton(tmp_path, *command.split(), "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: baton {command} ")
    assert done.stderr == ""


def test_version_is_the_packages() -> None:
    done = baton(Path.cwd(), "--version")
    assert (done.returncode, done.stdout) == (0, f"baton {importlib.metadata.version('baton')}\n")


def test_a_database_that_does_not_answer_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    done = baton(tmp_path, "runs", BATON_DATABASE_URL="postgresql://baton:pw@127.0.0.1:1/baton")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "cannot reach postgresql://baton@127.0.0.1:1/baton: " in done.stderr
    assert ":pw@" not in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["runs", "spend"])
def test_reading_the_ledger_where_there_is_no_database_creates_none(
    no_settings: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert main([command]) == 1
    err = capsys.readouterr().err
    assert f"there is no database at {no_settings / 'baton.db'}" in err
    assert "BATON_DATABASE_URL" in err
    assert list(no_settings.iterdir()) == []


def test_reading_the_ledger_of_an_existing_database(
    no_settings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    open_database(str(no_settings / "baton.db")).close()
    assert main(["runs"]) == 0
    assert capsys.readouterr().out == "no runs yet\n"
