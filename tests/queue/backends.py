"""The queue backends the contract suite runs against: SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot.queue import JobQueue, SQLiteJobQueue
from bot.queue.postgres import PostgresJobQueue
from bot.store import migrate, open_sqlite
from bot.store.pgpool import Pool, make_pool, open_pool

REPO_ROOT = Path(__file__).resolve().parents[2]


class Backend(Protocol):
    """One durable store; each `queue()` is a new queue object (a new process's view) on it."""

    def queue(
        self, *, concurrency: int = 4, retry_base_s: float = 0.05, retry_max_s: float = 1.0
    ) -> JobQueue: ...

    def crash_worker_argv(self) -> list[str]:
        """A child process working this store whose `hang` handler prints the job id and hangs."""
        ...

    async def open(self) -> None:
        """Connect (before the first `queue()`)."""
        ...

    async def close(self) -> None: ...


@dataclass
class SQLiteBackend:
    path: Path
    _conns: list[sqlite3.Connection] = field(default_factory=list)

    def queue(
        self, *, concurrency: int = 4, retry_base_s: float = 0.05, retry_max_s: float = 1.0
    ) -> JobQueue:
        conn = open_sqlite(self.path)
        migrate(conn)
        self._conns.append(conn)
        # rand = 1: every backoff takes its full ceiling, so the delays are known.
        return SQLiteJobQueue(
            conn,
            concurrency=concurrency,
            retry_base_s=retry_base_s,
            retry_max_s=retry_max_s,
            rand=lambda: 1.0,
        )

    def crash_worker_argv(self) -> list[str]:
        return [sys.executable, "-m", "tests.queue.crash_worker", "sqlite", str(self.path)]

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        for conn in self._conns:
            conn.close()


# How long a killed worker's jobs stay taken, in these tests (60 s in production).
TEST_RECOVERY_S = 3.0


@dataclass
class PostgresBackend:
    url: str
    _pool: Pool | None = None

    async def open(self) -> None:
        self._pool = make_pool(self.url, max_size=20)
        await open_pool(self._pool)

    def queue(
        self, *, concurrency: int = 4, retry_base_s: float = 0.05, retry_max_s: float = 1.0
    ) -> JobQueue:
        # Queues of one test share a pool; each is still its own worker (its own heartbeat).
        assert self._pool is not None, "open() the backend first"
        return PostgresJobQueue(
            self._pool,
            concurrency=concurrency,
            retry_base_s=retry_base_s,
            retry_max_s=retry_max_s,
            rand=lambda: 1.0,
            recovery_s=TEST_RECOVERY_S,
            poll_s=0.2,
        )

    def crash_worker_argv(self) -> list[str]:
        return [sys.executable, "-m", "tests.queue.crash_worker", "postgresql", self.url]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
