"""Charts as values: the geometry of a bar chart in SVG units, computed here and drawn by a
template macro (`templates/charts.html`), so what a chart shows is tested without a browser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

ROW_H = 28
LABEL_W = 190
BAR_W = 380
VALUE_W = 110
COL_W = 44
COL_AREA_H = 180


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown beside the bar
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    width: float
    height: float
    bars: tuple[Bar, ...]
    horizontal: bool
    empty: str = ""  # what the chart says when there is nothing to draw
    more: str = ""  # what the chart says of the items past its limit, if any


def _scale(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    return top if top > 0 else 1.0


def bars(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    fmt: Callable[[float], str],
    limit: int = 12,
    empty: str = "No runs with a known cost yet.",
) -> Chart:
    """Horizontal bars, largest first, one row each: label, bar, value."""
    ranked = sorted(items, key=lambda kv: (-kv[1], kv[0]))
    shown, rest = ranked[:limit], ranked[limit:]
    top = _scale([v for _, v in shown])
    out = tuple(
        Bar(
            label=label,
            value=value,
            text=fmt(value),
            x=LABEL_W,
            y=i * ROW_H + 4,
            width=max(2.0, BAR_W * value / top) if value > 0 else 0.0,
            height=ROW_H - 8,
        )
        for i, (label, value) in enumerate(shown)
    )
    return Chart(
        title=title,
        width=LABEL_W + BAR_W + VALUE_W,
        height=max(1, len(out)) * ROW_H + 4,
        bars=out,
        horizontal=True,
        empty=empty if not out else "",
        more=f"and {len(rest)} more, {fmt(sum(v for _, v in rest))} together" if rest else "",
    )


def columns(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    fmt: Callable[[float], str],
    empty: str = "No runs with a known cost yet.",
) -> Chart:
    """Vertical columns in the order given (months, oldest first), each with its value on top."""
    top = _scale([v for _, v in items])
    out = tuple(
        Bar(
            label=label,
            value=value,
            text=fmt(value),
            x=i * (COL_W + 16) + 10,
            y=24 + COL_AREA_H - (COL_AREA_H * value / top),
            width=COL_W,
            height=COL_AREA_H * value / top,
        )
        for i, (label, value) in enumerate(items)
    )
    width = max(1, len(out)) * (COL_W + 16) + 20
    has_any = any(v > 0 for _, v in items)
    return Chart(
        title=title,
        width=width,
        height=COL_AREA_H + 60,
        bars=out,
        horizontal=False,
        empty="" if has_any else empty,
    )
