"""The Store implementations the contract suite runs against: SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psycopg

from bot.store import open_sqlite
from bot.store.base import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SQLiteStore


class StoreBackend(Protocol):
    """One database; each `store()` is a new Store object on it (another process's view)."""

    async def store(self, *, clock: Callable[[], float] = time.time) -> Store: ...

    def hold_writes(self) -> Callable[[], None]:
        """Take the database's write lock from outside any store, until the returned function
        is called: a store's next write waits for it (a slow query, on demand)."""
        ...

    async def close(self) -> None: ...


@dataclass
class SQLiteBackend:
    path: Path
    _stores: list[Store] = field(default_factory=list)

    async def store(self, *, clock: Callable[[], float] = time.time) -> Store:
        made = await SQLiteStore.open(str(self.path), clock=clock)
        self._stores.append(made)
        return made

    def hold_writes(self) -> Callable[[], None]:
        conn = open_sqlite(self.path)
        conn.execute("BEGIN IMMEDIATE")

        def release() -> None:
            conn.execute("COMMIT")
            conn.close()

        return release

    async def close(self) -> None:
        for made in self._stores:
            await made.close()


@dataclass
class PostgresBackend:
    url: str
    _stores: list[Store] = field(default_factory=list)

    async def store(self, *, clock: Callable[[], float] = time.time) -> Store:
        made = await PostgresStore.open(self.url, clock=clock)
        self._stores.append(made)
        return made

    def hold_writes(self) -> Callable[[], None]:
        conn = psycopg.connect(self.url)
        # EXCLUSIVE: readers pass, every writer of the ledger waits for the release.
        conn.execute("LOCK TABLE runs IN EXCLUSIVE MODE")

        def release() -> None:
            conn.commit()
            conn.close()

        return release

    async def close(self) -> None:
        for made in self._stores:
            await made.close()
