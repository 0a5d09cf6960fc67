"""A Baton deployment on PostgreSQL for the scale-out acceptance tests: the local GitHub
emulator, `baton serve` replicas (BATON_WORKER=none) behind a round-robin front, and `baton
worker` processes, each with a work folder of its own (as on separate machines)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.stack import Stack, free_socket, serve_in_task
from bot.store.postgres import PostgresStore
from bot.workspaces import Workspaces

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


@dataclass
class Proc:
    """One Baton process of the deployment, its output in a log file of its own."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def kill_group(self) -> None:
        """SIGKILL to the process and everything it started (its agents too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def wait(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while self.alive():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} still running after {timeout_s:.0f}s")
            await asyncio.sleep(0.1)
        assert self.popen is not None
        code = self.popen.returncode
        assert code is not None
        return code

    async def until_logged(self, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no {text!r}:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.1)


def round_robin(targets: list[str], client: httpx.AsyncClient) -> Starlette:
    """A load balancer in front of the servers: each delivery to the next one, and to the one
    after it when a server does not answer (down or restarting)."""
    turns = itertools.count()

    async def forward(request: Request) -> Response:
        body = await request.body()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}
        }
        start = next(turns)
        for i in range(len(targets)):
            target = targets[(start + i) % len(targets)]
            try:
                answer = await client.post(f"{target}/webhooks", content=body, headers=headers)
            except httpx.TransportError:
                continue
            kind = answer.headers.get("content-type", "application/json")
            return Response(answer.content, status_code=answer.status_code, media_type=kind)
        return Response(b'{"error": "no server answers"}', status_code=502)

    return Starlette(routes=[Route("/webhooks", forward, methods=["POST"])])


@dataclass
class Cluster:
    """`servers` replicas and `workers` worker processes on `database_url`."""

    workdir: Path
    database_url: str
    servers: int = 2
    workers: int = 3
    concurrency: int = 4
    settings: Mapping[str, str] = field(default_factory=dict)
    server_procs: list[Proc] = field(default_factory=list)
    worker_procs: list[Proc] = field(default_factory=list)
    _exit: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    stack: Stack = field(init=False)

    async def __aenter__(self) -> Self:
        sock = free_socket()
        front_port = sock.getsockname()[1]
        self.stack = Stack(workdir=self.workdir, baton_port=front_port)
        await self._exit.enter_async_context(self.stack)
        # Hundreds of runs call the emulator far more than GitHub's hourly 5,000 allow.
        self.stack.hub.rate_limit = 10_000_000
        self._exit.callback(sock.close)
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "db", "upgrade"],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"baton db upgrade failed: {done.stderr}")
        ports = [free_socket() for _ in range(self.servers)]
        targets = [f"http://127.0.0.1:{p.getsockname()[1]}" for p in ports]
        for n, port_sock in enumerate(ports):
            port = port_sock.getsockname()[1]
            port_sock.close()
            self.server_procs.append(self._proc(f"server{n}", ["serve", "--port", str(port)]))
        client = await self._exit.enter_async_context(httpx.AsyncClient(timeout=30))
        await self._exit.enter_async_context(serve_in_task(round_robin(targets, client), sock))
        self._exit.push_async_callback(self.stop_all)
        for proc in self.server_procs:
            proc.start()
        for n in range(self.workers):
            self.add_worker(f"worker{n}").start()
        await asyncio.gather(*(self.ready(t) for t in targets))
        await asyncio.gather(*(w.until_logged("is taking jobs") for w in self.worker_procs))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            for proc in [*self.server_procs, *self.worker_procs]:
                print(f"===== {proc.name} =====\n{proc.log()[-4000:]}")
        await self._exit.aclose()

    def env(self, **extra: str) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env = {
            **clean,
            **self.stack.env(),
            "BATON_DATABASE_URL": self.database_url,
            "BATON_SANDBOX": "none",
            "BATON_LOG_LEVEL": "INFO",
        }
        env.update({f"BATON_{k.upper()}": v for k, v in self.settings.items()})
        env.update(extra)
        return env

    def _proc(self, name: str, args: list[str], **extra: str) -> Proc:
        argv = [sys.executable, "-m", "bot.cli", *args]
        log = self.workdir / f"{name}.log"
        # PGAPPNAME: PostgreSQL's logs and pg_stat_activity tell the roles apart.
        if name.startswith("server"):
            env = self.env(BATON_WORKER="none", PGAPPNAME="baton-serve", **extra)
        else:
            workdir = str(self.workdir / name)
            env = self.env(BATON_WORKDIR=workdir, PGAPPNAME="baton-worker", **extra)
        return Proc(name=name, argv=argv, env=env, log_path=log)

    def add_worker(self, name: str, **extra: str) -> Proc:
        proc = self._proc(name, ["worker", "--concurrency", str(self.concurrency)], **extra)
        self.worker_procs.append(proc)
        return proc

    async def ready(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient() as client:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    logs = "\n".join(p.log()[-2000:] for p in self.server_procs)
                    raise TimeoutError(f"{url} not ready:\n{logs}")
                await asyncio.sleep(0.2)

    async def stop_all(self) -> None:
        procs = [p for p in [*self.server_procs, *self.worker_procs] if p.alive()]
        for proc in procs:
            proc.signal(signal.SIGTERM)
        for proc in procs:
            try:
                await proc.wait(30)
            except TimeoutError:
                proc.kill_group()
        # What a killed worker left mounted goes as the next worker on its disk would sweep it.
        for proc in self.worker_procs:
            await Workspaces(root=self.workdir / proc.name).sweep()

    async def store(self) -> PostgresStore:
        return await PostgresStore.open(self.database_url)


async def wait_for(check: Any, *, timeout_s: float, what: str, every_s: float = 0.5) -> None:
    """Poll the async `check` until it holds."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f}s")
        await asyncio.sleep(every_s)
