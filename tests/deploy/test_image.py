"""The container image: it builds (from a Debian base made here, no registry needed), runs the
demo inside, a real agent CLI inside its sandbox too, and serves /healthz as a non-root user."""

from __future__ import annotations

import json
import time

import pytest

from tests.deploy.conftest import IMAGE
from tests.deploy.docker_engine import Engine

pytestmark = pytest.mark.slow

# What bubblewrap needs inside a container (README: "Run Baton for your organization").
SANDBOX = [
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
]


def test_the_demo_runs_inside(baton_image: Engine) -> None:
    done = baton_image.run("run", "--rm", "--network", "host", IMAGE, "demo", timeout_s=600)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Pull request #2: add() subtracts instead of adding" in done.stdout
    assert "✅ Done: `demo` (scripted, scripted-1)" in done.stdout


def test_a_real_agent_cli_runs_in_its_sandbox_inside(baton_image: Engine) -> None:
    done = baton_image.run(
        "run",
        "--rm",
        "--network",
        "host",
        *SANDBOX,
        IMAGE,
        "demo",
        "--agent",
        "claude-code",
        timeout_s=900,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "✅ Done: `claude-code` (claude-code, claude-sonnet-4-5)" in done.stdout


def test_serve_is_the_default_and_healthy_as_a_non_root_user(baton_image: Engine) -> None:
    key = baton_image.run(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "python3",
        IMAGE,
        "-c",
        "from bot.stack import make_keys; print(make_keys().private_pem)",
    )
    assert key.returncode == 0, key.stderr
    started = baton_image.run(
        "run",
        "--detach",
        "--network",
        "none",
        "--health-interval",
        "1s",
        "--env",
        "BATON_APP_ID=12345",
        "--env",
        f"BATON_PRIVATE_KEY={key.stdout}",
        "--env",
        "BATON_WEBHOOK_SECRET=secret",
        IMAGE,
    )
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        health = ""
        deadline = time.monotonic() + 120
        while health != "healthy" and time.monotonic() < deadline:
            state = json.loads(
                baton_image.run("inspect", "--format", "{{json .State}}", container).stdout
            )
            health = state.get("Health", {}).get("Status", "")
            assert state["Running"], baton_image.run("logs", container).stderr
            time.sleep(1)
        user = baton_image.run("exec", container, "id", "-u").stdout.strip()
    finally:
        baton_image.run("rm", "--force", container)

    assert health == "healthy"
    assert user != "0"
