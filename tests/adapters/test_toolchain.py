"""The agent toolchain: pinned harnesses, finding them, idempotent installs, `baton agents`."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

import pytest

from adapters.process import ProcessError
from adapters.toolchain import (
    HARNESSES,
    PREFIX_ENV,
    UnknownHarness,
    agents_main,
    default_prefix,
    find,
    install,
    npm_root,
    parse_version,
    prefix_bin,
    version_of,
)
from bot.cli import main

pytestmark = pytest.mark.anyio


def fake_npm(log: Path, bin_name: str) -> str:
    """A stand-in for npm: logs its argv, then "installs" a bin printing the spec's version."""
    return f"""#!{sys.executable}
import sys, pathlib
with open({str(log)!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
root = pathlib.Path(sys.argv[sys.argv.index("--prefix") + 1])
version = sys.argv[-1].rsplit("@", 1)[1]
exe = root / "node_modules" / ".bin" / {bin_name!r}
exe.parent.mkdir(parents=True, exist_ok=True)
exe.write_text("#!/bin/sh\\necho 'tool " + version + "'\\n")
exe.chmod(0o755)
"""


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(0o755)
    return path


def test_pins() -> None:
    assert {n: (h.kind, h.spec, h.bin) for n, h in HARNESSES.items() if not h.optional} == {
        "claude-code": ("npm", "@anthropic-ai/claude-code@2.1.197", "claude"),
        "codex": ("npm", "@openai/codex@0.169.0", "codex"),
        "gemini": ("npm", "@google/gemini-cli@0.61.0", "gemini"),
        "aider": ("pip", "aider-chat==0.86.2", "aider"),
    }


def test_default_prefix(tmp_path: Path) -> None:
    assert default_prefix({PREFIX_ENV: str(tmp_path)}) == tmp_path
    assert default_prefix({}) == Path.home() / ".cache" / "baton" / "agents"


def test_npm_tree_ends_in_node_modules_and_pip_harnesses_get_their_own_venv(tmp_path: Path) -> None:
    assert npm_root(tmp_path).name == "node_modules"
    assert prefix_bin(HARNESSES["codex"], tmp_path) == tmp_path / "npm/node_modules/.bin/codex"
    assert prefix_bin(HARNESSES["aider"], tmp_path) == tmp_path / "aider/bin/aider"


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("2.1.197 (Claude Code)\n", "2.1.197"),
        ("codex-cli 0.169.0\n", "0.169.0"),
        ("aider 0.86.2\n", "0.86.2"),
        ("1.0.0-beta.3\n", "1.0.0-beta.3"),
        ("no version", None),
    ],
)
def test_parse_version(text: str, version: str | None) -> None:
    assert parse_version(text) == version


async def test_find_prefers_the_prefix_then_path(tmp_path: Path) -> None:
    on_path = executable(tmp_path / "path" / "gemini", "#!/bin/sh\necho 0.1.0\n")
    env = {"PATH": str(on_path.parent)}
    prefix = tmp_path / "prefix"
    found = await find("gemini", prefix, env=env)
    assert (found.path, found.version) == (on_path, "0.1.0")
    pinned = executable(prefix_bin(HARNESSES["gemini"], prefix), "#!/bin/sh\necho 0.61.0\n")
    found = await find("gemini", prefix, env=env)
    assert (found.path, found.version) == (pinned, "0.61.0")
    missing = await find("codex", prefix, env={"PATH": ""})
    assert (missing.path, missing.version, missing.ok) == (None, None, False)


async def test_a_binary_that_fails_version_is_found_without_a_version(tmp_path: Path) -> None:
    broken = executable(prefix_bin(HARNESSES["codex"], tmp_path), "#!/bin/sh\nexit 3\n")
    found = await find("codex", tmp_path, env={"PATH": ""})
    assert (found.path, found.version) == (broken, None)


async def test_install_runs_npm_once_then_reuses_the_pinned_version(tmp_path: Path) -> None:
    log = tmp_path / "npm.log"
    fake = executable(tmp_path / "bin" / "npm", fake_npm(log, "codex"))
    env = {"PATH": f"{fake.parent}:{os.environ['PATH']}", "npm_config_registry": "http://r"}
    (first,) = await install(["codex"], tmp_path / "agents", env=env)
    (second,) = await install(["codex"], tmp_path / "agents", env=env)
    assert (first.reused, first.version) == (False, "0.169.0")
    assert (second.reused, second.version, second.path) == (True, "0.169.0", first.path)
    (call,) = log.read_text().splitlines()
    root = tmp_path / "agents" / "npm"
    assert (
        call == f"install --prefix {root} --no-fund --no-audit --save-exact @openai/codex@0.169.0"
    )


async def test_two_installs_at_once_on_one_prefix_run_npm_once(tmp_path: Path) -> None:
    # Two workers starting together on one machine: the second waits and reuses.
    log = tmp_path / "npm.log"
    fake = executable(tmp_path / "bin" / "npm", fake_npm(log, "codex"))
    env = {"PATH": f"{fake.parent}:{os.environ['PATH']}", "npm_config_registry": "http://r"}
    both = await asyncio.gather(*(install(["codex"], tmp_path / "agents", env=env) for _ in "ab"))
    assert sorted(done.reused for (done,) in both) == [False, True]
    assert len(log.read_text().splitlines()) == 1


async def test_install_checks_every_name_before_installing_anything(tmp_path: Path) -> None:
    with pytest.raises(UnknownHarness, match="unknown agent 'nope'"):
        await install(["codex", "nope"], tmp_path)
    assert not (tmp_path / "npm").exists()


async def test_install_failure_carries_the_installers_output(tmp_path: Path) -> None:
    executable(tmp_path / "bin" / "npm", "#!/bin/sh\necho 'E404 no such package' >&2\nexit 1\n")
    with pytest.raises(ProcessError, match="E404 no such package"):
        await install(
            ["gemini"], tmp_path / "agents", env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}
        )


def test_agents_lists_pinned_and_found(tmp_path: Path) -> None:
    executable(
        prefix_bin(HARNESSES["claude-code"], tmp_path), "#!/bin/sh\necho '2.1.197 (Claude Code)'\n"
    )
    out, err = io.StringIO(), io.StringIO()
    assert agents_main(["--prefix", str(tmp_path), "list"], out=out, err=err) == 0
    lines = {line.split()[0]: line.split() for line in out.getvalue().splitlines()[1:]}
    assert lines["claude-code"][:4] == [
        "claude-code",
        "2.1.197",
        "2.1.197",
        str(prefix_bin(HARNESSES["claude-code"], tmp_path)),
    ]
    assert lines["opencode"][1] == "1.18.33"
    assert err.getvalue() == ""


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["install", "nope"], 2, "unknown agent 'nope'"),
        (["frobnicate"], 2, "usage: baton agents"),
        (["--prefix"], 2, "usage: baton agents"),
        (["install", "--force"], 2, "usage: baton agents"),
    ],
)
def test_agents_usage_errors(tmp_path: Path, argv: list[str], code: int, message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert (
        agents_main(
            ["--prefix", str(tmp_path), *argv] if argv != ["--prefix"] else argv, out=out, err=err
        )
        == code
    )
    assert message in err.getvalue()


def test_agents_install_reports_reuse(tmp_path: Path) -> None:
    executable(prefix_bin(HARNESSES["gemini"], tmp_path), "#!/bin/sh\necho 0.61.0\n")
    out, err = io.StringIO(), io.StringIO()
    assert agents_main(["--prefix", str(tmp_path), "install", "gemini"], out=out, err=err) == 0
    assert (
        out.getvalue()
        == f"gemini 0.61.0 already installed at {prefix_bin(HARNESSES['gemini'], tmp_path)}\n"
    )


def test_baton_agents_takes_a_prefix_through_the_real_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    executable(prefix_bin(HARNESSES["gemini"], tmp_path), "#!/bin/sh\necho 0.61.0\n")
    assert main(["agents", "--prefix", str(tmp_path), "install", "gemini"]) == 0
    out = capsys.readouterr().out
    assert (
        out == f"gemini 0.61.0 already installed at {prefix_bin(HARNESSES['gemini'], tmp_path)}\n"
    )
    assert main(["agents", "--prefix", str(tmp_path), "list"]) == 0
    listed = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert listed["gemini"][2:4] == ["0.61.0", str(prefix_bin(HARNESSES["gemini"], tmp_path))]


async def test_version_is_asked_once_per_installed_file(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    cli = tmp_path / "cli"
    script = f"#!/bin/sh\necho x >> {calls}\necho 'tool {{v}}'\n"
    cli.write_text(script.format(v="1.2.3"))
    cli.chmod(0o755)
    assert await version_of(cli) == "1.2.3"
    assert await version_of(cli) == "1.2.3"
    assert calls.read_text().count("x") == 1
    # A reinstall replaces the file: its version is read again.
    fresh = tmp_path / "cli.new"
    fresh.write_text(script.format(v="1.2.40"))
    fresh.chmod(0o755)
    fresh.replace(cli)
    assert await version_of(cli) == "1.2.40"
    assert calls.read_text().count("x") == 2
