"""The model API's only way out of a network-less sandbox: a unix socket relayed to one endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Self
from urllib.parse import unquote, urlsplit

from adapters.netrelay import path_within, relay_connection
from config.errors import BatonError

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

log = logging.getLogger(__name__)

Scheme = Literal["http", "https"]
_SCHEMES: dict[str, Scheme] = {"http": "http", "https": "https"}
_DEFAULT_PORTS: dict[Scheme, int] = {"http": 80, "https": 443}

# Runs inside the sandbox under its own python: listens on a free loopback port of the sandbox's
# private network, relays each connection to the unix socket, points the agent's environment
# and argv at that port, then runs the agent and exits with its status. `origin` comes
# normalized (explicit port): the agent's URL may leave a default port out or write the host in
# capitals, and is rewritten all the same.
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
scheme, _, authority = origin.partition("://")
host, _, port = authority.rpartition(":")
default = {"http": "80", "https": "443"}.get(scheme)
at_port = "(?::%s)?" % port if port == default else ":" + port
at = re.compile(re.escape(scheme + "://" + host) + at_port + "(?=[/?#]|$)", re.IGNORECASE)
env = {k: at.sub(local, v) for k, v in os.environ.items()}
proc = subprocess.Popen([at.sub(local, a) for a in cmd], env=env)
code = proc.wait()
sys.exit(code if code >= 0 else 128 - code)
"""


class EndpointError(BatonError, ValueError):
    """The model endpoint cannot be forwarded into a network-less sandbox."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The one model API a network-less sandbox may reach, normalized so it can be compared.

    `origin` (scheme, lower-case host, explicit port) is what an allow-list compares;
    `base_path` (percent-decoded, no trailing slash, "" for the root) bounds the paths relayed.
    """

    scheme: Scheme
    host: str  # lower-case and IDNA-encoded; an IPv6 address compressed, without brackets
    port: int
    base_path: str = ""

    @property
    def _netloc_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def origin(self) -> str:
        """`https://api.openai.com:443`: the same string for every way of writing the origin."""
        return f"{self.scheme}://{self._netloc_host}:{self.port}"

    @property
    def authority(self) -> str:
        """The Host header the endpoint is addressed by (its port only when not the default)."""
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return self._netloc_host
        return f"{self._netloc_host}:{self.port}"

    def within(self, allowed: Endpoint) -> bool:
        """Whether this endpoint is `allowed` or a path below it: what an allow-list asks."""
        return self.origin == allowed.origin and path_within(self.base_path, allowed.base_path)


def _normal_host(hostname: str, url: str) -> str:
    host = hostname.removesuffix(".")  # `api.openai.com.` is the same name
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).compressed
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise EndpointError(f"the model endpoint {url!r} has an invalid host name") from None


def parse_endpoint(url: str) -> Endpoint:
    """Accept `http(s)://host[:port][/path]`, normalized; say why anything else cannot be relayed.

    The query and fragment of a base URL do not bound anything and are ignored.
    """
    parts = urlsplit(url.strip())
    if parts.username is not None or parts.password is not None:
        raise EndpointError("the model endpoint must not carry credentials in its URL")
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise EndpointError(
            f"sandbox network `none` relays only an http:// or https:// model endpoint, "
            f"not {parts.scheme or 'a relative'} URL {url!r}; use network `host` for it"
        )
    if not parts.hostname:
        raise EndpointError(f"the model endpoint {url!r} names no host")
    try:
        port = _DEFAULT_PORTS[scheme] if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not port:
        raise EndpointError(f"the model endpoint {url!r} has an invalid port")
    base_path = unquote(parts.path).rstrip("/")
    if any(segment in {".", ".."} for segment in base_path.split("/")):
        raise EndpointError(f"the model endpoint {url!r} has `.` or `..` in its path")
    host = _normal_host(parts.hostname, url)
    return Endpoint(scheme=scheme, host=host, port=port, base_path=base_path)


class ModelRelay:
    """In the server process: HTTP requests arriving on `socket_path` are re-sent to the endpoint.

    An https endpoint is reached over TLS verified by `ssl_context`, by default the system's
    trust store (`ssl.create_default_context()`, so OpenSSL's SSL_CERT_FILE / SSL_CERT_DIR apply).
    """

    def __init__(
        self,
        *,
        socket_path: Path,
        endpoint: Endpoint,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout_s: float = 30,
    ) -> None:
        self._path = socket_path
        self._endpoint = endpoint
        self._ssl: ssl.SSLContext | None = None
        if endpoint.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        self._connect_timeout_s = connect_timeout_s
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
            await relay_connection(
                reader,
                writer,
                endpoint=self._endpoint,
                ssl_context=self._ssl,
                connect_timeout_s=self._connect_timeout_s,
            )
        except Exception as exc:  # the boundary of one connection
            # Only the type: asyncio's own report would print a message that may quote a header.
            log.error("model relay: a connection failed with %s", type(exc).__name__)  # noqa: TRY400
        finally:
            self._tasks.discard(task)
