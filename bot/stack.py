"""A whole Baton installation on one machine: the local GitHub emulator, the Baton server, an
installed app, and people who use GitHub. `baton demo` runs on it; so do the end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from adapters import tcp
from bot import gitops
from bot.app import create_app
from bot.github import InstallationToken
from bot.localhub.hub_oauth import client_id_of
from bot.localhub.server import LocalHubServer
from bot.runtime import Runtime
from config.settings import load_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping

    from starlette.applications import Starlette

    from adapters.runner import Runner

APP_ID = 1
APP_SLUG = "baton"
FINAL_MARKS = ("✅", "❌", "⏱️", "💸", "🛑", "🚫")
_PROVENANCE = re.compile(r"<!-- baton:provenance (.*?) -->")


class StackError(Exception):
    """A step of the local installation failed; the message says which and why."""


@dataclass(frozen=True, slots=True)
class AppKeys:
    private_pem: str
    public_pem: str


def make_keys() -> AppKeys:
    """A fresh RSA key pair for the app, as GitHub generates at registration."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return AppKeys(private_pem=private, public_pem=public)


def free_socket(port: int = 0) -> socket.socket:
    """Bound on loopback (uvicorn listens on it when it serves)."""
    return tcp.listener("127.0.0.1", port, backlog=None)


@contextlib.asynccontextmanager
async def serve_in_task(app: Starlette, sock: socket.socket) -> AsyncIterator[None]:
    """Serve an ASGI app with uvicorn on this event loop until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise StackError("the server stopped during start-up")
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task


class Stack:
    """Local GitHub + Baton. `settings` override `BATON_*` values (without the prefix)."""

    def __init__(
        self,
        *,
        workdir: Path,
        settings: Mapping[str, str] | None = None,
        server_env: Mapping[str, str] | None = None,
        github_auto_retry: bool = False,
        baton_port: int | None = None,
        github_transport: Callable[[Starlette], httpx.AsyncBaseTransport] | None = None,
        runner: Runner | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """`baton_port`: Baton runs elsewhere (a `baton serve` process the caller starts with
        `env()`) and listens there; otherwise it is served in this process."""
        self.workdir = workdir
        self._external_port = baton_port
        self.keys = make_keys()
        self.secret = secrets.token_hex(32)
        # The dashboard's sign-in: the App's OAuth client secret, and an operator token.
        self.client_secret = secrets.token_hex(20)
        self.dashboard_token = secrets.token_urlsafe(24)
        self._settings = dict(settings or {})
        self._server_env = dict(server_env or {})
        self._auto_retry = github_auto_retry
        # Baton's REST calls through this transport into the emulator's app (in-process), when
        # given; git still goes over the emulator's socket.
        self._transport = github_transport
        self._runner = runner  # where agents run (a FakeRunner in tests); else from settings
        self._clock = clock  # what budgets count months by (a test's own); else the time
        self._exit = contextlib.AsyncExitStack()
        self.hub_server = LocalHubServer(
            data_dir=workdir / "hub", webhook_secret=self.secret.encode()
        )
        self.baton_url = ""
        self.installation_id = 0
        self._baton_stop: contextlib.AsyncExitStack | None = None
        self._baton_sock: socket.socket | None = None
        self._app: Starlette | None = None

    @property
    def hub(self) -> Any:
        return self.hub_server.hub

    def env(self) -> dict[str, str]:
        env = {
            "BATON_APP_ID": str(APP_ID),
            "BATON_APP_SLUG": APP_SLUG,
            "BATON_PRIVATE_KEY": self.keys.private_pem,
            "BATON_WEBHOOK_SECRET": self.secret,
            "BATON_CLIENT_ID": client_id_of(APP_ID),
            "BATON_CLIENT_SECRET": self.client_secret,
            "BATON_DASHBOARD_TOKEN": self.dashboard_token,
            "BATON_GITHUB_URL": self.hub_server.api_url,
            "BATON_DATABASE_URL": f"sqlite:///{self.workdir / 'baton.db'}",
            "BATON_WORKDIR": str(self.workdir / "runs"),
            "BATON_JOB_RETRY_BASE_S": "0.5",
            # Jobs run on the test's own loop, so a test can reach the queue and the ledger.
            "BATON_WORKER": "inline",
            # The app is registered once Baton listens: a look at its deliveries before that
            # would only be refused. Tests of the catch-up turn it on.
            "BATON_REDELIVER_INTERVAL_S": "0",
        }
        env.update({f"BATON_{k.upper()}": v for k, v in self._settings.items()})
        return env

    async def __aenter__(self) -> Self:
        await self._exit.enter_async_context(self.hub_server)
        if self._external_port is not None:
            self.baton_url = f"http://127.0.0.1:{self._external_port}"
        else:
            self._baton_sock = free_socket()
            self.baton_url = f"http://127.0.0.1:{self._baton_sock.getsockname()[1]}"
            await self.start_baton()
        self.hub.register_app(APP_ID, APP_SLUG, self.keys.public_pem, f"{self.baton_url}/webhooks")
        self.hub.oauth_client(APP_ID, secret=self.client_secret)
        return self

    async def start_baton(self) -> None:
        """Start (or restart) the Baton server on its port, with the same database."""
        assert self._baton_sock is not None
        if self._baton_sock.fileno() < 0:
            # A stopped server closed its socket: listen again on the same port.
            port = int(self.baton_url.rsplit(":", 1)[1])
            self._baton_sock = free_socket(port)
        app = create_app(
            load_settings(self.env()),
            server_env=self._server_env,
            github_auto_retry=self._auto_retry,
            runner=self._runner,
            **({"clock": self._clock} if self._clock is not None else {}),
            github_transport=(
                self._transport(self.hub_server.app) if self._transport is not None else None
            ),
        )
        stop = contextlib.AsyncExitStack()
        await stop.enter_async_context(serve_in_task(app, self._baton_sock))
        self._baton_stop = stop
        self._app = app

    @property
    def runtime(self) -> Runtime:
        """The in-process Baton's runtime (its store, its queue), for tests to read."""
        if self._app is None:
            raise StackError("Baton is not running in this process")
        runtime: Runtime = self._app.state.runtime
        return runtime

    async def stop_baton(self) -> None:
        if self._baton_stop is not None:
            await self._baton_stop.aclose()
            self._baton_stop = None

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_baton()
        if self._baton_sock is not None:
            self._baton_sock.close()
        await self._exit.aclose()

    # -- people using GitHub ------------------------------------------------------------------

    def user(self, login: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.hub_server.api_url,
            headers={"Authorization": f"token {login}", "Accept": "application/vnd.github+json"},
            timeout=30,
        )

    async def create_repo(self, owner: str, name: str, files: Mapping[str, str]) -> str:
        """`owner` creates `owner/name` on GitHub and pushes `files` to main; installs the app."""
        self.hub.create_user(owner)
        if not self.installation_id:
            self.installation_id = self.hub.install(APP_ID, owner)
        async with self.user(owner) as client:
            resp = await client.post("user/repos", json={"name": name})
            if resp.status_code != 201:
                raise StackError(f"creating {owner}/{name}: {resp.status_code} {resp.text}")
            clone_url = str(resp.json()["clone_url"])
        await self.push_files(owner, clone_url, files, message="Initial commit", new_repo=True)
        return clone_url

    async def push_files(
        self, login: str, clone_url: str, files: Mapping[str, str], *, message: str,
        branch: str = "main", new_repo: bool = False,
    ) -> str:  # fmt: skip
        """`login` commits `files` on top of `branch` (created if new) and pushes; the new sha."""
        src = self.workdir / f"push-{time.monotonic_ns()}"
        src.mkdir(parents=True)
        token = InstallationToken(SecretStr(login), time.time() + 3600)
        await gitops.git("init", "--quiet", f"--initial-branch={branch}", cwd=src)
        if not new_repo:
            await gitops.git("fetch", "--quiet", clone_url, branch, cwd=src, token=token)
            await gitops.git("reset", "--quiet", "--hard", "FETCH_HEAD", cwd=src)
        for path, text in files.items():
            target = src / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        await gitops.git("add", "--all", cwd=src)
        await gitops.git(
            "-c", f"user.name={login}", "-c", f"user.email={login}@users.noreply.localhost",
            "commit", "--quiet", "-m", message, cwd=src,
        )  # fmt: skip
        await gitops.git("push", "--quiet", clone_url, f"HEAD:refs/heads/{branch}", cwd=src,
                         token=token)  # fmt: skip
        return await gitops.git("rev-parse", "HEAD", cwd=src)

    async def open_issue(self, login: str, repo: str, title: str, body: str) -> int:
        async with self.user(login) as client:
            resp = await client.post(f"repos/{repo}/issues", json={"title": title, "body": body})
            resp.raise_for_status()
            return int(resp.json()["number"])

    async def label(self, login: str, repo: str, number: int, label: str) -> None:
        async with self.user(login) as client:
            resp = await client.post(f"repos/{repo}/issues/{number}/labels",
                                     json={"labels": [label]})  # fmt: skip
            resp.raise_for_status()

    async def comment(self, login: str, repo: str, number: int, body: str) -> int:
        async with self.user(login) as client:
            resp = await client.post(f"repos/{repo}/issues/{number}/comments", json={"body": body})
            resp.raise_for_status()
            return int(resp.json()["id"])

    async def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        async with self.user(repo.split("/", maxsplit=1)[0]) as client:
            resp = await client.get(f"repos/{repo}/issues/{number}/comments",
                                    params={"per_page": 100})  # fmt: skip
            resp.raise_for_status()
            data: list[dict[str, Any]] = resp.json()
            return data

    async def pulls(self, repo: str, state: str = "all") -> list[dict[str, Any]]:
        async with self.user(repo.split("/", maxsplit=1)[0]) as client:
            resp = await client.get(f"repos/{repo}/pulls", params={"state": state})
            resp.raise_for_status()
            data: list[dict[str, Any]] = resp.json()
            return data

    async def status_comments(self, repo: str, number: int) -> list[str]:
        return [
            c["body"] for c in await self.comments(repo, number)
            if "<!-- baton:status" in c["body"]
        ]  # fmt: skip

    async def wait_final(self, repo: str, number: int, *, count: int = 1,
                         timeout_s: float = 60.0, marks: tuple[str, ...] = FINAL_MARKS,
                         ) -> list[str]:  # fmt: skip
        """Wait until `count` status comments on the target show a final state (or one of
        `marks`: ⏸️ for a run that waits for approval)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = [
                s for s in await self.status_comments(repo, number)
                if any(mark in s.splitlines()[1] for mark in marks)
            ]  # fmt: skip
            if len(done) >= count:
                return done
            await asyncio.sleep(0.1)
        seen = await self.status_comments(repo, number)
        raise StackError(f"no final status within {timeout_s:.0f}s; status comments: {seen}")


def provenance(pr_body: str) -> dict[str, Any]:
    """The hidden provenance JSON of a PR body Baton wrote."""
    match = _PROVENANCE.search(pr_body)
    if match is None:
        raise StackError("the PR body has no provenance marker")
    data: dict[str, Any] = json.loads(match.group(1))
    return data
