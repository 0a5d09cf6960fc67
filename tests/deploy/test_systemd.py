"""The systemd unit example: systemd accepts it, and the command, folder and environment it
gives `baton serve` start a server that reads its settings from that folder's .env."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.stack import make_keys
from config.dotenv import render

UNIT = Path(__file__).parents[2] / "deploy" / "baton.service"
INSTALLED = "/opt/baton/venv/bin/baton"
BATON = str(Path(sys.executable).with_name("baton"))


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    unit = tmp_path / "baton.service"
    # As installed, but with this checkout's `baton` (the unit names the path it documents).
    unit.write_text(UNIT.read_text().replace(INSTALLED, BATON))

    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_units_command_serves_from_its_folders_env(tmp_path: Path) -> None:
    unit = service()
    argv = shlex.split(unit["ExecStart"])
    assert argv[0] == INSTALLED
    assert argv[1:4] == ["serve", "--host", "127.0.0.1"]
    port = _free_port()
    argv = [BATON, *argv[1:-1], str(port)]
    folder = tmp_path / Path(unit["WorkingDirectory"]).name
    folder.mkdir()
    (folder / "app.pem").write_text(make_keys().private_pem)
    settings = {
        "BATON_APP_ID": "12345",
        "BATON_PRIVATE_KEY_PATH": "app.pem",
        "BATON_WEBHOOK_SECRET": "secret",
        "BATON_REDELIVER_INTERVAL_S": "0",  # no GitHub here to look at
    }
    (folder / ".env").write_text(render(settings.items()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(dict(pair.split("=", 1) for pair in shlex.split(unit["Environment"])))

    with subprocess.Popen(
        argv, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            healthy = _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    assert healthy, proc.stderr.read() if proc.stderr else ""
    assert (folder / "baton.db").is_file()  # the default database, in the unit's folder


def _wait_healthy(url: str, proc: subprocess.Popen[str]) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.2)
    return False
