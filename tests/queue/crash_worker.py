"""A worker process for the crash test: it claims `hang` jobs, says so, and hangs until killed."""

from __future__ import annotations

import asyncio
import sys

from bot.queue import JobContext, SQLiteJobQueue
from bot.store import migrate, open_sqlite


async def _hang(ctx: JobContext) -> None:
    print(f"claimed {ctx.job_id} attempt {ctx.attempt}", flush=True)
    await asyncio.Event().wait()


async def _main(backend: str, target: str) -> None:
    if backend != "sqlite":
        raise SystemExit(f"unknown backend {backend}")
    conn = open_sqlite(target)
    migrate(conn)
    queue = SQLiteJobQueue(conn)
    queue.register("hang", _hang)
    await queue.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2]))
