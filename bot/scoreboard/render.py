"""The scoreboard as people read it: a Markdown reply, terminal text, and JSON (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.render import format_duration

if TYPE_CHECKING:
    from bot.scoreboard.compute import Figures, Row, Scoreboard

HEADERS = (
    "runs",
    "PRs",
    "merged",
    "closed unmerged",
    "open",
    "merge rate",
    "zero-touch",
    "first-try CI",
    "review rounds",
    "reverted ≤14d",
    "median to merge",
    "cost / merged PR",
)
DAY_S = 24 * 3600.0
NONE = "-"  # no figure: nothing to count yet


def _pct(rate: float | None, part: int, whole: int) -> str:
    return NONE if rate is None else f"{rate:.0%} ({part}/{whole})"


def _days(seconds: float) -> str:
    days = seconds / DAY_S
    return f"{days:g} day" + ("" if days == 1 else "s")


def cells(f: Figures) -> list[str]:
    rounds = f.mean_review_rounds
    per_merged = f.cost_per_merged_usd
    cost = NONE if per_merged is None else f"${per_merged:.4f}"
    if f.unknown_cost_runs:
        cost += f" ({f.unknown_cost_runs} unknown)"
    return [
        str(f.runs),
        str(f.opened),
        str(f.merged),
        str(f.closed_unmerged),
        str(f.still_open) + (f" ({f.drafts} draft)" if f.drafts else ""),
        _pct(f.merge_rate, f.counted_merged, f.counted),
        _pct(f.zero_touch_rate, f.zero_touch, f.counted_merged),
        _pct(f.ci_first_rate, f.ci_first_pass, f.ci_first_known),
        NONE if rounds is None else f"{rounds:.1f}",
        _pct(f.revert_rate, f.reverted, f.revert_known),
        NONE if f.median_time_to_merge_s is None else format_duration(f.median_time_to_merge_s),
        cost,
    ]


def note(board: Scoreboard) -> str:
    """What the rates count and leave out, said wherever the scoreboard is shown."""
    untracked = (
        f" {board.untracked_prs} PRs opened before Baton heard their outcomes are left out."
        if board.untracked_prs
        else ""
    )
    return (
        "Rates count only pull requests old enough to have an outcome: merged or closed, or "
        f"open and ready for review for more than {_days(board.window_s)}. Drafts are left out "
        "until they are ready. Zero-touch: merged with no commit pushed by a person; reverts "
        "count once a merge is 14 days old or reverted. Cost per merged PR counts every run's "
        "cost, failed, stopped and refused-after-start runs included (those on PRs left out "
        f"wait with them).{untracked}"
    )


def _key(row: Row, *, grouped: bool) -> list[str]:
    return [row.agent, row.label or "(command)", row.repo] if grouped else [row.agent]


@dataclass(frozen=True, slots=True)
class TableRow:
    """A row as a page lays it out: its key (agent; or agent, label, repository), its cells."""

    key: tuple[str, ...]
    cells: tuple[str, ...]


def table_rows(rows: tuple[Row, ...], *, grouped: bool) -> list[TableRow]:
    """The rows for a page's table, under `HEADERS` (the dashboard's scoreboard)."""
    return [TableRow(tuple(_key(r, grouped=grouped)), tuple(cells(r.figures))) for r in rows]


def markdown(board: Scoreboard, *, title: str = "Agent scoreboard") -> str:
    if not board.by_agent:
        return f"**{title}**: no agent has run here yet."

    def table(rows: tuple[Row, ...], keys: list[str], *, grouped: bool) -> list[str]:
        head = [*keys, *HEADERS]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in rows:
            values = [f"`{v}`" if i == 0 else v for i, v in enumerate(_key(row, grouped=grouped))]
            lines.append("| " + " | ".join([*values, *cells(row.figures)]) + " |")
        return lines

    return "\n".join(
        [
            f"**{title}**",
            "",
            *table(board.by_agent, ["agent"], grouped=False),
            "",
            "By agent, label and repository:",
            "",
            *table(board.by_agent_label_repo, ["agent", "label", "repository"], grouped=True),
            "",
            f"_{note(board)}_",
        ]
    )


def text(board: Scoreboard) -> str:
    """Aligned columns for a terminal."""
    if not board.by_agent:
        return "no agent has run yet\n"

    def table(rows: tuple[Row, ...], keys: list[str], *, grouped: bool) -> list[str]:
        grid = [[*keys, *HEADERS]]
        grid += [[*_key(r, grouped=grouped), *cells(r.figures)] for r in rows]
        widths = [max(len(line[i]) for line in grid) for i in range(len(grid[0]))]
        return [
            "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
            for line in grid
        ]

    lines = [
        *table(board.by_agent, ["AGENT"], grouped=False),
        "",
        *table(board.by_agent_label_repo, ["AGENT", "LABEL", "REPOSITORY"], grouped=True),
        "",
        note(board),
    ]
    return "\n".join(lines) + "\n"


def _figures_json(f: Figures) -> dict[str, Any]:
    return {
        "runs": f.runs,
        "prs_opened": f.opened,
        "merged": f.merged,
        "closed_unmerged": f.closed_unmerged,
        "still_open": f.still_open,
        "open_drafts": f.drafts,
        "counted": f.counted,
        "counted_merged": f.counted_merged,
        "merge_rate": f.merge_rate,
        "zero_touch_merges": f.zero_touch,
        "zero_touch_rate": f.zero_touch_rate,
        "first_try_ci_pass": f.ci_first_pass,
        "first_try_ci_known": f.ci_first_known,
        "first_try_ci_rate": f.ci_first_rate,
        "mean_review_rounds": f.mean_review_rounds,
        "reverted_within_14_days": f.reverted,
        "revert_counted": f.revert_known,
        "revert_rate": f.revert_rate,
        "median_time_to_merge_s": f.median_time_to_merge_s,
        "cost_usd": round(f.cost_usd, 6),
        "cost_runs": f.cost_runs,
        "unknown_cost_runs": f.unknown_cost_runs,
        "cost_per_merged_pr_usd": f.cost_per_merged_usd,
    }


def as_json(board: Scoreboard) -> dict[str, Any]:
    return {
        "window_s": board.window_s,
        "note": note(board),
        "untracked_prs": board.untracked_prs,
        "by_agent": [{"agent": r.agent, **_figures_json(r.figures)} for r in board.by_agent],
        "by_agent_label_repo": [
            {"agent": r.agent, "label": r.label, "repo": r.repo, **_figures_json(r.figures)}
            for r in board.by_agent_label_repo
        ],
    }
