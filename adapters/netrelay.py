"""The model relay's HTTP side: each request from the sandbox is re-sent, well formed, to one API.

h11, not httpx, drives both sides. The relay is a forwarder, not a client: the agent's request
must reach the API framed and headed as the agent sent it (Host and hop-by-hop headers aside),
with no User-Agent, Accept-Encoding or cookies of a client library added and no proxy or netrc
of the server's environment consulted; h11 is a framing state machine with no policy of its own,
and the sandbox side needs it anyway. Plain-http endpoints take this path too, so only HTTP
requests for the endpoint's paths ever leave, never an arbitrary protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import unquote

import h11

if TYPE_CHECKING:
    from collections.abc import Iterable

    from adapters.netforward import Endpoint

log = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]
Side = Literal["sandbox", "endpoint"]

_CHUNK = 64 * 1024
# An idle connection to the endpoint is reused only this long: servers close idle ones (uvicorn
# after 5 s), and one closed just as a request goes out fails that request. Node's HTTP client
# stops at 4 s for the same reason.
_REUSE_IDLE_S = 4.0
_SANDBOX: Final = "sandbox"
_ENDPOINT: Final = "endpoint"
# Meaningful for one hop only (RFC 9110 7.6.1); `expect` because the relay answers
# 100-continue itself, `host` because it is rewritten. Framing passes through: h11 frames each
# body the way its sender declared it.
_NOT_FORWARDED = frozenset(
    b"connection keep-alive proxy-connection proxy-authenticate proxy-authorization"
    b" te trailer upgrade expect host".split()
)
_FRAMING = frozenset({b"content-length", b"transfer-encoding"})


def path_within(path: str, base: str) -> bool:
    """Whether `path` is `base` or below it, segment by segment (`/v1x` is not below `/v1`)."""
    return path == base or path.startswith(base + "/")


def refusal(endpoint: Endpoint, request: h11.Request) -> str | None:
    """Why `request` must not leave the sandbox (None: it may); only the endpoint's paths may."""
    if request.method == b"CONNECT":
        return "CONNECT tunnels are not relayed"
    if any(name == b"upgrade" for name, _ in request.headers):
        return "protocol upgrades are not relayed"
    if not request.target.startswith(b"/"):
        return "only a path may be requested, not an absolute URL"
    # Decoded as the API will decode it, so `%2e%2e` cannot climb out of the base path.
    path = unquote(request.target.split(b"?", 1)[0].decode("latin-1"))
    if "\\" in path or any(segment in {".", ".."} for segment in path.split("/")):
        return "dot segments are not relayed"
    if not path_within(path, endpoint.base_path):
        return f"the path is outside the endpoint's base path {endpoint.base_path!r}"
    return None


def forwarded(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """`headers` without the hop-by-hop ones (and those `Connection` names); framing kept."""
    items = list(headers)
    named = {
        token.strip().lower()
        for name, value in items
        if name.lower() == b"connection"
        for token in value.split(b",")
    }
    drop = (_NOT_FORWARDED | named) - _FRAMING
    return [(name, value) for name, value in items if name.lower() not in drop]


def _reason(exc: BaseException) -> str:
    """What went wrong, fit for a log line: never an exception text that may quote a header."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or type(exc).__name__}"
    if isinstance(exc, h11.ProtocolError):
        # h11 quotes the offending header line, which may hold the API key.
        return "malformed HTTP"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


def _loggable(target: bytes) -> str:
    # The query is left out: some APIs (Gemini's `?key=`) take the key there.
    return target.split(b"?", 1)[0].decode("latin-1")[:200]


class _Broken(Exception):
    """One side of the relay failed: `side` says which, `reason` is safe to log."""

    def __init__(self, side: Side, reason: str) -> None:
        super().__init__(f"{side}: {reason}")
        self.side = side
        self.reason = reason


class _Peer:
    """One HTTP/1.1 connection driven through h11; its I/O and protocol errors become `_Broken`."""

    def __init__(
        self,
        conn: h11.Connection,
        side: Side,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.h11 = conn
        self.side = side
        self._reader = reader
        self._writer = writer
        self._idle_since = time.monotonic()

    async def send(self, event: h11.Event) -> None:
        try:
            data = self.h11.send(event)
            if data:
                self._writer.write(data)
                await self._writer.drain()
        except (OSError, h11.ProtocolError) as exc:
            raise _Broken(self.side, _reason(exc)) from None

    async def next_event(self) -> h11.Event:
        try:
            while True:
                event = self.h11.next_event()
                if isinstance(event, h11.Event):
                    return event
                if event is h11.PAUSED:
                    raise _Broken(self.side, "sent a request after a protocol switch")
                self.h11.receive_data(await self._reader.read(_CHUNK))
        except (OSError, h11.ProtocolError) as exc:
            raise _Broken(self.side, _reason(exc)) from None

    def next_cycle(self) -> bool:
        """Start the next request/response on this connection; False when it cannot carry one."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            self._idle_since = time.monotonic()
            return True
        return False

    def reusable(self) -> bool:
        """Whether an idle connection may still carry a request (not closed, not idle too long)."""
        idle = time.monotonic() - self._idle_since
        return not self._reader.at_eof() and idle < _REUSE_IDLE_S

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(5):
                await self._writer.wait_closed()


async def _pump(src: _Peer, dst: _Peer) -> None:
    """Pass one message body on as it arrives (a Server-Sent Events stream event by event)."""
    while True:
        event = await src.next_event()
        if isinstance(event, h11.Data):
            await dst.send(h11.Data(data=event.data))
        elif isinstance(event, h11.EndOfMessage):
            await dst.send(h11.EndOfMessage())
            return
        else:
            raise _Broken(src.side, "closed the connection mid-message")


class _Relay:
    """One connection from the sandbox: its requests in turn, each re-sent to the endpoint."""

    def __init__(
        self,
        *,
        down: _Peer,
        endpoint: Endpoint,
        ssl_context: ssl.SSLContext | None,
        connect_timeout_s: float,
    ) -> None:
        self._down = down
        self._endpoint = endpoint
        self._ssl = ssl_context
        self._timeout_s = connect_timeout_s
        self._up: _Peer | None = None  # kept across requests while both ends keep it alive

    async def run(self) -> None:
        try:
            while await self._one():
                pass
        except _Broken:
            pass  # the sandbox went away or sent garbage; the endpoint side is handled in _one
        finally:
            if self._up is not None:
                await self._up.close()
            await self._down.close()

    async def _one(self) -> bool:
        """Relay one request; whether the sandbox's connection can carry another."""
        try:
            request = await self._down.next_event()
        except _Broken:
            await self._answer(400, "the model relay could not parse this request\n")
            return False
        if not isinstance(request, h11.Request):
            return False  # closed by the sandbox between requests
        method, path = request.method.decode("latin-1"), _loggable(request.target)
        why = refusal(self._endpoint, request)
        if why is not None:
            log.warning("model relay: refused %s %r: %s", method, path, why)
            await self._answer(403, f"the model relay refuses this request: {why}\n")
            return False
        try:
            up, response = await self._forward(request)
        except _Broken as broken:
            if broken.side == _SANDBOX:
                return False
            origin = self._endpoint.origin
            log.warning("model relay: %s %r to %s failed: %s", method, path, origin, broken.reason)
            await self._drop_upstream()
            await self._answer(502, "the model relay cannot reach the model endpoint\n")
            return False
        log.debug("model relay: %s %r -> %d", method, path, response.status_code)
        headers = forwarded(response.headers.raw_items())
        await self._down.send(
            h11.Response(status_code=response.status_code, headers=headers, reason=response.reason)
        )
        try:
            await _pump(up, self._down)
        except _Broken as broken:
            if broken.side == _ENDPOINT:
                # Too late for a 502: closing mid-body tells the agent the response is cut.
                log.warning("model relay: the response to %s %r was cut off", method, path)
            return False
        if not up.next_cycle():
            await self._drop_upstream()
        return self._down.next_cycle()

    async def _forward(self, request: h11.Request) -> tuple[_Peer, h11.Response]:
        """Send `request` and its body on as they come; the endpoint's connection and answer."""
        if self._up is not None and not self._up.reusable():
            await self._drop_upstream()
        if self._up is None:
            self._up = await self._connect()
        up = self._up
        headers = [(b"Host", self._endpoint.authority.encode("ascii"))]
        headers += forwarded(request.headers.raw_items())
        await up.send(h11.Request(method=request.method, target=request.target, headers=headers))
        if self._down.h11.they_are_waiting_for_100_continue:
            await self._down.send(h11.InformationalResponse(status_code=100, headers=[]))
        await _pump(self._down, up)
        while True:
            event = await up.next_event()
            if isinstance(event, h11.Response):
                return up, event
            # 1xx hints are dropped: an agent's HTTP client does not need them.
            if not isinstance(event, h11.InformationalResponse):
                raise _Broken(_ENDPOINT, "closed the connection without a response")

    async def _connect(self) -> _Peer:
        endpoint = self._endpoint
        hostname = endpoint.host if self._ssl is not None else None
        try:
            async with asyncio.timeout(self._timeout_s):
                reader, writer = await asyncio.open_connection(
                    endpoint.host, endpoint.port, ssl=self._ssl, server_hostname=hostname
                )
        except OSError as exc:  # ssl errors and TimeoutError are OSErrors
            raise _Broken(_ENDPOINT, _reason(exc)) from None
        return _Peer(h11.Connection(h11.CLIENT), _ENDPOINT, reader, writer)

    async def _drop_upstream(self) -> None:
        up, self._up = self._up, None
        if up is not None:
            await up.close()

    async def _answer(self, status: int, text: str) -> None:
        """Tell the sandbox why, if it is still owed a response; the connection then closes."""
        down = self._down
        if down.h11.our_state not in {h11.IDLE, h11.SEND_RESPONSE}:
            return
        while down.h11.their_state is h11.SEND_BODY:
            await down.next_event()  # read to the end, so the answer is not lost in a reset
        body = text.encode()
        headers = [
            (b"Content-Type", b"text/plain; charset=utf-8"),
            (b"Content-Length", str(len(body)).encode()),
            (b"Connection", b"close"),
        ]
        await down.send(h11.Response(status_code=status, headers=headers))
        await down.send(h11.Data(data=body))
        await down.send(h11.EndOfMessage())


async def relay_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    endpoint: Endpoint,
    ssl_context: ssl.SSLContext | None,
    connect_timeout_s: float,
) -> None:
    """Serve one connection from the sandbox until either side closes it."""
    down = _Peer(h11.Connection(h11.SERVER), _SANDBOX, reader, writer)
    relay = _Relay(
        down=down, endpoint=endpoint, ssl_context=ssl_context, connect_timeout_s=connect_timeout_s
    )
    await relay.run()
