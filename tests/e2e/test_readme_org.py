"""README's "Run Baton for your organization", followed command by command against the local
GitHub emulator: `baton register` (the page, the form post to GitHub, the redirect, the code's
exchange), installing the App from the URL it prints, `baton serve` from the `.env` it wrote,
and a labeled issue answered by a pull request from that App; then the upgrade step."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shlex
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.localhub.server import LocalHubServer
from config.dotenv import parse
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE, agents_yml
from tests.forms import forms, submit
from tests.procs import LineReader

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

README = Path(__file__).parents[2] / "README.md"
BATON = str(Path(sys.executable).with_name("baton"))
ORG = "acme"
ADMIN = "octocat"
PUBLIC = "https://baton.acme.example"  # the README's public URL, replaced by the test's


def readme_commands() -> list[str]:
    """The `baton` commands of the section's shell blocks, in order."""
    text = README.read_text()
    section = text.split("## Run Baton for your organization\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("baton ")
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    """A user's shell: nothing of Baton's settings set (they come from ./.env)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}


@pytest.fixture
async def github(tmp_path: Path) -> AsyncIterator[LocalHubServer]:
    """GitHub (the emulator) with the organization and its administrator."""
    async with LocalHubServer(data_dir=tmp_path / "github", webhook_secret=None) as server:
        server.hub.create_org(ORG, members=[ADMIN])
        yield server


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "baton"
    made.mkdir()
    return made


@pytest.fixture
def serve_port() -> int:
    return _free_port()


def _command(line: str, **replace: str) -> list[str]:
    argv = shlex.split(line)
    assert argv[0] == "baton"
    for old, new in replace.items():
        argv = [new if a == old else a for a in argv]
    return [BATON, *argv[1:]]


@pytest.fixture
def commands() -> list[str]:
    found = readme_commands()
    assert found == [
        f"baton register --org {ORG} --public-url {PUBLIC}",
        "baton serve --host 127.0.0.1 --port 8000",
        "baton db upgrade",
    ]
    return found


async def _register(
    line: str, github: LocalHubServer, folder: Path, public_url: str
) -> tuple[str, str]:
    """Step 1, as a person does it: run the command, open its page, press its button, confirm
    on GitHub; what it printed and the install URL."""
    argv = [*_command(line, **{PUBLIC: public_url}), "--github-url", github.url]
    # Blocking reads on this loop are fine: GitHub (the emulator) serves from its own thread.
    with subprocess.Popen(  # noqa: ASYNC220
        argv, cwd=folder, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        try:
            assert proc.stdout is not None
            printed = LineReader(proc.stdout).read_until("Waiting", timeout_s=60)
            local = printed.split("Open ", 1)[1].split()[0]
            async with httpx.AsyncClient(timeout=30) as browser:
                page = await browser.get(local)
                assert forms(page)[0].action.startswith(
                    f"{github.url}/organizations/{ORG}/settings/apps/new?state="
                )
                confirm = await submit(browser, page)  # to GitHub's new-app page
                redirect = await submit(browser, confirm, login=ADMIN)
                assert redirect.status_code == 302
                done = await browser.get(redirect.headers["location"])  # back to the page
                assert done.status_code == 200, done.text
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    printed += out.decode()
    assert proc.returncode == 0, printed + err.decode()
    install = re.search(r"Install it on the organization acme: (\S+)", printed)
    assert install is not None, printed
    return printed, install.group(1)


async def test_the_organization_steps_of_the_readme(
    commands: list[str], github: LocalHubServer, folder: Path, serve_port: int
) -> None:
    register, serve, upgrade = commands
    public_url = f"http://127.0.0.1:{serve_port}"

    # 1. Register.
    printed, install_url = await _register(register, github, folder, public_url)
    env_file = folder / ".env"
    settings = parse(env_file.read_text())
    key_file = folder / settings["BATON_PRIVATE_KEY_PATH"]
    assert stat.S_IMODE(env_file.stat().st_mode) == stat.S_IMODE(key_file.stat().st_mode) == 0o600
    (app,) = github.hub.apps.values()
    assert (app.id, app.owner, app.webhook_url) == (
        int(settings["BATON_APP_ID"]),
        ORG,
        f"{public_url}/webhooks",
    )
    assert "baton serve" in printed

    # 2. Install, from the URL it printed.
    async with httpx.AsyncClient(timeout=30) as browser:
        page = await browser.get(install_url)
        assert forms(page)[0].options == {"account": [ORG]}  # private: its org only
        installed = await submit(browser, page, account=ORG)
        assert installed.status_code == 200
    assert github.hub.installation_for(app.id, ORG) is not None

    # A repository of the org, with a bug, an issue about it, and an agent that needs no key.
    async with _as(github, ADMIN) as user:
        made = await user.post(f"orgs/{ORG}/repos", json={"name": "calc", "auto_init": True})
        assert made.status_code == 201, made.text
        for path, text in {"calc.py": CALC, ".agents.yml": agents_yml()}.items():
            put = await user.put(
                f"repos/{ORG}/calc/contents/{path}",
                json={"message": f"add {path}", "content": _b64(text)},
            )
            assert put.status_code == 201, put.text
        issue = (
            await user.post(
                f"repos/{ORG}/calc/issues", json={"title": ISSUE_TITLE, "body": ISSUE_BODY}
            )
        ).json()

    # 3. Serve, from .env, in that folder.
    argv = _command(serve, **{"8000": str(serve_port)})
    with subprocess.Popen(  # noqa: ASYNC220
        argv, cwd=folder, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        try:
            assert proc.stderr is not None
            log = LineReader(proc.stderr).read_until("agent CLIs:", timeout_s=60)
            assert "settings from ./.env: BATON_APP_ID" in log

            # 4. Label the issue: a pull request comes back, from that App.
            async with _as(github, ADMIN) as user:
                labeled = await user.post(
                    f"repos/{ORG}/calc/issues/{issue['number']}/labels",
                    json={"labels": ["agent:fix"]},
                )
                assert labeled.status_code == 200
                pulls = await _wait_for_pull(user, f"{ORG}/calc")
            # GitHub's ping at registration found nothing listening; serve asked for it again.
            await _wait_redelivered(github, "ping")
        finally:
            proc.terminate()
            proc.wait(timeout=60)

    assert pulls[0]["user"]["login"] == f"{app.slug}[bot]"
    assert f"Fixes #{issue['number']}" in pulls[0]["body"]

    # 6. Upgrade: the database is current.
    done = subprocess.run(
        _command(upgrade), cwd=folder, env=_env(), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "is up to date" in done.stdout


def _as(github: LocalHubServer, login: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=github.api_url, headers={"Authorization": f"token {login}"}, timeout=30
    )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def _wait_for_pull(user: httpx.AsyncClient, repo: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pulls: list[dict[str, Any]] = (await user.get(f"repos/{repo}/pulls")).json()
        if pulls:
            return pulls
        await asyncio.sleep(0.2)
    raise AssertionError("no pull request came back")


async def _wait_redelivered(github: LocalHubServer, event: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        attempts = [d for d in github.hub.deliveries if d.event == event]
        if any(d.redelivery and d.status_code == 200 for d in attempts):
            assert attempts[0].status_code is None  # the first attempt: nobody listened
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the {event} was not redelivered")
