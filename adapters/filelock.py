"""An exclusive lock that holds across processes (an `flock` on a file), awaited without
blocking the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

POLL_S = 0.05


@contextlib.asynccontextmanager
async def flocked(path: Path, *, poll_s: float = POLL_S) -> AsyncIterator[None]:
    """Hold an exclusive `flock` on `path` (created if missing) for the block.

    Tried without blocking and retried every `poll_s`: a waiter occupies no thread, and one
    cancelled while waiting leaves nothing held. The lock goes with its descriptor, so a process
    that dies holding it releases it too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(poll_s)
        yield
    finally:
        os.close(fd)
