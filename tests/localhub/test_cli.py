"""`baton localhub`: the secret comes from the environment only; it serves until Ctrl-C."""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.localhub import cli

RUN = (
    "import argparse, sys\n"
    "from bot.localhub import cli\n"
    "parser = argparse.ArgumentParser()\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_without_the_secret_in_the_environment_it_refuses_to_start() -> None:
    out = io.StringIO()
    code = cli.run(parse("--webhook-url", "http://127.0.0.1:9/webhooks"), environ={}, out=out)
    assert code == 2
    assert "BATON_WEBHOOK_SECRET" in out.getvalue()


def test_there_is_no_secret_option() -> None:
    with pytest.raises(SystemExit):
        parse("--webhook-url", "http://127.0.0.1:9/w", "--webhook-secret", "x")


@pytest.mark.slow
def test_serves_the_api_and_admin_until_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "BATON_WEBHOOK_SECRET": "s3cret"}
    argv = [sys.executable, "-c", RUN, "--webhook-url", "http://127.0.0.1:9/webhooks",
            "--data-dir", str(tmp_path)]  # fmt: skip
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=Path(__file__).parents[2],
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("localhub listening on http://127.0.0.1:")
        url = first.split()[-1]
        try:
            made = httpx.post(f"{url}/_localhub/users", json={"login": "octocat"}, timeout=10)
            assert made.status_code == 201
            api = httpx.get(
                f"{url}/api/v3/rate_limit", headers={"Authorization": "token octocat"}, timeout=10
            )
            assert api.status_code == 200
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "s3cret" not in first + out + err
