"""The repository's own check (`verify:` in `.agents.yml`) run on an agent's result.

It runs the repository's code as the agent left it, so it runs like an agent: through the run's
`Runner` (in the sandbox unless the operator opted out), with the worktree its only writable
place, no secret in its environment, and no network unless `verify.network: host` (which, like
an agent's, needs the org's `security.allow_host_network`).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.process import base_env
from adapters.runner import Places, ProcessJob, chosen
from adapters.sandbox import git_common_dir

if TYPE_CHECKING:
    from adapters.runner import Runner
    from adapters.sandbox import SandboxMode
    from config.schema import Verify

log = logging.getLogger(__name__)


async def run_verify(
    spec: Verify,
    worktree: Path,
    *,
    runner: Runner | None = None,
    sandbox: SandboxMode | None = None,
) -> bool:
    """True when the check exits 0 within its time limit.

    `runner` is the run's; `sandbox` (BATON_SANDBOX's value) names one for callers that do not
    hand one in yet. Raises SandboxUnavailable when the sandbox is needed and cannot run.
    """
    runner = chosen(runner, sandbox)
    with tempfile.TemporaryDirectory(prefix="baton-verify-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        places = Places(worktree=worktree.resolve(), home=home)
        job = ProcessJob(
            name="verify",
            argv=tuple(spec.command),
            places=places,
            env=base_env(runner.inside(home, places), {"CI": "true"}),
            git_dir=git_common_dir(worktree),
            network=spec.network,
            timeout_s=spec.timeout,
        )
        done = await runner.run(job)
    if done.returncode != 0:
        log.info("verify failed (exit %s): %s", done.returncode, done.err.strip()[-300:])
    return done.returncode == 0 and not done.timed_out
