"""The one way Baton's in-process servers open a listening TCP socket.

asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections whose socket says
IPPROTO_TCP, and an accepted socket says what its listener said: one made with the default
protocol (0) leaves Nagle on, and every answer a server writes in two pieces then waits for the
client's delayed ACK (40 ms on Linux) on a kept-alive connection.
"""

from __future__ import annotations

import asyncio
import socket


def listener(host: str, port: int = 0, *, backlog: int | None = 128) -> socket.socket:
    """Bound to `host:port` (0: any free port) and, unless `backlog` is None, listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        if backlog is not None:
            sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Nagle off on a connection a listener Baton did not make accepted (uvicorn binds its own,
    with protocol 0)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in {socket.AF_INET, socket.AF_INET6}:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
