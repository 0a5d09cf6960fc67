"""The scoreboard's figures per agent and per agent x label x repository, and what they count."""

from __future__ import annotations

import pytest

from bot.scoreboard.compute import Figures, scoreboard
from bot.scoreboard.facts import fold
from bot.store.base import RunRecord
from bot.store.pulls import PullEvent, PullEventKind
from tests.bot.scoreboard.helpers import (
    DAY,
    REPO,
    checked,
    closed,
    fact,
    merged,
    opened,
    pushed,
    run,
)

NOW = 100 * DAY
WEEK = 7 * DAY


def figures_of(runs: list[RunRecord], events: list[PullEvent], *, agent: str = "claude") -> Figures:
    board = scoreboard(runs, fold(events), now=NOW, window_s=WEEK)
    [row] = [r for r in board.by_agent if r.agent == agent]
    return row.figures


def test_merge_rate_zero_touch_and_cost_per_merged_pr_follow_the_facts() -> None:
    runs = [
        run("r1", pr_number=1, cost_usd=1.0),  # merged untouched
        run("r2", pr_number=2, cost_usd=2.0),  # merged after a person's commit
        run("r3", pr_number=3, cost_usd=3.0),  # closed unmerged
        run("r4", status="failed", cost_usd=0.5),  # failed: no PR, its cost still counts
        run("r5", status="stopped_at_budget", cost_usd=1.5),
    ]
    events = [
        opened(1),
        merged(1, DAY),
        opened(2),
        pushed(2, 1.0, "p", by_baton=False),
        merged(2, DAY),
        opened(3),
        closed(3, DAY),
    ]
    f = figures_of(runs, events)
    assert (f.runs, f.opened, f.merged, f.closed_unmerged, f.still_open) == (5, 3, 2, 1, 0)
    assert f.merge_rate == pytest.approx(2 / 3)
    assert f.zero_touch_rate == pytest.approx(1 / 2)
    assert f.cost_per_merged_usd == pytest.approx((1 + 2 + 3 + 0.5 + 1.5) / 2)


def test_an_open_pr_counts_once_it_is_older_than_the_window() -> None:
    runs = [run("r1", pr_number=1, cost_usd=4.0), run("r2", pr_number=2, cost_usd=8.0)]
    young, old = opened(1, NOW - WEEK + 1), opened(2, NOW - WEEK - 1)
    f = figures_of(runs, [young, old])
    assert (f.opened, f.still_open, f.counted, f.counted_merged) == (2, 2, 1, 0)
    assert f.merge_rate == 0.0
    # The young PR's run waits with it: its cost is not yet in the figures.
    assert (f.cost_runs, f.cost_usd) == (1, 8.0)


def test_drafts_are_left_out_until_they_are_ready() -> None:
    runs = [run("r1", pr_number=1), run("r2", pr_number=2), run("r3", pr_number=3)]
    events = [
        opened(1, 0.0, draft=True),  # an old draft: still left out
        opened(2, 0.0, draft=True),
        closed(2, DAY),  # closed before it was ever ready: left out too
        opened(3, 0.0, draft=True),
        fact(PullEventKind.READY, 3, NOW - WEEK - 1),
    ]
    f = figures_of(runs, events)
    assert (f.opened, f.still_open, f.drafts, f.closed_unmerged) == (3, 2, 1, 1)
    assert f.counted == 1  # only the one ready for longer than the window
    assert f.cost_runs == 1


def test_first_try_ci_reviews_reverts_and_time_to_merge() -> None:
    runs = [run(f"r{n}", pr_number=n) for n in (1, 2, 3)]
    events = [
        opened(1, 0.0, head="a"),
        checked("a", 1.0, "pass"),
        fact(PullEventKind.REVIEWED, 1, 2.0, commit="a", state="approved"),
        merged(1, 100.0),
        opened(2, 0.0, head="b"),
        checked("b", 1.0, "fail"),
        merged(2, 300.0),
        fact(PullEventKind.REVERTED, 2, 400.0, by=f"{REPO}#9"),
        opened(3, NOW - DAY, head="c"),  # merged yesterday: its 14 days are not over
        merged(3, NOW - DAY + 200.0),
    ]
    f = figures_of(runs, events)
    assert (f.ci_first_pass, f.ci_first_known) == (1, 2)
    assert f.mean_review_rounds == pytest.approx(1 / 3)
    assert (f.reverted, f.revert_known) == (1, 2)
    assert f.median_time_to_merge_s == 200.0


def test_a_pr_counts_for_the_agent_that_opened_it_and_each_run_for_its_own() -> None:
    runs = [
        run("r1", pr_number=1, agent="claude", cost_usd=1.0),
        run("r2", pr_number=1, agent="codex", cost_usd=2.0, created_at=5.0),  # a retry
    ]
    board = scoreboard(runs, fold([opened(1), merged(1, DAY)]), now=NOW, window_s=WEEK)
    claude, codex = board.by_agent
    assert (claude.agent, claude.figures.merged, claude.figures.cost_usd) == ("claude", 1, 1.0)
    assert (codex.agent, codex.figures.merged, codex.figures.cost_usd) == ("codex", 0, 2.0)
    assert codex.figures.cost_per_merged_usd is None


def test_rows_per_agent_label_and_repository() -> None:
    runs = [
        run("r1", pr_number=1, label="agent:fix"),
        run("r2", pr_number=2, label="agent:docs", repo="o/docs"),
    ]
    events = [opened(1), merged(1, DAY)]
    board = scoreboard(runs, fold(events), now=NOW, window_s=WEEK)
    assert [(r.agent, r.label, r.repo) for r in board.by_agent_label_repo] == [
        ("claude", "agent:docs", "o/docs"),
        ("claude", "agent:fix", REPO),
    ]
    assert [r.figures.merged for r in board.by_agent_label_repo] == [0, 1]
    # PR 2 (in o/docs) was opened before its webhooks were heard: in no figure, but said.
    assert board.untracked_prs == 1


def test_unknown_costs_are_counted_as_runs_and_said() -> None:
    runs = [run("r1", pr_number=1, cost_usd=None, cost_source="unknown")]
    f = figures_of(runs, [opened(1), merged(1, DAY)])
    assert (f.cost_runs, f.unknown_cost_runs, f.cost_per_merged_usd) == (1, 1, 0.0)


def test_runs_no_agent_took_up_and_running_runs_cost_nothing_yet() -> None:
    runs = [
        run("r1", agent="", status="refused", cost_usd=None),  # refused before it started
        run("r2", status="running", cost_usd=0.7),
    ]
    board = scoreboard(runs, {}, now=NOW, window_s=WEEK)
    [row] = board.by_agent
    assert (row.figures.runs, row.figures.cost_runs, row.figures.cost_usd) == (1, 0, 0.0)


def test_a_pr_kept_as_a_draft_at_the_budget_counts_for_the_agent_that_opened_it() -> None:
    runs = [
        # Stopped at its cap, its work kept in draft PR 1; another agent finished it.
        run("r1", pr_number=1, agent="claude", status="stopped_at_budget", cost_usd=4.0),
        run("r2", pr_number=1, agent="codex", created_at=5.0, cost_usd=1.0),
    ]
    events = [opened(1, draft=True), fact(PullEventKind.READY, 1, 6.0), merged(1, DAY)]
    board = scoreboard(runs, fold(events), now=NOW, window_s=WEEK)
    claude, codex = board.by_agent
    assert (claude.agent, claude.figures.opened, claude.figures.merged) == ("claude", 1, 1)
    assert claude.figures.cost_per_merged_usd == 4.0
    assert (codex.agent, codex.figures.opened, codex.figures.cost_usd) == ("codex", 0, 1.0)


def test_a_failed_retry_on_a_pr_waits_with_it_and_counts_once_it_has_an_outcome() -> None:
    runs = [
        run("r1", pr_number=1, cost_usd=1.0),
        # Asked for on PR 1 itself, it failed before delivering: no PR number of its own.
        run("r2", number=1, is_pull_request=True, status="failed", cost_usd=2.0, created_at=5.0),
    ]
    young = [opened(1, NOW - DAY)]
    f = figures_of(runs, young)
    assert (f.runs, f.cost_runs, f.cost_usd) == (2, 0, 0.0)
    f = figures_of(runs, [*young, merged(1, NOW - 1.0)])
    assert (f.cost_runs, f.cost_per_merged_usd) == (2, 3.0)


def test_runs_on_a_pr_whose_outcome_baton_never_heard_wait_with_it() -> None:
    runs = [run("r1", pr_number=1, cost_usd=5.0), run("r2", status="failed", cost_usd=1.0)]
    board = scoreboard(runs, {}, now=NOW, window_s=WEEK)
    [row] = board.by_agent
    assert board.untracked_prs == 1
    assert (row.figures.cost_runs, row.figures.cost_usd) == (1, 1.0)


def test_a_run_on_a_persons_pr_opened_nothing() -> None:
    runs = [run("r1", pr_number=7, number=7, is_pull_request=True, branch="fix-typo")]
    board = scoreboard(runs, {}, now=NOW, window_s=WEEK)
    [row] = board.by_agent
    assert board.untracked_prs == 0
    assert (row.figures.opened, row.figures.cost_runs, row.figures.cost_usd) == (0, 1, 1.0)
