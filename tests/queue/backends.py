"""The queue backends the contract suite runs against; add a PostgreSQL one beside SQLite."""

from __future__ import annotations

import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot.queue import JobQueue, SQLiteJobQueue
from bot.store import migrate, open_sqlite

REPO_ROOT = Path(__file__).resolve().parents[2]


class Backend(Protocol):
    """One durable store; each `queue()` is a new queue object (a new process's view) on it."""

    def queue(
        self, *, concurrency: int = 4, retry_base_s: float = 0.05, retry_max_s: float = 1.0
    ) -> JobQueue: ...

    def crash_worker_argv(self) -> list[str]:
        """A child process working this store whose `hang` handler prints the job id and hangs."""
        ...

    def close(self) -> None: ...


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

    def close(self) -> None:
        for conn in self._conns:
            conn.close()
