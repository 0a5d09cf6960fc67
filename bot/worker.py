"""`baton worker`: runs the queued jobs (agent runs and control commands) in their own process.

`baton serve` starts one as its child, so CPU spent on runs never delays webhook
acknowledgements. The worker stops when asked (SIGTERM/SIGINT) or when its parent goes away;
jobs it was running go back to the queue and resume at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import TYPE_CHECKING

from bot.app import Runtime

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)
PARENT_CHECK_S = 0.5


async def run_worker(settings: Settings, *, parent_pid: int | None = None) -> int:
    runtime = Runtime(settings, works=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    log.info("worker %d is running jobs", os.getpid())
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PARENT_CHECK_S)
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("the server that started this worker is gone: stopping")
                break
    finally:
        await runtime.stop()
    return 0
