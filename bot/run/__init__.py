"""The run engine: what happens between "a worker claims a job" and "the PR is open".

job (outcome mapping) → gate (permission, config, flags) → verb handler (`chain` for fix and
retry, `compare`) → target → handoff context → attempt (worktree → agent → policy and scan →
commit) → delivery (planned as values, then executed) → status comment. `docs/architecture.md`
follows one labeled issue through these modules.
"""

from bot.run.attempt import RunFailed
from bot.run.chain import acknowledge
from bot.run.job import run_job
from bot.run.services import Services, status_claim
from bot.run.state import run_id_for
from bot.run.target import Target

__all__ = [
    "RunFailed",
    "Services",
    "Target",
    "acknowledge",
    "run_id_for",
    "run_job",
    "status_claim",
]
