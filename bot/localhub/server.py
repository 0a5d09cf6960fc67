"""`LocalHubServer`: the emulator under uvicorn on 127.0.0.1, in a thread of its own."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Self

import uvicorn

from adapters import tcp
from bot.localhub.app import create_localhub
from bot.localhub.hub import DEFAULT_RATE_LIMIT, Hub

if TYPE_CHECKING:
    from pathlib import Path

STARTUP_TIMEOUT_S = 10.0


class LocalHubServer:
    """`async with LocalHubServer(...) as server:` or `start()`/`stop()`; served from a thread."""

    def __init__(
        self,
        *,
        data_dir: Path,
        webhook_secret: bytes | None,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl_s: float = 3600.0,
        rate_limit: int = DEFAULT_RATE_LIMIT,
    ) -> None:
        # Bound now, so the URL (and every URL the emulator writes) is known before it serves,
        # and listening at once: a client told the URL before the server runs (the CLI prints
        # it first) waits in the backlog instead of being refused.
        self._sock = tcp.listener(host, port)
        bound_host, bound_port = self._sock.getsockname()[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self.api_url = f"{self.url}/api/v3/"
        self.app = create_localhub(
            data_dir=data_dir,
            webhook_secret=webhook_secret,
            public_url=self.url,
            token_ttl_s=token_ttl_s,
            rate_limit=rate_limit,
        )
        self.hub: Hub = self.app.state.hub
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        )
        self._thread: threading.Thread | None = None

    def _spawn(self) -> None:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name="localhub",
            daemon=True,
        )
        self._thread.start()

    def _check_started(self, deadline: float) -> bool:
        if self._server.started:
            return True
        if self._thread is None or not self._thread.is_alive():
            raise RuntimeError("localhub stopped during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError("localhub did not start")
        return False

    async def __aenter__(self) -> Self:
        # Its own thread and loop even here, like the real GitHub is another machine: a caller
        # that blocks its loop (a synchronous `git clone` in a test) cannot stall the emulator.
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    def start(self) -> None:
        """Serve from a background thread (for synchronous callers)."""
        self._spawn()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._check_started(deadline):
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._sock.close()

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C), as the CLI does."""
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        finally:
            self._sock.close()
