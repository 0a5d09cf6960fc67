"""The three intake servers of the bench, each started in its own process on a free local port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
NODE_PREFIX = BENCH / ".node"
PROBOT_VERSION = "14.3.2"
PROBOT_PACKAGE = NODE_PREFIX / "node_modules" / "probot"
HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Target:
    """How to start one server and where it takes webhooks."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    path: str
    port: int


@dataclass(frozen=True, slots=True)
class Memory:
    rss_kib: int
    peak_kib: int


class ServerFailed(Exception):
    """A server did not start or stopped early; the message carries its log's tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def private_key_pem() -> str:
    """A throwaway RSA key, PKCS#1 as GitHub hands them out: both apps need one to start."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _base_env() -> dict[str, str]:
    # The parent's BATON_* settings must not leak into the servers under test.
    return {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}


def baton_target(
    *, secret: str, key_pem: str, tmp: Path, name: str = "baton", repo: Path = REPO
) -> Target:
    """`baton serve` from `repo` (another checkout measures an earlier commit), its files in
    `tmp`, which no other target shares: a shared database would take deliveries for replays."""
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    env = _base_env() | {
        "BATON_WEBHOOK_SECRET": secret,
        "BATON_APP_ID": "1",
        "BATON_PRIVATE_KEY": key_pem,
        "BATON_DATABASE_URL": f"sqlite:///{tmp / 'baton.db'}",
        "BATON_WORKDIR": str(tmp / "work"),
        # Unreachable: the bench measures intake; queued runs fail later in the worker.
        "BATON_GITHUB_URL": "http://127.0.0.1:9/",
    }
    # `-m` puts the working directory first on sys.path: `repo`'s code runs, on this venv.
    argv = (sys.executable, "-m", "bot.cli", "serve", "--port", str(port))
    return Target(name=name, argv=argv, env=env, cwd=repo, path="/webhooks", port=port)


def bare_target(*, secret: str) -> Target:
    port = free_port()
    env = _base_env() | {"BENCH_WEBHOOK_SECRET": secret}
    argv = (sys.executable, str(BENCH / "bare_starlette.py"), "--port", str(port))
    return Target(name="bare", argv=argv, env=env, cwd=REPO, path="/webhooks", port=port)


def probot_target(*, secret: str, key_pem: str, node: str) -> Target:
    port = free_port()
    env = _base_env() | {
        "WEBHOOK_SECRET": secret,
        "APP_ID": "1",
        "PRIVATE_KEY": key_pem,
        "LOG_LEVEL": "warn",
        "NODE_ENV": "production",
        "HOST": HOST,
        "PORT": str(port),
    }
    argv = (node, str(PROBOT_PACKAGE / "bin" / "probot.js"), "run", "./index.cjs")
    # Probot's own default webhook path (that of @octokit/webhooks).
    return Target(
        name="probot", argv=argv, env=env, cwd=BENCH / "probot_app",
        path="/api/github/webhooks", port=port,
    )  # fmt: skip


def _installed_probot_version() -> str | None:
    manifest = PROBOT_PACKAGE / "package.json"
    if not manifest.is_file():
        return None
    version: str = json.loads(manifest.read_text()).get("version", "")
    return version


def ensure_probot() -> tuple[str | None, str]:
    """(node executable, "") when Probot is ready to run, else (None, why not)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        return None, "node is not on PATH"
    if _installed_probot_version() == PROBOT_VERSION:
        return node, ""
    if npm is None:
        return None, "npm is not on PATH"
    print(f"installing probot@{PROBOT_VERSION} into {NODE_PREFIX} ...", file=sys.stderr)
    argv = [npm, "install", "--prefix", str(NODE_PREFIX), "--no-audit", "--no-fund",
            "--save-exact", f"probot@{PROBOT_VERSION}"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0 or _installed_probot_version() != PROBOT_VERSION:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return None, f"npm install probot@{PROBOT_VERSION} failed: {' | '.join(tail)}"
    return node, ""


def version_of(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return "n/a"
    return done.stdout.strip() or "n/a"


class Server:
    """A started target; `stop()` ends it (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self, *, target: Target, log_path: Path) -> None:
        self.target = target
        self.log_path = log_path
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ServerFailed(f"{self.target.name} is not started")
        return self._process.pid

    async def start(self, *, timeout_s: float = 60.0) -> None:
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self.target.argv, cwd=self.target.cwd, env=dict(self.target.env),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        async with asyncio.timeout(timeout_s):
            while not await self._accepts():
                if self._process.returncode is not None:
                    raise ServerFailed(self._failure("exited during start-up"))
                await asyncio.sleep(0.05)

    async def _accepts(self) -> bool:
        try:
            _, writer = await asyncio.open_connection(HOST, self.target.port)
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        return True

    def pids(self) -> list[int]:
        """The server and every process it started (`baton serve` runs a worker child)."""
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
        return found

    def memory(self) -> Memory:
        """VmRSS and VmHWM summed over the server's processes, from /proc."""
        rss = peak = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    name, _, value = line.partition(":")
                    if name == "VmRSS":
                        rss += int(value.split()[0])
                    elif name == "VmHWM":
                        peak += int(value.split()[0])
        return Memory(rss_kib=rss, peak_kib=peak)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server's processes so far (all their threads)."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                # Fields after the command name, which is in parentheses and may contain spaces.
                fields = stat.rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def check_alive(self) -> None:
        if self._process is not None and self._process.returncode is not None:
            raise ServerFailed(self._failure(f"exited with {self._process.returncode}"))

    def _failure(self, what: str) -> str:
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-15:]
        return f"{self.target.name} {what}; last log lines:\n  " + "\n  ".join(tail)

    async def stop(self, *, grace_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            async with asyncio.timeout(grace_s):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
