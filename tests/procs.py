"""Reading a child process's output as it comes, line by line, without losing buffered lines."""

from __future__ import annotations

import os
import selectors
import time
from typing import IO

import pytest


class LineReader:
    """Lines of one pipe, read straight from its file descriptor.

    A text wrapper's `readline` reads ahead: lines that arrived together land in its buffer,
    the descriptor then looks empty, and a `select` on it waits for output that already came.
    Reading the descriptor ourselves keeps every byte in one place.
    """

    def __init__(self, pipe: IO[str] | IO[bytes]) -> None:
        self._fd = pipe.fileno()
        self._pending = b""
        self.seen = ""

    def read_until(self, wanted: str, *, timeout_s: float) -> str:
        """Everything read so far, once a line containing `wanted` has come; fails the test
        (with what was read) on timeout or when the process closed the pipe first."""
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(self._fd, selectors.EVENT_READ)
            while wanted not in self.seen:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    pytest.fail(f"no {wanted!r} in time; output so far:\n{self.seen}")
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    pytest.fail(f"the process closed its output before {wanted!r}:\n{self.seen}")
                self._pending += chunk
                # Only whole lines count: `wanted` is looked for in lines that are complete.
                whole, _, self._pending = self._pending.rpartition(b"\n")
                if whole:
                    self.seen += whole.decode(errors="replace") + "\n"
        return self.seen
