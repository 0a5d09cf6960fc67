"""The model API's only way out of a network-less sandbox: a unix socket relayed to host:port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024

# Runs inside the sandbox under its own python: listens on a free loopback port of the sandbox's
# private network, relays each connection to the unix socket, points the agent's environment
# and argv at that port, then runs the agent and exits with its status.
INSIDE_RELAY = r"""
import os, re, socket, subprocess, sys, threading
sock_path, origin, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
local = "http://127.0.0.1:%d" % srv.getsockname()[1]
def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
def serve():
    while True:
        conn, _ = srv.accept()
        up = socket.socket(socket.AF_UNIX)
        try:
            up.connect(sock_path)
        except OSError:
            conn.close()
            continue
        threading.Thread(target=pipe, args=(conn, up), daemon=True).start()
        threading.Thread(target=pipe, args=(up, conn), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
at = re.compile(re.escape(origin) + "(?=[/?#]|$)")
env = {k: at.sub(local, v) for k, v in os.environ.items()}
proc = subprocess.Popen([at.sub(local, a) for a in cmd], env=env)
code = proc.wait()
sys.exit(code if code >= 0 else 128 - code)
"""


class EndpointError(ValueError):
    """The model endpoint cannot be forwarded into a network-less sandbox."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A model API reachable over plain HTTP: `origin` is what the agent's base URL starts with."""

    origin: str
    host: str
    port: int


def parse_endpoint(url: str) -> Endpoint:
    """Accept `http://host[:port][/path]`; say why anything else cannot be forwarded."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        # A TLS API checks the Host and SNI it is addressed by; a byte relay to a rewritten
        # loopback URL cannot keep them, so only plain-HTTP endpoints (gateways) are relayed.
        raise EndpointError(
            f"sandbox network `none` forwards only an http:// model endpoint (a gateway), "
            f"not {parts.scheme or 'a relative'} URL {url!r}; use network `host` for it"
        )
    if parts.username or parts.password:
        raise EndpointError("the model endpoint must not carry credentials in its URL")
    if not parts.hostname:
        raise EndpointError(f"the model endpoint {url!r} names no host")
    port = parts.port or 80
    host = parts.hostname
    netloc = f"[{host}]" if ":" in host else host
    origin = f"http://{netloc}:{parts.port}" if parts.port else f"http://{netloc}"
    return Endpoint(origin=origin, host=host, port=port)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


class ModelRelay:
    """In the server process: connections to `socket_path` are relayed to the endpoint."""

    def __init__(self, *, socket_path: Path, endpoint: Endpoint) -> None:
        self._path = socket_path
        self._endpoint = endpoint
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_unix_server(self._accept, path=str(self._path))
        # Connecting needs write permission on the socket; only the sandbox's mapped owner has it.
        self._path.chmod(0o600)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._relay(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        endpoint = self._endpoint
        try:
            up_reader, up_writer = await asyncio.open_connection(endpoint.host, endpoint.port)
        except OSError as exc:
            log.warning(
                "model relay: cannot reach %s:%d: %s", endpoint.host, endpoint.port, exc.strerror
            )
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await w.wait_closed()
