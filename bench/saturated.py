"""Saturated intake: closed-loop load from wrk, every target in turn, in interleaved rounds.

Each target answers the same signed `issues.labeled` delivery as fast as it can, on a fixed
number of keep-alive connections, with a fresh `X-GitHub-Delivery` per request. The servers
all stay up for the whole phase, so round r of every target runs within the same minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from deliveries import Delivery
from loadgen import encode
from servers import BENCH, HOST, Server, ServerFailed, Target

WRK_SCRIPT = BENCH / "wrk_delivery.lua"
PLACEHOLDER = "@DELIVERY@"
# What Baton answers a delivery it acknowledges without reading (see bot/webhooks.py).
UNREAD_ANSWER = b'{"ignored":"nothing to do"}'
_MARK = "BENCH_WRK "


class WrkFailed(Exception):
    """wrk did not run to its end; the message carries its output's tail."""


@dataclass(frozen=True, slots=True)
class Round:
    """One wrk run against one target."""

    requests: int
    seconds: float
    errors: int  # connect, read, write, timeout, and responses of 400 and above
    p50_ms: float
    p99_ms: float
    max_ms: float
    # Server CPU (user + system, all its processes) per answered request.
    cpu_us_per_request: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class SaturatedResult:
    """One target's rounds, or why it has none (`missing`)."""

    name: str
    rounds: tuple[Round, ...] = ()
    missing: str = ""

    def median(self, field: str) -> float | None:
        values = [getattr(r, field) for r in self.rounds if getattr(r, field) is not None]
        return statistics.median(values) if values else None


@dataclass(frozen=True, slots=True)
class Options:
    connections: int = 16
    threads: int = 1
    rounds: int = 3
    # Whole seconds: wrk takes no fractions.
    round_s: int = 10
    warmup_s: int = 2


def ensure_wrk() -> tuple[str | None, str]:
    """(wrk executable, "") when wrk is there, installing Debian's package when root; else why."""
    found = shutil.which("wrk")
    if found is not None:
        return found, ""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "wrk is not on PATH (install it: sudo apt-get install -y wrk)"
    print("installing wrk from Debian's packages ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    found = shutil.which("wrk")
    if found is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-2:]
        return None, f"apt-get install wrk failed: {' | '.join(tail)}"
    return found, ""


def wrk_version(wrk: str) -> str:
    # `wrk -v` prints "wrk <version> [epoll] Copyright ..." and exits 1.
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False, timeout=30)
    words = (done.stdout or done.stderr).split()
    return words[1] if len(words) > 1 else "n/a"


def request_file(delivery: Delivery, target: Target, folder: Path) -> Path:
    """The request as wrk sends it, its delivery id a placeholder the Lua script fills in."""
    headers = tuple(
        (name, PLACEHOLDER if name == "X-GitHub-Delivery" else value)
        for name, value in delivery.headers
    )
    raw = encode(
        Delivery(event=delivery.event, body=delivery.body, headers=headers),
        host=HOST, port=target.port, path=target.path,
    )  # fmt: skip
    path = folder / f"{target.name}.http"
    path.write_bytes(raw)
    return path


async def probe(delivery: Delivery, target: Target) -> str:
    """Why `target` cannot be measured with `delivery` (its answer is not 2xx, or Baton did not
    read the payload), or "" when it can."""
    raw = encode(delivery, host=HOST, port=target.port, path=target.path)
    raw = raw.replace(b"X-GitHub-Delivery: -", b"X-GitHub-Delivery: probe-" + target.name.encode())
    raw = raw.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    reader, writer = await asyncio.open_connection(HOST, target.port)
    try:
        writer.write(raw)
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head.count(b" ") >= 1 else b"?"
    if not status.startswith(b"2"):
        return f"the probe delivery got {status.decode(errors='replace')}: {body[:200]!r}"
    if target.name.startswith("baton") and UNREAD_ANSWER in body:
        return "Baton acknowledged the probe without reading it: the bench measures nothing"
    return ""


async def run_wrk(
    wrk: str, target: Target, *, request: Path, seconds: int, options: Options
) -> Round:
    argv = [
        wrk, f"-t{options.threads}", f"-c{options.connections}", f"-d{seconds}s",
        "--timeout", "10s", "-s", str(WRK_SCRIPT), f"http://{HOST}:{target.port}{target.path}",
        "--", str(request), PLACEHOLDER, secrets.token_hex(4),
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=seconds + 60)
    lines = [line for line in out.decode().splitlines() if line.startswith(_MARK)]
    if process.returncode != 0 or not lines:
        raise WrkFailed(f"wrk exited with {process.returncode}: {(err or out).decode()[-300:]}")
    data = json.loads(lines[-1][len(_MARK) :])
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Round(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


async def _measured(wrk: str, server: Server, request: Path, options: Options) -> Round:
    cpu_before = server.cpu_seconds()
    result = await run_wrk(wrk, server.target, request=request, seconds=options.round_s,
                           options=options)  # fmt: skip
    server.check_alive()
    cpu_s = server.cpu_seconds() - cpu_before
    cpu_us = cpu_s / result.requests * 1e6 if cpu_s > 0 and result.requests else None
    return Round(
        requests=result.requests, seconds=result.seconds, errors=result.errors,
        p50_ms=result.p50_ms, p99_ms=result.p99_ms, max_ms=result.max_ms,
        cpu_us_per_request=cpu_us,
    )  # fmt: skip


async def run(
    targets: list[Target | tuple[str, str]],
    *,
    wrk: str,
    delivery: Delivery,
    options: Options,
    folder: Path,
) -> list[SaturatedResult]:
    """Every target's rounds, in the order given; a target given as (name, why) is not run."""
    servers: dict[str, Server] = {}
    missing: dict[str, str] = {}
    requests: dict[str, Path] = {}
    rounds: dict[str, list[Round]] = {}
    order: list[str] = []
    try:
        for item in targets:
            if isinstance(item, tuple):
                order.append(item[0])
                missing[item[0]] = item[1]
                continue
            order.append(item.name)
            server = Server(target=item, log_path=folder / f"{item.name}.saturated.log")
            try:
                await server.start()
                servers[item.name] = server
                why = await probe(delivery, item)
            except (ServerFailed, OSError, TimeoutError) as exc:
                why = f"{type(exc).__name__}: {exc}"
            if why:
                missing[item.name] = why
                continue
            requests[item.name] = request_file(delivery, item, folder)
            rounds[item.name] = []
        for index in range(-1, options.rounds):
            # Round -1 warms every target up (Node's JIT, Python's caches); it is not counted.
            for name in order:
                if name in missing:
                    continue
                server = servers[name]
                step = "warm-up" if index < 0 else f"round {index + 1}/{options.rounds}"
                print(f"saturated {name}: {step} ...", file=sys.stderr)
                try:
                    if index < 0 and options.warmup_s > 0:
                        await run_wrk(wrk, server.target, request=requests[name],
                                      seconds=options.warmup_s, options=options)  # fmt: skip
                        server.check_alive()
                    elif index >= 0:
                        rounds[name].append(await _measured(wrk, server, requests[name], options))
                except (ServerFailed, WrkFailed, OSError, TimeoutError) as exc:
                    # One target's failure is reported in its row; the others are still measured.
                    missing[name] = f"{type(exc).__name__}: {exc}"
    finally:
        for server in servers.values():
            await server.stop()
    return [
        SaturatedResult(name=n, missing=missing[n])
        if n in missing
        else SaturatedResult(name=n, rounds=tuple(rounds[n]))
        for n in order
    ]
