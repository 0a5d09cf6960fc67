"""An emulator with an installed App whose webhook receiver can be up, down or refusing, plus the
App's client and a store: for the tests of catching up and of `baton deliveries`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.catchup import CatchUp
from bot.gh.app import GitHubApp
from bot.localhub.app import create_localhub
from bot.localhub.hub import Hub
from bot.stack import AppKeys, make_keys
from bot.store.sqlite import SQLiteStore

BASE = "http://localhub.test"
APP_ID = 41
OWNER = "octocat"


@dataclass
class Receiver:
    """Baton's side of the webhook: what it answers (0: it is down) and the ids it got."""

    status: int = 202
    got: list[str] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            if self.status == 0:
                raise httpx.ConnectError("connection refused", request=request)
            self.got.append(request.headers["x-github-delivery"])
            return httpx.Response(self.status)

        return httpx.MockTransport(answer)


@dataclass
class HookWorld:
    hub: Hub
    receiver: Receiver
    github: GitHubApp
    store: SQLiteStore
    keys: AppKeys
    transport: httpx.AsyncBaseTransport

    def catch_up(self) -> CatchUp:
        return CatchUp(github=self.github, store=self.store, interval_s=300)

    async def events_while_down(self, count: int) -> list[str]:
        """`count` events sent while Baton is down: their delivery ids."""
        self.receiver.status = 0
        before = len(self.hub.deliveries)
        for n in range(count):
            self.hub.install(APP_ID, f"user{n}")  # any event the App hears will do
        await self.hub.wait_for_deliveries(timeout_s=5)
        self.receiver.status = 202
        return [d.id for d in self.hub.deliveries[before:]]


@contextlib.asynccontextmanager
async def hook_world(tmp_path: Path) -> AsyncIterator[HookWorld]:
    receiver = Receiver()
    app = create_localhub(
        data_dir=tmp_path / "hub",
        webhook_secret=b"s",
        public_url=BASE,
        webhook_transport=receiver.transport(),
    )
    hub: Hub = app.state.hub
    keys = make_keys()
    hub.create_user(OWNER)
    hub.register_app(APP_ID, "baton", keys.public_pem, "http://baton.test/webhooks")
    hub.install(APP_ID, OWNER)
    await hub.wait_for_deliveries(timeout_s=5)
    transport = httpx.ASGITransport(app=app)
    github = GitHubApp(
        app_id=str(APP_ID),
        private_key=keys.private_pem,
        base_url=f"{BASE}/api/v3/",
        auto_retry=False,
        transport=transport,
    )
    store = await SQLiteStore.open(f"sqlite:///{tmp_path / 'baton.db'}")
    try:
        yield HookWorld(hub, receiver, github, store, keys, transport)
    finally:
        await store.close()
        await hub.dispatcher.aclose()
