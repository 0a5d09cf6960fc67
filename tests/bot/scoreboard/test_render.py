"""The scoreboard as a reply, terminal text and JSON: every figure, and what the rates count."""

from __future__ import annotations

from bot.scoreboard.compute import Scoreboard, scoreboard
from bot.scoreboard.facts import fold
from bot.scoreboard.render import as_json, markdown, text
from tests.bot.scoreboard.helpers import DAY, closed, merged, opened, run

NOW = 100 * DAY


def board() -> Scoreboard:
    runs = [run("r1", pr_number=1, cost_usd=1.5), run("r2", pr_number=2, cost_usd=0.5)]
    pulls = fold([opened(1), merged(1, 600.0), opened(2), closed(2, DAY)])
    return scoreboard(runs, pulls, now=NOW, window_s=3 * DAY)


def test_the_reply_is_a_table_per_agent_and_per_label_and_repository_with_the_note() -> None:
    reply = markdown(board())
    assert "| `claude` | 2 | 2 | 1 | 1 | 0 | 50% (1/2) | 100% (1/1) |" in reply
    assert "| `claude` | agent:fix | o/r | 2 |" in reply
    assert "$2.0000" in reply  # cost per merged PR: both runs over one merge
    assert "open and ready for review for more than 3 days" in reply
    assert "Drafts are left out until they are ready" in reply


def test_the_terminal_text_says_the_same() -> None:
    out = text(board())
    assert out.splitlines()[0].split()[:3] == ["AGENT", "runs", "PRs"]
    assert "50% (1/2)" in out
    assert "Drafts are left out" in out


def test_the_json_has_every_figure_and_the_note() -> None:
    data = as_json(board())
    [agent] = data["by_agent"]
    assert agent["merge_rate"] == 0.5
    assert agent["zero_touch_rate"] == 1.0
    assert agent["cost_per_merged_pr_usd"] == 2.0
    assert agent["median_time_to_merge_s"] == 600.0
    assert data["by_agent_label_repo"][0]["label"] == "agent:fix"
    assert "Drafts are left out" in data["note"]


def test_an_empty_scoreboard_says_so() -> None:
    empty = scoreboard([], {}, now=NOW)
    assert "no agent has run here yet" in markdown(empty)
    assert text(empty) == "no agent has run yet\n"
