"""`baton worker`: runs the queued jobs (agent runs and control commands) in their own process.

`baton serve` starts one as its child, so CPU spent on runs never delays webhook
acknowledgements; with PostgreSQL any number run on any number of machines. On SIGTERM or
SIGINT a worker takes no more jobs, lets running ones finish for `BATON_SHUTDOWN_GRACE_S`, and
hands back the rest (queued again, resumed by another worker or the next start). A second
signal ends the grace at once. When its parent goes away it stops without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import TYPE_CHECKING

from bot.runtime import Runtime

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)
PARENT_CHECK_S = 0.5


async def run_worker(settings: Settings, *, parent_pid: int | None = None) -> int:
    runtime = Runtime(settings, works=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    grace_s = settings.shutdown_grace_s
    stopping: asyncio.Task[None] | None = None

    def on_signal() -> None:
        nonlocal stopping
        if stop.is_set() and stopping is not None:
            log.warning("second signal: handing back the running jobs now")
            stopping.cancel()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await runtime.start()
    log.info("worker %d is running jobs", os.getpid())
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PARENT_CHECK_S)
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("the server that started this worker is gone: stopping")
                grace_s = 0.0
                break
        if grace_s > 0:
            log.info("stopping: no new jobs; running ones may finish for %.0fs", grace_s)
            stopping = asyncio.create_task(runtime.queue.stop(grace_s=grace_s))
            with contextlib.suppress(asyncio.CancelledError):
                await stopping
    finally:
        await runtime.stop()
    log.info("worker %d stopped", os.getpid())
    return 0
