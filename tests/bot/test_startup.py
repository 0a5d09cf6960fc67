"""Starting cleanly: a bad setting stops `serve` and `worker` with one line and no traceback;
once up, `serve` says where it listens and what it found, and never a secret."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.sandbox import SandboxStatus
from adapters.toolchain import Found
from bot.stack import make_keys
from bot.startup import Surroundings, check, database_problem, serve_lines
from config.dotenv import render
from config.settings import Settings, SettingsError, load_settings, private_key_problem
from tests.procs import LineReader

BATON = Path(sys.executable).with_name("baton")
KEY = make_keys().private_pem
SECRET = "webhook-secret-value"  # looked for in the output: it must never appear


def _ec_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def valid_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "app.pem").write_text(KEY)
    return {
        "BATON_APP_ID": "12345",
        "BATON_PRIVATE_KEY_PATH": str(tmp_path / "app.pem"),
        "BATON_WEBHOOK_SECRET": SECRET,
        "BATON_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'baton.db'}",
        "BATON_WORKDIR": str(tmp_path / "work"),
    }


def _clean_env(env: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return {**clean, **env}


def baton(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BATON), *args],
        cwd=cwd,
        env=_clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settings(tmp_path: Path, **changes: str | None) -> Settings:
    env = {**valid_env(tmp_path), **changes}
    return load_settings({k: v for k, v in env.items() if v is not None})


# The pure checks, one rule each.


def test_valid_settings_have_no_problem(tmp_path: Path) -> None:
    assert settings(tmp_path).server_problems() == []


def test_a_non_numeric_app_id_is_named(tmp_path: Path) -> None:
    assert settings(tmp_path, BATON_APP_ID="baton-app").server_problems() == [
        "BATON_APP_ID='baton-app' is not a number (the App's id, on its settings page)"
    ]


def test_the_key_must_be_an_unencrypted_rsa_pem() -> None:
    assert private_key_problem(KEY) is None
    assert private_key_problem("") == "the key is empty"
    assert "not a PEM private key" in (private_key_problem("-----BEGIN nonsense") or "")
    assert "not an RSA key" in (private_key_problem(_ec_key()) or "")


def test_a_key_in_the_variable_is_reported_without_its_value(tmp_path: Path) -> None:
    problems = settings(
        tmp_path, BATON_PRIVATE_KEY_PATH=None, BATON_PRIVATE_KEY="garbage-key-text"
    ).server_problems()
    assert problems == [
        "BATON_PRIVATE_KEY: not a PEM private key "
        + "(the .pem file GitHub downloads from the App's settings)"
    ]


def test_a_postgresql_database_that_does_not_answer_is_named_without_its_password() -> None:
    problem = database_problem("postgresql://baton:hunter2@127.0.0.1:1/baton") or ""
    assert problem.startswith("BATON_DATABASE_URL=postgresql://baton@127.0.0.1:1/baton: ")
    assert "cannot reach" in problem
    assert "hunter2" not in problem


def test_a_database_url_of_another_kind_is_unusable() -> None:
    assert "sqlite:///" in (database_problem("mysql://db.example/baton") or "")


def test_the_database_folder_is_created(tmp_path: Path) -> None:
    assert database_problem(f"sqlite:///{tmp_path / 'a' / 'b' / 'baton.db'}") is None
    assert (tmp_path / "a" / "b" / "baton.db").is_file()


def test_a_database_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    problem = database_problem(f"sqlite:///{tmp_path / 'file' / 'baton.db'}") or ""
    assert f"cannot create the folder {tmp_path / 'file'}" in problem


def test_a_database_is_not_created_while_the_credentials_are_wrong(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^cannot start: BATON_APP_ID='x' is not a number"):
        check(settings(tmp_path, BATON_APP_ID="x"))
    assert not (tmp_path / "data").exists()


def test_serve_lines_say_what_was_found_and_hide_credentials(tmp_path: Path) -> None:
    found = Surroundings(
        sandbox=SandboxStatus(ok=False, reason="bubblewrap is not installed"),
        agents={
            "claude-code": Found(path=Path("/opt/claude"), version="2.1.197"),
            "codex": Found(path=None, version=None),
        },
    )
    lines = serve_lines(
        settings(tmp_path, BATON_GITHUB_URL="https://user:pw@ghe.example/api/v3/"), found
    )
    assert lines == [
        "GitHub: https://ghe.example/api/v3/ (app id 12345)",
        f"database: sqlite:///{tmp_path}/data/baton.db ({tmp_path}/data/baton.db)",
        "worker: process (jobs run in a child `baton worker`)",
        "sandbox: unavailable: bubblewrap is not installed",
        "agent CLIs: claude-code 2.1.197 (not found: codex; `baton agents install NAME`)",
    ]


def test_a_sandbox_turned_off_is_said_so(tmp_path: Path) -> None:
    found = Surroundings(sandbox=None, agents={})
    lines = serve_lines(settings(tmp_path, BATON_SANDBOX="none", BATON_WORKER="inline"), found)
    assert lines[2:] == [
        "worker: inline (jobs run on the server's own event loop)",
        "sandbox: off (BATON_SANDBOX=none): agents run unsandboxed",
        "agent CLIs: none found",
    ]


# The real console script.

BAD_SETTINGS: dict[str, tuple[dict[str, str | None], str]] = {
    "no key": (
        {"BATON_PRIVATE_KEY_PATH": None},
        "missing BATON_PRIVATE_KEY or BATON_PRIVATE_KEY_PATH",
    ),
    "unreadable key file": (
        {"BATON_PRIVATE_KEY_PATH": "/nonexistent/app.pem"},
        "BATON_PRIVATE_KEY_PATH=/nonexistent/app.pem cannot be read: No such file or directory",
    ),
    "malformed key": ({"BATON_PRIVATE_KEY": "not a key"}, "BATON_PRIVATE_KEY: not a PEM"),
    "non-numeric app id": ({"BATON_APP_ID": "my-app"}, "BATON_APP_ID='my-app' is not a number"),
    "no webhook secret": ({"BATON_WEBHOOK_SECRET": None}, "missing BATON_WEBHOOK_SECRET"),
    "not a database": (
        {"BATON_DATABASE_URL": "mysql://db.example/baton"},
        "database URL scheme 'mysql' is not one Baton uses",
    ),
    "postgresql away": (
        {"BATON_DATABASE_URL": "postgresql://baton@127.0.0.1:1/baton"},
        "BATON_DATABASE_URL=postgresql://baton@127.0.0.1:1/baton: cannot reach",
    ),
    "database folder cannot be made": (
        {"BATON_DATABASE_URL": "sqlite:///{tmp}/app.pem/baton.db"},
        "cannot create the folder",
    ),
    "malformed number": ({"BATON_WORKER_CONCURRENCY": "many"}, "BATON_WORKER_CONCURRENCY"),
}


# `worker` runs the same check as `serve`: a few of the cases show it is wired in.
RUNS = [("serve", case) for case in BAD_SETTINGS] + [
    ("worker", case) for case in ("malformed key", "non-numeric app id", "postgresql away")
]


@pytest.mark.parametrize(("command", "case"), RUNS)
def test_a_bad_setting_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, command: str, case: str
) -> None:
    changes, expected = BAD_SETTINGS[case]
    env = valid_env(tmp_path)
    for key, value in changes.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value.replace("{tmp}", str(tmp_path))
    if "BATON_PRIVATE_KEY" in env:
        env.pop("BATON_PRIVATE_KEY_PATH")
    done = baton(tmp_path, command, env=env)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("baton: ")
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr


def test_serve_help_shows_the_defaults_and_the_settings_it_needs(tmp_path: Path) -> None:
    done = baton(tmp_path, "serve", "--help", env={})
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "address to listen on (default: 127.0.0.1)" in text
    assert "port to listen on (default: 8000)" in text
    for name in ("BATON_APP_ID", "BATON_PRIVATE_KEY_PATH", "BATON_WEBHOOK_SECRET"):
        assert name in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(render(valid_env(tmp_path).items()))

    done = baton(tmp_path, "serve", env={"BATON_APP_ID": "from-the-environment"})

    assert done.returncode == 2
    assert "BATON_APP_ID='from-the-environment' is not a number" in done.stderr


def test_missing_settings_point_to_baton_register(tmp_path: Path) -> None:
    done = baton(tmp_path, "serve", env={})

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "`baton register` registers a GitHub App and writes them to ./.env" in done.stderr


def test_serve_logs_where_it_listens_and_what_it_found(tmp_path: Path) -> None:
    port = _free_port()
    # The App's settings come from ./.env, as `baton register` leaves them.
    (tmp_path / ".env").write_text(render(valid_env(tmp_path).items()))
    env = {"BATON_WORKER": "inline", "BATON_AGENTS_PREFIX": str(tmp_path)}
    with subprocess.Popen(
        [str(BATON), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(env),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stderr is not None
            seen = LineReader(proc.stderr).read_until("agent CLIs: ", timeout_s=60)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert (
        "settings from ./.env: BATON_APP_ID, BATON_PRIVATE_KEY_PATH, BATON_WEBHOOK_SECRET, "
        "BATON_DATABASE_URL, BATON_WORKDIR"
    ) in seen
    assert f"listening on http://127.0.0.1:{port} (webhooks on POST /webhooks)" in seen
    assert "GitHub: https://api.github.com/ (app id 12345)" in seen
    assert f"database: sqlite:///{tmp_path}/data/baton.db" in seen
    assert "worker: inline" in seen
    assert "sandbox: " in seen
    assert SECRET not in seen
    assert "PRIVATE KEY" not in seen
