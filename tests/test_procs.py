"""The test helper that reads a child's output: lines that arrive together are all seen."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.procs import LineReader

# Three lines in one write, then silence: a reader that lets a text wrapper read ahead sees
# the first line only and then waits on a pipe that has nothing more to give.
CHILD = (
    "import sys, time; sys.stderr.write('one\\ntwo\\nthree\\n'); sys.stderr.flush(); time.sleep(30)"
)


def test_lines_written_at_once_are_all_read() -> None:
    with subprocess.Popen([sys.executable, "-c", CHILD], stderr=subprocess.PIPE) as proc:
        try:
            time.sleep(0.5)  # a reader under load: all three lines wait in the pipe together
            assert proc.stderr is not None
            seen = LineReader(proc.stderr).read_until("three", timeout_s=20)
        finally:
            proc.kill()
    assert seen == "one\ntwo\nthree\n"
