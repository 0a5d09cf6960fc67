"""A worker process for the crash test: it claims `hang` jobs, says so, and hangs until killed."""

from __future__ import annotations

import asyncio
import sys

from bot.queue import JobContext, JobQueue, SQLiteJobQueue
from bot.queue.postgres import PostgresJobQueue
from bot.store import migrate, open_sqlite
from bot.store.pgpool import make_pool, open_pool
from tests.queue.backends import TEST_RECOVERY_S


async def _hang(ctx: JobContext) -> None:
    print(f"claimed {ctx.job_id} attempt {ctx.attempt}", flush=True)
    await asyncio.Event().wait()


async def _main(backend: str, target: str) -> None:
    queue: JobQueue
    if backend == "sqlite":
        conn = open_sqlite(target)
        migrate(conn)
        queue = SQLiteJobQueue(conn)
    elif backend == "postgresql":
        pool = make_pool(target, max_size=4)
        await open_pool(pool)
        queue = PostgresJobQueue(pool, recovery_s=TEST_RECOVERY_S, poll_s=0.2)
    else:
        raise SystemExit(f"unknown backend {backend}")
    queue.register("hang", _hang)
    await queue.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2]))
