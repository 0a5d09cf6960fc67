"""The listening sockets of Baton's in-process servers (the emulator, the fake model server,
Baton under `Stack`): their connections answer without waiting on a delayed ACK."""

from __future__ import annotations

import asyncio
import socket

import pytest

from adapters import tcp

pytestmark = pytest.mark.anyio


async def test_accepted_connections_have_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only on sockets that say IPPROTO_TCP; an accepted one says what
    its listener said."""
    accepted: asyncio.Queue[int] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        await accepted.put(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    listening = tcp.listener("127.0.0.1")
    server = await asyncio.start_server(on_connect, sock=listening)
    async with server:
        port = listening.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted.get(), 10) != 0
        writer.close()


def test_a_taken_port_raises_and_leaves_no_socket_open() -> None:
    first = tcp.listener("127.0.0.1")
    try:
        port = first.getsockname()[1]
        with pytest.raises(OSError):
            tcp.listener("127.0.0.1", port)
    finally:
        first.close()
