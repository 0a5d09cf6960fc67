"""How `baton serve` runs uvicorn: its options, and an HTTP/1.1 protocol that answers in one write.

uvicorn writes a response's head and its body separately, so a 202 with a short JSON body costs
two `send` calls and two TCP segments where a bodiless one costs one; on the saturated intake
bench that second write was a fifth of Baton's CPU per delivery. Here what uvicorn writes during
one turn of the event loop is held and handed on joined, at the end of that turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from adapters import tcp

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.types import ASGIApp

log = logging.getLogger(__name__)


class _OneWrite(asyncio.Transport):
    """A transport that joins the writes of one loop turn; everything else is the real one's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _flush(self) -> None:
        if not self._held:
            return
        data = b"".join(self._held)
        self._held.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        # What was written before the close still goes out first, as with the real transport.
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(d) for d in self._held)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class OneWriteH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, writing through `_OneWrite`: one segment per response."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a TCP server's transport
        # A response written over several loop turns (a stream) must not wait on delayed ACKs.
        tcp.no_delay(transport)
        super().connection_made(_OneWrite(transport, asyncio.get_running_loop()))


class _Server(uvicorn.Server):
    """uvicorn's server, saying where it listens (and `announce`) once its sockets are bound."""

    def __init__(self, config: uvicorn.Config, announce: Sequence[str]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        for server in self.servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                log.info("listening on http://%s:%d (webhooks on POST /webhooks)", shown, port)
        for line in self._announce:
            log.info("%s", line)


def run(app: ASGIApp, *, host: str, port: int, announce: Sequence[str] = ()) -> bool:
    """Serve `app` until interrupted: one process, no access log (deliveries log themselves).

    Once listening it logs the address and each line of `announce`; False when it never
    started (the port taken, the lifespan failed: uvicorn has logged why)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, http=OneWriteH11Protocol
    )
    server = _Server(config, announce)
    # uvicorn exits the process itself when the lifespan fails: that is a failed start too.
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        server.run()
    return server.started
