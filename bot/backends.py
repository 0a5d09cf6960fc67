"""The job queue and store of one process, on the database `BATON_DATABASE_URL` names.

SQLite: the queue on the server's own connection, the store on a thread of its own, one file.
PostgreSQL: one connection pool per process, shared by the queue (procrastinate's tables) and
the store; the schema must be current (`baton db upgrade`), it is never changed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.database import open_database
from bot.queue.sqlite import SQLiteJobQueue
from bot.store.errors import StoreError
from bot.store.url import Dialect, dialect_of

if TYPE_CHECKING:
    import sqlite3

    from bot.queue import JobQueue
    from bot.store.base import Store
    from bot.store.pgpool import Pool
    from config.settings import Settings

# A worker child of `baton serve` on SQLite is not woken by the server's submits: it looks often.
SQLITE_CHILD_POLL_S = 0.1


class Backend(Protocol):
    """A process's queue (usable at once, for submitting) and, once opened, its store."""

    queue: JobQueue

    async def open_store(self) -> Store: ...

    async def close(self) -> None: ...


class SQLiteBackend:
    def __init__(self, settings: Settings) -> None:
        self._url = settings.database_url
        self.conn: sqlite3.Connection = open_database(settings.database_url)
        self.queue: JobQueue = SQLiteJobQueue(
            self.conn,
            concurrency=settings.worker_concurrency,
            retry_base_s=settings.job_retry_base_s,
            idle_poll_s=2.0 if settings.worker == "inline" else SQLITE_CHILD_POLL_S,
        )

    async def open_store(self) -> Store:
        from bot.store.sqlite import SQLiteStore  # noqa: PLC0415

        return await SQLiteStore.open(self._url)

    async def close(self) -> None:
        self.conn.close()


class PostgresBackend:
    def __init__(self, settings: Settings) -> None:
        from bot.queue.postgres import PostgresJobQueue  # noqa: PLC0415
        from bot.store.pgpool import make_pool  # noqa: PLC0415

        self.pool: Pool = make_pool(settings.database_url, max_size=settings.pool_size)
        self.queue: JobQueue = PostgresJobQueue(
            self.pool,
            concurrency=settings.worker_concurrency,
            retry_base_s=settings.job_retry_base_s,
            recovery_s=settings.worker_recovery_s,
        )

    async def open_store(self) -> Store:
        from bot.store.pgpool import open_pool  # noqa: PLC0415
        from bot.store.postgres import PostgresStore  # noqa: PLC0415

        await open_pool(self.pool)
        store = PostgresStore(self.pool)
        problem = await store.schema_problem()
        if problem is not None:
            raise StoreError(problem)
        return store

    async def close(self) -> None:
        await self.pool.close()


def backend_for(settings: Settings) -> Backend:
    if dialect_of(settings.database_url) is Dialect.POSTGRESQL:
        return PostgresBackend(settings)
    return SQLiteBackend(settings)
