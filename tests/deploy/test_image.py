"""The container image: it builds (from a Debian base made here, no registry needed), runs the
demo inside, a real agent CLI inside its sandbox too, and serves /healthz as a non-root user."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.docker_engine import Engine, EngineMissing, base_image, engine

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
IMAGE = "baton:test"
# The base made here has Debian's Python 3.13, on which Aider does not install: the npm CLIs.
AGENTS = "claude-code codex gemini"
# What bubblewrap needs inside a container (README: "Run Baton for your organization").
SANDBOX = [
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
]


def _extra_cas() -> str:
    """The certificate authorities this host adds to Debian's (a network that intercepts TLS
    needs them to reach PyPI and npm from the build); none on most machines."""
    return "".join(
        p.read_text() for p in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    )


@pytest.fixture(scope="module")
def image() -> Iterator[Engine]:
    try:
        with engine() as found:
            base = base_image(found)
            built = found.run(
                "build",
                "--network",
                "host",
                "--tag",
                IMAGE,
                "--build-arg",
                f"BASE={base}",
                "--build-arg",
                f"AGENTS={AGENTS}",
                "--build-arg",
                f"EXTRA_CA_CERTS={_extra_cas()}",
                str(ROOT),
                timeout_s=3600,
            )
            assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
            yield found
    except EngineMissing as exc:
        pytest.skip(str(exc))


def test_the_demo_runs_inside(image: Engine) -> None:
    done = image.run("run", "--rm", "--network", "host", IMAGE, "demo", timeout_s=600)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Pull request #2: add() subtracts instead of adding" in done.stdout
    assert "✅ Done: `demo` (scripted, scripted-1)" in done.stdout


def test_a_real_agent_cli_runs_in_its_sandbox_inside(image: Engine) -> None:
    done = image.run(
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


def test_serve_is_the_default_and_healthy_as_a_non_root_user(image: Engine) -> None:
    key = image.run(
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
    started = image.run(
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
                image.run("inspect", "--format", "{{json .State}}", container).stdout
            )
            health = state.get("Health", {}).get("Status", "")
            assert state["Running"], image.run("logs", container).stderr
            time.sleep(1)
        user = image.run("exec", container, "id", "-u").stdout.strip()
    finally:
        image.run("rm", "--force", container)

    assert health == "healthy"
    assert user != "0"
