"""The repository's own check (`verify:` in `.agents.yml`) run on an agent's result.

It runs the repository's code, so it runs like an agent: in the sandbox, with the worktree its
only writable place and no secret in its environment.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.process import run
from adapters.sandbox import SandboxPlan, git_common_dir, require_sandbox, run_sandboxed

if TYPE_CHECKING:
    from adapters.sandbox import SandboxMode
    from config.schema import Verify

log = logging.getLogger(__name__)


async def run_verify(spec: Verify, worktree: Path, *, sandbox: SandboxMode) -> bool:
    """True when the check exits 0 within its time limit."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "CI": "true"}
    with tempfile.TemporaryDirectory(prefix="baton-verify-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        if await require_sandbox(sandbox, agent="verify"):
            plan = SandboxPlan(
                worktree=worktree, home=home, env={**env, "HOME": "/home/agent"},
                git_dir=git_common_dir(worktree),
            )  # fmt: skip
            done = await run_sandboxed(plan, spec.command, timeout_s=spec.timeout)
        else:
            done = await run(spec.command, cwd=worktree, env={**env, "HOME": str(home)},
                             timeout_s=spec.timeout, check=False)  # fmt: skip
    if done.returncode != 0:
        log.info("verify failed (exit %s): %s", done.returncode, done.err.strip()[-300:])
    return done.returncode == 0 and not done.timed_out
