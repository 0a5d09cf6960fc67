"""Which handler does a run's work: one entry per verb that works on a repository."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.run.chain import run_fix
from bot.run.compare import run_compare
from bot.run.resume import run_continue

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from bot.github import RepoGitHub
    from bot.run.state import RunState
    from config.merge import Effective


# `fix` and `retry` (and a label) take the route's chain; `compare` races its agents;
# `continue` picks up a run stopped at its limit.
VERBS: Mapping[str, Callable[[RunState, RepoGitHub, Effective], Awaitable[None]]] = {
    "compare": run_compare,
    "continue": run_continue,
}


def handler_for(
    state: RunState,
) -> Callable[[RunState, RepoGitHub, Effective], Awaitable[None]]:
    verb = state.cmd.verb if state.cmd is not None else "fix"
    return VERBS.get(verb, run_fix)
