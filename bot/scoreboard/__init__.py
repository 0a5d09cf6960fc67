"""The agent scoreboard: which agent's pull requests get merged, untouched, green, unreverted,
and at what cost, from the facts Baton's webhooks record (`bot.store.pulls`).

`facts` folds the facts into each PR's outcome and each run's figures, `compute` aggregates
them per agent and per agent x label x repository, `render` shows them, `reverts` says which
merged PR reverts which, and `read` loads what they need from the store (the one I/O here).
"""

from bot.scoreboard.compute import DEFAULT_WINDOW_S, Figures, Row, Scoreboard, scoreboard
from bot.scoreboard.facts import PullFacts, PullState, RunOutcome, Verdict, fold, run_outcome

__all__ = [
    "DEFAULT_WINDOW_S",
    "Figures",
    "PullFacts",
    "PullState",
    "Row",
    "RunOutcome",
    "Scoreboard",
    "Verdict",
    "fold",
    "run_outcome",
    "scoreboard",
]
