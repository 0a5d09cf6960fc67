"""The one grouped scan behind /metrics' run counters and histograms, for both stores: the SQL
(counts into buckets are `SUM(CASE ...)` columns, the bounds parameters) and its rows read back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.store.views import TOKEN_KINDS, RunTally

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

UNFINISHED = ("queued", "running")


def tally_query(
    placeholder: str, *, duration_buckets: Sequence[float], cost_buckets: Sequence[float]
) -> tuple[str, tuple[object, ...]]:
    """The statement with `placeholder` (`?` or `%s`) for each parameter, and its parameters."""
    tokens = ", ".join(f"SUM({kind}_tokens)" for kind in TOKEN_KINDS)
    under = ", SUM(CASE WHEN {} <= " + placeholder + " THEN 1 ELSE 0 END)"
    under_d = "".join(under.format("duration_s") for _ in duration_buckets)
    under_c = "".join(under.format("cost_usd") for _ in cost_buckets)
    sql = (
        f"SELECT agent, status, COUNT(*), {tokens}, "  # noqa: S608 - constant fragments
        "COUNT(duration_s), COALESCE(SUM(duration_s), 0), COUNT(cost_usd), "
        f"COALESCE(SUM(cost_usd), 0){under_d}{under_c} FROM runs "
        f"WHERE status NOT IN ({placeholder}, {placeholder}) "
        "GROUP BY agent, status ORDER BY agent, status"
    )
    return sql, (*duration_buckets, *cost_buckets, *UNFINISHED)


def tallies(rows: Iterable[Sequence[Any]], *, duration_buckets: int) -> list[RunTally]:
    """The scan's rows as tallies (`duration_buckets`: how many duration bounds it counted)."""
    out = []
    n, nd = len(TOKEN_KINDS), duration_buckets
    for row in rows:
        agent, status, runs = row[0], row[1], int(row[2])
        kinds = row[3 : 3 + n]
        d_count, d_sum, c_count, c_sum = row[3 + n : 7 + n]
        counts = [int(v or 0) for v in row[7 + n :]]
        out.append(
            RunTally(
                agent=agent,
                status=status,
                runs=runs,
                tokens={k: int(v or 0) for k, v in zip(TOKEN_KINDS, kinds, strict=True)},
                duration_count=int(d_count),
                duration_sum=float(d_sum),
                duration_le=tuple(counts[:nd]),
                cost_count=int(c_count),
                cost_sum=float(c_sum),
                cost_le=tuple(counts[nd:]),
            )
        )
    return out
