"""`/agent budget`'s answer (pure): this UTC month's spend per scope, reported, priced and unknown
apart, what running runs hold, each monthly cap with the layer that set it, and what is left."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.budget import set_by

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.store.base import CostBreakdown
    from config.merge import Effective


@dataclass(frozen=True, slots=True)
class Scope:
    """One budget scope of a run (repository, organization, requester) and its month so far."""

    title: str
    key: str  # the config key of its monthly cap
    costs: CostBreakdown
    held_usd: float  # what running runs still hold of their reserved caps


def _usd(value: float) -> str:
    return f"${value:.4f}"


def budget_report(scopes: Sequence[Scope], *, effective: Effective, now: float) -> str:
    budget, sources = effective.config.budget, effective.sources
    month = time.strftime("%Y-%m", time.gmtime(now))
    lines = [
        f"Spend in {month} (UTC calendar month), from the ledger:",
        "",
        "| scope | reported | priced | unknown | held by running runs | monthly cap | left |",
        "|---|---|---|---|---|---|---|",
    ]
    for scope in scopes:
        cap = getattr(budget, scope.key.removeprefix("budget."))
        c = scope.costs
        if cap is None:
            cap_text, left = "no cap", "no cap"
        else:
            cap_text = f"{_usd(cap)} ({set_by(scope.key, sources)})"
            left = _usd(max(cap - c.known_usd - scope.held_usd, 0.0))
        lines.append(
            f"| {scope.title} | {_usd(c.reported_usd)} | {_usd(c.priced_usd)} | "
            f"{c.unknown_runs} run{'s' if c.unknown_runs != 1 else ''} | "
            f"{_usd(scope.held_usd)} | {cap_text} | {left} |"
        )
    per_run = (
        f"{_usd(budget.per_run_usd)} ({set_by('budget.per_run_usd', sources)})"
        if budget.per_run_usd is not None
        else "none (turned off by the org)"
    )
    floor = f"{_usd(budget.min_run_usd)} ({set_by('budget.min_run_usd', sources)})"
    notes = [
        "",
        f"Per-run cap: {per_run}; an agent's own `max_cost_usd` may be lower.",
        f"A run starts only if every capped scope has at least {floor} left.",
    ]
    if budget.approve_above_usd is not None:
        notes.append(
            f"Runs whose cap is above {_usd(budget.approve_above_usd)} wait for `approve` "
            f"({set_by('budget.approve_above_usd', sources)})."
        )
    notes.append(
        "Costs the agent's CLI reported and costs priced from the token counts are shown apart; "
        "unknown costs are not counted in what is left."
    )
    return "\n".join(lines + notes)
