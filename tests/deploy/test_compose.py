"""deploy/compose.yaml brings up PostgreSQL, the schema, the web server and a worker from a folder
holding only what `baton register` wrote (plus POSTGRES_PASSWORD), and a labeled issue gets its
pull request: the server takes the webhook, the worker in its own container runs the agent.

Test-only changes (`_as_here`): the images (this checkout's image, and a stand-in for
`postgres:17` made from Debian's packages: no registry is reachable here), and the host's
network for every service, so that the containers reach the local GitHub emulator (so no port is
published; the database and the server get free ports, and the shared PostgreSQL on 5432 is
never touched); and, for Debian's Compose v1, the worker without `systempaths=unconfined`."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.localhub.server import LocalHubServer
from bot.stack import make_keys
from config.dotenv import render
from tests.deploy.conftest import IMAGE, ROOT
from tests.deploy.docker_engine import Engine
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE, agents_yml

pytestmark = pytest.mark.slow

COMPOSE = ROOT / "deploy" / "compose.yaml"
POSTGRES_IMAGE = "local/postgres:17"
APP_ID, SLUG, OWNER = 8, "baton", "octocat"
CONTAINER_UID = 10001  # the image's `baton` user


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _compose_program() -> str:
    found = shutil.which("docker-compose")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "docker-compose"], env=env, check=False)
        found = shutil.which("docker-compose")
    if found is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return found


@pytest.fixture(scope="module")
def postgres_image(docker: Engine, base: str) -> str:
    docker.build(POSTGRES_IMAGE, Path(__file__).with_name("postgres"), timeout_s=1800, BASE=base)
    return POSTGRES_IMAGE


@pytest.fixture
def github(tmp_path: Path) -> Iterator[LocalHubServer]:
    server = LocalHubServer(data_dir=tmp_path / "github", webhook_secret=b"compose-secret")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _folder(tmp_path: Path, github: LocalHubServer, pg_password: str) -> Path:
    """What an operator has: compose.yaml beside the .env and key `baton register` writes."""
    folder = tmp_path / "deploy"
    folder.mkdir()
    keys = make_keys()
    key_file = folder / f"{SLUG}.private-key.pem"
    key_file.write_text(keys.private_pem)
    key_file.chmod(0o600)
    os.chown(key_file, CONTAINER_UID, -1)  # as the compose file says to
    settings = {
        "BATON_APP_ID": str(APP_ID),
        "BATON_APP_SLUG": SLUG,
        "BATON_PRIVATE_KEY_PATH": key_file.name,
        "BATON_WEBHOOK_SECRET": "compose-secret",
        "BATON_GITHUB_URL": github.api_url,
        "POSTGRES_PASSWORD": pg_password,
    }
    (folder / ".env").write_text(render(settings.items()))
    (folder / "public.pem").write_text(keys.public_pem)
    return folder


def _as_here(folder: Path, *, pg_port: int, port: int, pg_password: str) -> None:
    """compose.yaml with this machine's changes: the images, the host's network (so no port is
    published, and the database and server listen on free ports). Nothing else is touched."""
    spec = yaml.safe_load(COMPOSE.read_text())  # merge keys (`<<: *baton`) resolved
    services = spec["services"]
    database = f"postgresql://baton:{pg_password}@127.0.0.1:{pg_port}/baton"
    for name, service in services.items():
        service["network_mode"] = "host"
        service.pop("ports", None)
        if name == "db":
            service["image"] = POSTGRES_IMAGE
            service["environment"]["PGPORT"] = str(pg_port)
        else:
            assert service["image"] == "baton"
            service["image"] = IMAGE
            service["environment"]["BATON_DATABASE_URL"] = database
    services["server"]["command"] = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    # Debian's docker-compose is Compose v1, which sends this option to the engine as it is and
    # has it refused; Compose v2 (`docker compose`) turns it into the engine's unmasked /proc.
    # The agent here is the built-in one, which needs no sandbox.
    worker = services["worker"]
    worker["security_opt"] = [o for o in worker["security_opt"] if o != "systempaths=unconfined"]
    (folder / "compose.yaml").write_text(yaml.safe_dump(spec))


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} never answered")


def _seed(github: LocalHubServer) -> int:
    """octocat's repository (the agent routed in its .agents.yml needs no key) and an issue."""
    headers = {"Authorization": f"token {OWNER}"}
    with httpx.Client(base_url=github.api_url, headers=headers, timeout=30) as user:
        assert user.post("user/repos", json={"name": "calc", "auto_init": True}).status_code == 201
        for path, text in {"calc.py": CALC, ".agents.yml": agents_yml()}.items():
            put = user.put(
                f"repos/{OWNER}/calc/contents/{path}",
                json={"message": f"add {path}", "content": _b64(text)},
            )
            assert put.status_code == 201, put.text
        issue = user.post(
            f"repos/{OWNER}/calc/issues", json={"title": ISSUE_TITLE, "body": ISSUE_BODY}
        )
        return int(issue.json()["number"])


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_compose_runs_server_worker_and_database(
    baton_image: Engine, postgres_image: str, github: LocalHubServer, tmp_path: Path
) -> None:
    del postgres_image
    compose = _compose_program()
    pg_password = secrets.token_hex(12)
    port, pg_port = _free_port(), _free_port()
    folder = _folder(tmp_path, github, pg_password)
    _as_here(folder, pg_port=pg_port, port=port, pg_password=pg_password)
    github.hub.create_user(OWNER)
    github.hub.register_app(
        APP_ID, SLUG, (folder / "public.pem").read_text(), f"http://127.0.0.1:{port}/webhooks"
    )
    github.hub.install(APP_ID, OWNER)
    number = _seed(github)
    project = f"baton-test-{secrets.token_hex(4)}"
    argv = [compose, "--project-name", project]
    env = {**os.environ, "DOCKER_HOST": baton_image.host}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *args],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    pulls: list[dict[str, Any]] = []
    try:
        up = run("up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        _wait_healthy(f"http://127.0.0.1:{port}/healthz")
        headers = {"Authorization": f"token {OWNER}"}
        with httpx.Client(base_url=github.api_url, headers=headers, timeout=30) as user:
            labeled = user.post(
                f"repos/{OWNER}/calc/issues/{number}/labels", json={"labels": ["agent:fix"]}
            )
            assert labeled.status_code == 200
            pulls = _wait_for_pull(user)
        states = run("ps").stdout
        # The one-shot schema upgrade's end, from the engine (compose's table wraps its columns).
        upgrade_ids = run("ps", "-q", "upgrade").stdout.split()
        upgrade = [
            baton_image.run(
                "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", cid
            ).stdout.strip()
            for cid in upgrade_ids
        ]
    finally:
        logs = run("logs", "--no-color")
        run("down", "--volumes", "--timeout", "30")

    assert pulls, logs.stdout[-6000:]
    assert f"Fixes #{number}" in pulls[0]["body"]
    assert pulls[0]["user"]["login"] == f"{SLUG}[bot]"
    # Each part in its own container: the server took the webhook, the worker ran the agent.
    assert "worker" in states
    assert upgrade == ["exited 0"], states
    worker = [line for line in logs.stdout.splitlines() if line.startswith("worker_1 ")]
    server = [line for line in logs.stdout.splitlines() if line.startswith("server_1 ")]
    assert any("issues.labeled -> job 1" in line for line in server), logs.stdout[-4000:]
    assert any("job 1 succeeded" in line for line in worker), logs.stdout[-4000:]


def _wait_for_pull(user: httpx.Client) -> list[dict[str, Any]]:
    """The pull requests once there is one; none after three minutes (the logs then say why)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        pulls: list[dict[str, Any]] = user.get(f"repos/{OWNER}/calc/pulls").json()
        if pulls:
            return pulls
        time.sleep(0.5)
    return []
