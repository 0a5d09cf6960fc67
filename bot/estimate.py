"""What runs like this one cost and took here, from the ledger (pure): an estimate shown when a
run starts, never presented as a price."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.budget import percentile
from bot.render import format_duration

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.ledger import RunRecord

MIN_RUNS = 5  # fewer say too little to show
WINDOW = 20  # the newest runs alike that the estimate reads


def alike_text(*, label: str, verb: str, command: str) -> str:
    return f"`{label}`" if label else f"`{command} {verb}`"


def estimate_text(rows: Sequence[RunRecord], *, agent: str, alike: str) -> str:
    """p50 and p90 of the cost and duration of `rows` (ended runs of `agent` here, alike),
    or "no history yet" with fewer than MIN_RUNS."""
    costs = [r.cost_usd for r in rows if r.cost_usd is not None]
    durations = [r.duration_s for r in rows if r.duration_s is not None]
    if min(len(costs), len(durations)) < MIN_RUNS:
        return (
            f"Estimate: no history yet (fewer than {MIN_RUNS} earlier runs of `{agent}` for "
            f"{alike} on this repository)."
        )
    return (
        f"Estimate from the last {len(rows)} runs of `{agent}` for {alike} on this repository "
        "(what runs like this one cost and took here; not a price): cost p50 "
        f"${percentile(costs, 0.5):.4f}, p90 ${percentile(costs, 0.9):.4f}; duration p50 "
        f"{format_duration(percentile(durations, 0.5))}, p90 "
        f"{format_duration(percentile(durations, 0.9))}."
    )
