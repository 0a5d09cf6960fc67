"""Test doubles for the model relay: a stand-in model API (TLS with a test CA) and the sandbox side.

The API answers `/v1/stream` with a Server-Sent Events stream that holds its second event back
until the test releases it, and anything else with a JSON summary of what it received.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Self

import h11
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from types import TracebackType

FIRST_EVENT = b"event: message_start\ndata: {}\n\n"
SECOND_EVENT = b"event: message_stop\ndata: {}\n\n"


@dataclass(frozen=True, slots=True)
class Certs:
    ca: Path  # the test CA, PEM: what a client must trust
    cert: Path  # localhost and 127.0.0.1, signed by the CA
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certs(directory: Path) -> Certs:
    """A fresh CA and a server certificate for localhost / 127.0.0.1, written as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Baton relay test CA"))
        .issuer_name(_name("Baton relay test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ca_usage, critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server_auth = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    issuer = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(server_auth, critical=False)
        .add_extension(issuer, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    certs = Certs(ca=directory / "ca.pem", cert=directory / "cert.pem", key=directory / "key.pem")
    certs.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certs


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as it reached the API."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


async def next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Event:
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Event):
            return event
        conn.receive_data(await reader.read(65536))


async def send(conn: h11.Connection, writer: asyncio.StreamWriter, *events: h11.Event) -> None:
    for event in events:
        data = conn.send(event)
        if data:
            writer.write(data)
    await writer.drain()


@dataclass
class ModelApi:
    """The stand-in API on 127.0.0.1 (TLS when `tls` is given); records what reaches it."""

    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    server_names: list[str | None] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def __aenter__(self) -> Self:
        if self.tls is not None:
            self.tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.release.set()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        conn = h11.Connection(h11.SERVER)
        try:
            while isinstance(request := await next_event(conn, reader), h11.Request):
                body = b""
                while isinstance(event := await next_event(conn, reader), h11.Data):
                    body += event.data
                headers = {k.decode(): v.decode() for k, v in request.headers}
                target = request.target.decode()
                self.seen.append(Seen(request.method.decode(), target, headers, body))
                if target.endswith("/stream"):
                    await self._stream(conn, writer)
                else:
                    summary = json.dumps({"path": target, "received": len(body)}).encode()
                    length = str(len(summary)).encode()
                    head = [(b"Content-Type", b"application/json"), (b"Content-Length", length)]
                    response = h11.Response(status_code=200, headers=head)
                    await send(conn, writer, response, h11.Data(data=summary), h11.EndOfMessage())
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (h11.ProtocolError, OSError):
            pass
        finally:
            writer.close()

    async def _stream(self, conn: h11.Connection, writer: asyncio.StreamWriter) -> None:
        head = [(b"Content-Type", b"text/event-stream"), (b"Transfer-Encoding", b"chunked")]
        await send(conn, writer, h11.Response(status_code=200, headers=head))
        await send(conn, writer, h11.Data(data=FIRST_EVENT))
        await self.release.wait()
        await send(conn, writer, h11.Data(data=SECOND_EVENT), h11.EndOfMessage())


class Agent:
    """The sandbox's side: HTTP/1.1 on the relay's unix socket, as INSIDE_RELAY passes it on."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conn = h11.Connection(h11.CLIENT)
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, socket_path: Path) -> Agent:
        return cls(*await asyncio.open_unix_connection(str(socket_path)))

    async def send(self, *events: h11.Event) -> None:
        await send(self.conn, self.writer, *events)

    async def next_event(self) -> h11.Event:
        return await next_event(self.conn, self.reader)

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> tuple[h11.Response, bytes]:
        """One whole exchange; the connection is ready for the next when both sides keep it."""
        head = [("Host", "127.0.0.1:40000"), ("Content-Length", str(len(body))), *headers]
        await self.send(h11.Request(method=method, target=target, headers=head))
        await self.send(h11.Data(data=body), h11.EndOfMessage())
        response = await self.next_event()
        assert isinstance(response, h11.Response), response
        received = b""
        while isinstance(event := await self.next_event(), h11.Data):
            received += event.data
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        return response, received

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
