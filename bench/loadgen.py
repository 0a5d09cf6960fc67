"""Open-loop load: requests sent at fixed times over a small keep-alive HTTP/1.1 client.

Latency is measured from each request's scheduled send time, so a server that falls behind
is charged for the queueing it causes (no coordinated omission). The client is raw asyncio
streams: requests are pre-encoded bytes, so the client's own cost per request stays small
next to the servers' on a machine with two cores.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
from dataclasses import dataclass, field

from deliveries import Delivery

_MAX_HEADER_LINES = 100
_EARLY_S = 0.001


class ProtocolError(Exception):
    """The server's response is not HTTP/1.1 as this client reads it."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: when it was due, when it left, when its response ended, and its status."""

    scheduled: float
    sent: float
    done: float
    status: int  # 0 when the request failed before a status arrived
    error: str = ""

    @property
    def latency(self) -> float:
        """From the scheduled time, or from the send when the client woke up early for it."""
        return self.done - min(self.scheduled, self.sent)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class Summary:
    """Latency percentiles (ms, from the scheduled time) and how the run went."""

    count: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    achieved_rate: float
    send_lag_p99_ms: float
    statuses: dict[int, int] = field(default_factory=dict)


def encode(delivery: Delivery, *, host: str, port: int, path: str) -> bytes:
    """The request as it goes on the wire (built before the run, off the timed path)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in delivery.headers]
    lines.append(f"Content-Length: {len(delivery.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + delivery.body


class _Stale(Exception):
    """A kept-alive connection was closed by the server before it answered: use a fresh one."""


class Pool:
    """Keep-alive connections to one server, opened on demand (an open loop needs many at once)."""

    def __init__(self, *, host: str, port: int, max_connections: int = 512) -> None:
        self._host = host
        self._port = port
        self._idle: collections.deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            collections.deque()
        )
        self._slots = asyncio.Semaphore(max_connections)

    async def request(self, raw: bytes) -> int:
        """Send one pre-encoded request; return the response status."""
        async with self._slots:
            while self._idle:
                conn = self._idle.pop()
                with contextlib.suppress(_Stale, ConnectionError):
                    return await self._use(conn, raw)
            conn = await asyncio.open_connection(self._host, self._port)
            try:
                return await self._use(conn, raw)
            except _Stale as exc:
                raise ConnectionResetError("the server closed a new connection") from exc

    async def _use(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], raw: bytes
    ) -> int:
        try:
            status, keep = await _exchange(*conn, raw)
        except BaseException:
            # Timed out, cancelled or garbled: the connection is in an unknown state.
            conn[1].close()
            raise
        if keep:
            self._idle.append(conn)
        else:
            conn[1].close()
        return status

    async def close(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bool]:
    """(status, whether the connection may be reused) for one request on one connection."""
    writer.write(raw)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise _Stale
    try:
        status = int(status_line.split(b" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise ProtocolError(f"bad status line {status_line[:80]!r}") from exc
    headers = await _read_headers(reader)
    keep = headers.get(b"connection", b"").lower() != b"close"
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        await _skip_chunked(reader)
    elif b"content-length" in headers:
        await reader.readexactly(int(headers[b"content-length"]))
    else:
        await reader.read()
        keep = False
    return status, keep


async def _read_headers(reader: asyncio.StreamReader) -> dict[bytes, bytes]:
    headers: dict[bytes, bytes] = {}
    for _ in range(_MAX_HEADER_LINES):
        line = await reader.readline()
        if line in {b"\r\n", b"\n", b""}:
            return headers
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    raise ProtocolError("too many response header lines")


async def _skip_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        await reader.readexactly(size + 2)  # the chunk and its CRLF
        if size == 0:
            return


async def send_closed_loop(pool: Pool, requests: list[bytes]) -> list[int]:
    """One after another: for probes before the timed run."""
    return [await pool.request(raw) for raw in requests]


async def run_open_loop(
    pool: Pool, requests: list[bytes], *, rate: float, timeout_s: float = 10.0
) -> list[Sample]:
    """Send request i at start + i/rate whatever the responses do; one Sample per request."""
    loop = asyncio.get_running_loop()

    async def one(raw: bytes, scheduled: float) -> Sample:
        sent = loop.time()
        try:
            async with asyncio.timeout(timeout_s):
                status = await pool.request(raw)
        except (OSError, TimeoutError, ProtocolError, asyncio.IncompleteReadError) as exc:
            return Sample(scheduled, sent, loop.time(), 0, f"{type(exc).__name__}: {exc}")
        return Sample(scheduled, sent, loop.time(), status)

    start = loop.time() + 0.05
    tasks: list[asyncio.Task[Sample]] = []
    for index, raw in enumerate(requests):
        scheduled = start + index / rate
        # epoll sleeps in whole milliseconds, rounded up: wake early rather than late.
        delay = scheduled - loop.time() - _EARLY_S
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(raw, scheduled)))
    return list(await asyncio.gather(*tasks))


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..1)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(samples: list[Sample]) -> Summary:
    """Percentiles over every request, failed ones included at the time they failed."""
    latencies = sorted(s.latency * 1000 for s in samples)
    lags = sorted(max(0.0, s.sent - s.scheduled) * 1000 for s in samples)
    statuses = collections.Counter(s.status for s in samples)
    ok = sum(1 for s in samples if s.ok)
    window = max(s.done for s in samples) - min(s.scheduled for s in samples) if samples else 0
    return Summary(
        count=len(samples),
        errors=len(samples) - ok,
        p50_ms=percentile(latencies, 0.50),
        p90_ms=percentile(latencies, 0.90),
        p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else math.nan,
        achieved_rate=ok / window if window > 0 else 0.0,
        send_lag_p99_ms=percentile(lags, 0.99),
        statuses=dict(sorted(statuses.items())),
    )
