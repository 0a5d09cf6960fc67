"""The repository's `verify:` check runs through the run's Runner, like an agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.runner import FakeRunner, HostRunner, completed
from bot.verify import run_verify
from config.schema import Verify

pytestmark = pytest.mark.anyio

CHECK = Verify(command=["make", "test"], timeout=30)


async def test_the_check_passes_when_it_exits_zero(tmp_path: Path) -> None:
    runner = FakeRunner(completed())
    assert await run_verify(CHECK, tmp_path, runner=runner) is True
    (job,) = runner.jobs
    assert (job.name, job.argv, job.timeout_s) == ("verify", ("make", "test"), 30)
    assert job.places.worktree == tmp_path.resolve()
    # It runs the repository's code: a fresh HOME of its own, no secret, `CI` set.
    assert set(job.env) == {"PATH", "LANG", "HOME", "CI"}
    assert (job.env["HOME"], job.env["CI"]) == ("/home/agent", "true")


async def test_a_failing_or_timed_out_check_does_not_pass(tmp_path: Path) -> None:
    runner = FakeRunner(completed(returncode=1, stderr="1 failed"), completed(timed_out=True))
    assert await run_verify(CHECK, tmp_path, runner=runner) is False
    assert await run_verify(CHECK, tmp_path, runner=runner) is False


async def test_the_old_sandbox_keyword_still_names_a_runner(tmp_path: Path) -> None:
    check = Verify(command=["/bin/sh", "-c", 'test -d "$HOME" && test "$CI" = true'])
    assert await run_verify(check, tmp_path, sandbox="none") is True
    with pytest.raises(ValueError, match="not both"):
        await run_verify(check, tmp_path, runner=HostRunner(), sandbox="none")
