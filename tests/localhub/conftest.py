"""Fixtures: an emulator served in-process (ASGI), an app key pair, a recording webhook receiver."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.localhub.app import create_localhub
from bot.localhub.hub import Hub

BASE = "http://localhub.test"
RECEIVER = "http://receiver.test/webhooks"
SECRET = b"localhub-test-secret"
APP_ID = 77
SLUG = "baton"
OWNER = "octocat"
REPO = "calc"


@dataclass(frozen=True, slots=True)
class Keys:
    private_pem: str
    public_pem: str


def make_keys() -> Keys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return Keys(private, public)


@pytest.fixture(scope="session")
def keys() -> Keys:
    return make_keys()


@dataclass(frozen=True, slots=True)
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Env:
    app: Starlette
    hub: Hub
    keys: Keys
    installation_id: int
    received: list[Received] = field(default_factory=list)

    def user(self, login: str = OWNER) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=f"{BASE}/api/v3/",
            headers={"Authorization": f"token {login}"},
        )

    def app_github(self, private_pem: str | None = None) -> GitHub[AppAuthStrategy]:
        return GitHub(
            AppAuthStrategy(APP_ID, private_pem or self.keys.private_pem),
            base_url=f"{BASE}/api/v3/",
            auto_retry=False,
            cache_strategy=MemCacheStrategy(),
            async_transport=httpx.ASGITransport(app=self.app),
        )

    def github(self) -> GitHub[Any]:
        app_gh = self.app_github()
        return app_gh.with_auth(app_gh.auth.as_installation(self.installation_id))

    def events(self, event: str, action: str | None = None) -> list[dict[str, Any]]:
        return [
            d.payload
            for d in self.hub.deliveries
            if d.event == event and (action is None or d.action == action)
        ]


def receiver(sink: list[Received]) -> Starlette:
    async def hook(request: Request) -> Response:
        sink.append(Received(dict(request.headers), await request.body()))
        return Response(status_code=202)

    return Starlette(routes=[Route("/webhooks", hook, methods=["POST"])])


@pytest.fixture
async def env(tmp_path: Path, keys: Keys) -> AsyncIterator[Env]:
    """An emulator with app 77 (`baton`) installed on `octocat`, who owns `octocat/calc`
    holding `calc.py` on main and a branch `fix` one commit ahead."""
    sink: list[Received] = []
    app = create_localhub(
        data_dir=tmp_path / "hub",
        webhook_secret=SECRET,
        public_url=BASE,
        webhook_transport=httpx.ASGITransport(app=receiver(sink)),
    )
    hub: Hub = app.state.hub
    hub.create_user(OWNER)
    hub.register_app(APP_ID, SLUG, keys.public_pem, RECEIVER)
    iid = hub.install(APP_ID, OWNER)
    env = Env(app=app, hub=hub, keys=keys, installation_id=iid, received=sink)
    async with env.user() as user:
        await seed(user)
    try:
        yield env
    finally:
        with contextlib.suppress(TimeoutError):
            await hub.wait_for_deliveries(timeout_s=5)
        await hub.dispatcher.aclose()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def seed(user: httpx.AsyncClient) -> None:
    (await user.post("user/repos", json={"name": REPO})).raise_for_status()
    put = await user.put(
        f"repos/{OWNER}/{REPO}/contents/calc.py",
        json={"message": "Add calc", "content": b64("def add(a, b):\n    return a - b\n")},
    )
    put.raise_for_status()
    main_sha = put.json()["commit"]["sha"]
    ref = await user.post(
        f"repos/{OWNER}/{REPO}/git/refs", json={"ref": "refs/heads/fix", "sha": main_sha}
    )
    ref.raise_for_status()
    current = (await user.get(f"repos/{OWNER}/{REPO}/contents/calc.py?ref=fix")).json()
    fixed = await user.put(
        f"repos/{OWNER}/{REPO}/contents/calc.py",
        json={
            "message": "Fix add",
            "content": b64("def add(a, b):\n    return a + b\n"),
            "branch": "fix",
            "sha": current["sha"],
        },
    )
    fixed.raise_for_status()
