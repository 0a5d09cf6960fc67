"""Webhook deliveries: signed like GitHub's, sent off the request path, in order per repository.

Each delivery is recorded (id, event, action, payload, the receiver's status, duration). A
redelivery resends the same body under the same `X-GitHub-Delivery`, as GitHub's does.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    id: str
    event: str
    action: str | None
    payload: dict[str, Any]
    app_id: int
    hook_id: int
    url: str
    key: str  # deliveries with one key are sent in order (one key per app and repository)
    redelivery: bool = False
    status_code: int | None = None
    duration_s: float | None = None
    error: str | None = None
    sent_at: float | None = None
    # The app's own webhook secret (a manifest app's); None: the emulator's.
    secret: bytes | None = None


def signature_headers(secret: bytes | None, body: bytes) -> dict[str, str]:
    if secret is None:
        return {}
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
        "X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest(),
    }


def body_of(delivery: Delivery) -> bytes:
    return json.dumps(delivery.payload).encode()


class Dispatcher:
    """Queues deliveries and sends them from tasks on the emulator's event loop."""

    def __init__(
        self,
        *,
        secret: bytes | None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._secret = secret
        self._timeout = timeout_s
        self._transport = transport
        self.enabled = True
        self.deliveries: list[Delivery] = []
        self._queues: dict[str, deque[Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._backlog: list[Delivery] = []
        self._pending = 0
        self._lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send from `loop` from now on (the server's loop); queued deliveries start."""
        self._loop = loop
        backlog, self._backlog = self._backlog, []
        for delivery in backlog:
            loop.call_soon_threadsafe(self._start, delivery)

    def new(self, *, event: str, payload: dict[str, Any], app_id: int, hook_id: int, url: str,
            key: str, secret: bytes | None = None) -> Delivery:  # fmt: skip
        action = payload.get("action")
        return Delivery(
            id=str(uuid.uuid4()),
            event=event,
            action=str(action) if action is not None else None,
            payload=payload,
            app_id=app_id,
            hook_id=hook_id,
            url=url,
            key=key,
            secret=secret,
        )

    def enqueue(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)
            self._pending += 1
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is None and running is not None:
            self._loop = running
        if self._loop is None:
            self._backlog.append(delivery)
        elif running is self._loop:
            self._start(delivery)
        else:
            self._loop.call_soon_threadsafe(self._start, delivery)

    def redeliver(self, delivery_id: str) -> Delivery:
        original = next((d for d in self.deliveries if d.id == delivery_id), None)
        if original is None:
            raise KeyError(delivery_id)
        again = Delivery(
            id=original.id, event=original.event, action=original.action,
            payload=original.payload, app_id=original.app_id, hook_id=original.hook_id,
            url=original.url, key=original.key, redelivery=True, secret=original.secret,
        )  # fmt: skip
        self.enqueue(again)
        return again

    def _start(self, delivery: Delivery) -> None:
        self._queues.setdefault(delivery.key, deque()).append(delivery)
        worker = self._workers.get(delivery.key)
        if worker is None or worker.done():
            self._workers[delivery.key] = asyncio.get_running_loop().create_task(
                self._drain(delivery.key)
            )

    async def _drain(self, key: str) -> None:
        queue = self._queues[key]
        while queue:
            delivery = queue.popleft()
            try:
                await self._send(delivery)
            finally:
                with self._lock:
                    self._pending -= 1

    async def _send(self, delivery: Delivery) -> None:
        if not self.enabled:
            delivery.error = "webhooks are disabled"
            return
        body = body_of(delivery)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/localhub",
            "X-GitHub-Event": delivery.event,
            "X-GitHub-Delivery": delivery.id,
            "X-GitHub-Hook-ID": str(delivery.hook_id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": str(delivery.app_id),
            **signature_headers(delivery.secret or self._secret, body),
        }
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        started = time.monotonic()
        delivery.sent_at = time.time()
        try:
            resp = await self._client.post(delivery.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # A receiver that is down or slow is a failed delivery, as on GitHub: no retry.
            delivery.error = f"{type(exc).__name__}: {exc}"
            log.info("delivery %s (%s) failed: %s", delivery.id, delivery.event, delivery.error)
        else:
            delivery.status_code = resp.status_code
        delivery.duration_s = time.monotonic() - started

    @property
    def pending(self) -> int:
        return self._pending

    async def wait(self, timeout_s: float = 30.0) -> None:
        """Return once every queued delivery was attempted."""
        deadline = time.monotonic() + timeout_s
        while self._pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self._pending} webhook deliveries still pending")
            await asyncio.sleep(0.005)

    async def aclose(self) -> None:
        for task in self._workers.values():
            task.cancel()
        mine = [t for t in self._workers.values() if t.get_loop() is asyncio.get_running_loop()]
        await asyncio.gather(*mine, return_exceptions=True)
        self._workers.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
