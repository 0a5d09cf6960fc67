"""`baton serve`'s HTTP protocol: a response goes out in one write, and still as HTTP/1.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.serving import OneWriteH11Protocol, _OneWrite

pytestmark = pytest.mark.anyio


class _Recorder(asyncio.Transport):
    """The real transport's stand-in: what reached it, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.calls.append(("write", bytes(data)))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def abort(self) -> None:
        self.calls.append(("abort", None))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0


async def test_writes_of_one_loop_turn_reach_the_socket_as_one() -> None:
    real = _Recorder()
    one = _OneWrite(real, asyncio.get_running_loop())
    one.write(b"HTTP/1.1 202 Accepted\r\n\r\n")
    one.write(b"")
    one.write(b'{"ignored":"x"}')
    assert real.calls == []
    assert one.get_write_buffer_size() == 40
    await asyncio.sleep(0)
    assert real.calls == [("write", b'HTTP/1.1 202 Accepted\r\n\r\n{"ignored":"x"}')]
    one.write(b"next")
    await asyncio.sleep(0)
    assert real.calls[-1] == ("write", b"next")


async def test_close_sends_what_was_written_first_and_abort_drops_it() -> None:
    real = _Recorder()
    one = _OneWrite(real, asyncio.get_running_loop())
    one.write(b"last words")
    one.close()
    await asyncio.sleep(0)
    assert real.calls == [("write", b"last words"), ("close", None)]

    real = _Recorder()
    one = _OneWrite(real, asyncio.get_running_loop())
    one.write(b"never sent")
    one.abort()
    await asyncio.sleep(0)
    assert real.calls == [("abort", None)]


async def _echo(request: Request) -> Response:
    return JSONResponse({"got": (await request.body()).decode()}, status_code=202)


@contextlib.asynccontextmanager
async def serving(http: type[OneWriteH11Protocol]) -> AsyncIterator[str]:
    """The echo app under uvicorn with `http`, on a socket made as uvicorn makes its own."""
    app = Starlette(routes=[Route("/echo", _echo, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, http=http)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with serving(OneWriteH11Protocol) as url:
        yield url


async def test_responses_on_one_kept_alive_connection(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for text in ["first", "second" * 1000, "third"]:
            resp = await client.post("/echo", content=text)
            assert resp.status_code == 202
            assert resp.json() == {"got": text}


async def test_connections_have_nagle_off() -> None:
    """uvicorn's own listener says protocol 0, so asyncio leaves Nagle on; the protocol turns
    it off (a response written over several loop turns never waits on a delayed ACK)."""
    seen: list[int] = []

    class Probe(OneWriteH11Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    async with serving(Probe) as url, httpx.AsyncClient(base_url=url) as client:
        resp = await client.post("/echo", content="x")
    assert resp.status_code == 202
    assert seen
    assert all(seen)
