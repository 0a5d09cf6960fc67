"""The dashboard's pure parts: timeline lines, chart geometry, spend sums, budgets, filters."""

from __future__ import annotations

from bot.dashboard import charts, filters, spend, timeline
from bot.dashboard.pages import duration, money
from bot.dashboard.session import Viewer
from bot.store.base import BudgetCap, RunEvent
from bot.store.views import SpendRow
from tests.store.conftest import utc

NOW = utc(2027, 3, 15)


def ev(seq: int, kind: str, at: float = 0.0, **data: object) -> RunEvent:
    return RunEvent(run_id="r1", seq=seq, time=100.0 + at, kind=kind, data=dict(data))


def row(
    repo: str = "acme/app",
    agent: str = "claude",
    cost: float | None = 1.0,
    *,
    at: float = NOW,
    who: str = "ann",
    source: str = "reported",
) -> SpendRow:
    return SpendRow(
        repo=repo, agent=agent, requester=who, created_at=at, cost_usd=cost, cost_source=source
    )


def test_a_timeline_reads_as_what_happened_with_offsets_from_the_start() -> None:
    events = [
        ev(1, "queued", requester="ann", trigger="label", verb="fix"),
        ev(2, "started", 1.5, agent="claude", adapter="claude-code", model="m", attempt=1),
        ev(3, "tool", 3.0, tool="Bash", input="pytest", ok=False, text="Bash pytest (failed)"),
        ev(4, "policy", 9.0, ok=False, reason="protected path", files=2),
        ev(5, "ended", 9.5, status="failed", reason="protected path"),
    ]
    rows = timeline.rows(events)
    assert [(r.offset_s, r.tone) for r in rows] == [
        (0.0, ""),
        (1.5, ""),
        (3.0, "bad"),
        (9.0, "bad"),
        (9.5, "bad"),
    ]
    assert rows[0].text == "queued by ann (label fix)"
    assert rows[1].text == "agent claude started (claude-code, model m, attempt 1)"
    assert rows[3].text == "policy check stopped the push: protected path"
    assert timeline.ended(events)
    assert not timeline.ended(events[:4])


def test_every_text_shown_passes_the_mask() -> None:
    events = [ev(1, "turn", turn=1, text="key sk-SECRET"), ev(2, "brief", text="sk-SECRET")]

    def mask(text: str) -> str:
        return text.replace("sk-SECRET", "***")

    assert "sk-SECRET" not in " ".join(r.text for r in timeline.rows(events, mask=mask))
    assert timeline.agent_log(events, mask=mask) == ["key ***"]
    assert timeline.brief(events, mask=mask) == "***"
    assert timeline.brief(events[:1]) is None


def test_the_agent_log_keeps_the_last_lines_the_cli_streamed() -> None:
    events = [ev(i, "tool", text=f"line {i}") for i in range(1, 61)]
    events.insert(0, ev(0, "policy", ok=True))  # not the agent's
    assert timeline.agent_log(events) == [f"line {i}" for i in range(21, 61)]


def test_bars_are_scaled_to_the_largest_and_ordered_by_size() -> None:
    chart = charts.bars("t", [("b", 1.0), ("a", 4.0), ("c", 0.0)], fmt=money)
    assert [b.label for b in chart.bars] == ["a", "b", "c"]
    assert [b.width for b in chart.bars] == [charts.BAR_W, charts.BAR_W / 4, 0.0]
    assert chart.bars[1].text == "$1.0000"
    assert charts.bars("t", [], fmt=money).empty
    assert not chart.more


def test_bars_past_the_limit_are_said_not_dropped() -> None:
    items = [(f"acme/r{n:02d}", float(n)) for n in range(1, 16)]
    chart = charts.bars("t", items, fmt=money, limit=12)
    assert [b.label for b in chart.bars][:2] == ["acme/r15", "acme/r14"]
    assert len(chart.bars) == 12
    assert chart.more == "and 3 more, $6.0000 together"  # r01, r02 and r03


def test_columns_keep_their_order_and_say_when_there_is_nothing() -> None:
    chart = charts.columns("t", [("2027-01", 0.0), ("2027-02", 2.0)], fmt=money)
    assert [b.label for b in chart.bars] == ["2027-01", "2027-02"]
    assert chart.bars[1].height == charts.COL_AREA_H
    assert chart.bars[0].height == 0
    assert not chart.empty
    assert charts.columns("t", [("2027-01", 0.0)], fmt=money).empty


def test_spend_sums_known_costs_by_agent_repo_and_month_and_counts_the_unknown() -> None:
    rows = [
        row(cost=1.0),
        row(agent="codex", cost=0.5, source="priced"),
        row(repo="acme/lib", cost=2.0, at=utc(2027, 2, 28, 23, 59)),
        row(cost=None),
        row(cost=9.0, at=utc(2026, 1, 1)),  # before the 12 months shown
    ]
    s = spend.summarise(rows, now=NOW)
    assert s.by_agent == [("claude", 12.0), ("codex", 0.5)]
    assert s.by_repo == [("acme/app", 10.5), ("acme/lib", 2.0)]
    assert s.by_month[-2:] == [("2027-02", 2.0), ("2027-03", 1.5)]
    assert s.by_month[0][0] == "2026-04"
    assert (s.runs, s.unknown) == (5, 1)
    assert s.by_source == {"reported": 12.0, "priced": 0.5}


def test_budgets_show_what_is_left_this_month_to_those_who_may_see_them() -> None:
    rows = [row(cost=30.0), row(cost=5.0, at=utc(2027, 2, 1)), row(repo="acme/lib", cost=60.0)]
    caps = [
        BudgetCap(scope="repo", name="acme/app", limit_usd=100.0, source="repo", seen_at=0),
        BudgetCap(scope="repo", name="acme/lib", limit_usd=50.0, source="org", seen_at=0),
        BudgetCap(scope="org", name="acme", limit_usd=500.0, source="org", seen_at=0),
        BudgetCap(scope="repo", name="acme/none", limit_usd=None, source="-", seen_at=0),
    ]
    ann = Viewer(login="ann", repos=frozenset({"acme/app"}))
    [line] = spend.budget_lines(caps, rows, now=NOW, viewer=ann)
    assert (line.scope, line.spent_usd, line.left_usd) == ("acme/app", 30.0, 70.0)
    ops = spend.budget_lines(caps, rows, now=NOW, viewer=Viewer(login="ops", repos=None))
    assert [(b.scope, b.left_usd, b.used_fraction) for b in ops] == [
        ("acme (org)", 410.0, 0.18),
        ("acme/app", 70.0, 0.3),
        ("acme/lib", 0.0, 1.0),
    ]


def test_filters_read_the_form_and_keep_the_viewers_repositories() -> None:
    ann = Viewer(login="ann", repos=frozenset({"acme/app"}))
    chosen = filters.parse(
        {
            "agent": " claude ",
            "status": "failed",
            "since": "2027-03-01",
            "until": "2027-03-02",
            "page": "3",
        },
        ann,
    )
    q = chosen.query
    assert (q.agent, q.status, q.repos, q.offset) == ("claude", "failed", ann.repos, 50)
    assert (q.since, q.until) == (utc(2027, 3, 1), utc(2027, 3, 3))
    bad = filters.parse({"status": "weird", "since": "yesterday", "page": "x"}, ann)
    assert (bad.query.status, bad.query.since, bad.page) == (None, None, 1)
    assert len(bad.problems) == 2
    assert filters.page_link({"agent": "claude", "repo": ""}, 2) == "/runs?agent=claude&page=2"


def test_values_are_shown_as_people_read_them() -> None:
    assert (money(None), money(0.01342)) == ("unknown", "$0.0134")
    assert [duration(d) for d in (None, 5.25, 65, 3725)] == ["\u2013", "5.2s", "1m 05s", "1h 02m"]


def test_the_workspace_event_says_where_the_run_starts_from() -> None:
    [row] = timeline.rows([ev(1, "workspace", head="0123456789abcdef", branch="baton/1-x")])
    assert row.text == "worktree on baton/1-x from 0123456789 (the live check run's)"
