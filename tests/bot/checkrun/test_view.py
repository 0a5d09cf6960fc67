"""The live check run as a view of the run's events: its state, its text, when it may change."""

from __future__ import annotations

from typing import Any

import pytest

from bot.checkrun.view import LiveView, apply, check_state, due, interval, output


def view_of(*events: tuple[str, dict[str, Any], float]) -> LiveView:
    view = LiveView(run_id="r7")
    for kind, data, at in events:
        view = apply(view, kind, data, at)
    return view


STARTED = ("started", {"agent": "claude", "model": "sonnet"}, 100.0)
WORKSPACE = ("workspace", {"head": "abc123"}, 101.0)
AGENT: tuple[str, dict[str, Any], float] = ("agent_started", {}, 102.0)


def test_queued_until_the_agent_starts_then_in_progress() -> None:
    assert check_state(view_of(STARTED, WORKSPACE)) == ("queued", None)
    assert check_state(view_of(STARTED, WORKSPACE, AGENT)) == ("in_progress", None)
    assert view_of(STARTED, WORKSPACE).head_sha == "abc123"
    # A CLI that never says it started is at work from its brief or its first report.
    for kind in ("brief", "usage", "tool"):
        assert check_state(view_of(STARTED, WORKSPACE, (kind, {}, 103.0))) == ("in_progress", None)


@pytest.mark.parametrize(
    ("status", "conclusion", "headline"),
    [
        ("success", "success", "done"),
        ("failed", "failure", "failed"),
        ("timed_out", "timed_out", "timed out"),
        ("cancelled", "cancelled", "cancelled"),
        ("stopped_at_budget", "action_required", "stopped at budget"),
    ],
)
def test_each_end_concludes_as_github_shows_it(status: str, conclusion: str, headline: str) -> None:
    ended = ("ended", {"status": status, "reason": "why it ended"}, 160.0)
    view = view_of(STARTED, WORKSPACE, AGENT, ended)
    assert check_state(view) == ("completed", conclusion)
    title, summary = output(view, now=999.0)
    assert title == f"claude · {headline} · 1m00s · unknown yet"  # elapsed stops at the end
    assert summary.endswith("why it ended")


def test_the_summary_has_elapsed_time_tokens_cost_and_the_last_tool_call() -> None:
    tokens = {"input_tokens": 1200, "output_tokens": 340}
    usage = ("usage", {"usage": tokens, "cost_usd": 0.0087}, 110.0)
    tool = ("tool", {"tool": "bash", "text": "bash pytest -q (ok)"}, 111.0)
    view = view_of(STARTED, WORKSPACE, AGENT, usage, ("turn", {"turn": 3}, 112.0), tool)
    title, summary = output(view, now=130.0)
    assert title == "claude · working · 30.0s · $0.0087"
    assert "| tokens | 1,200 in / 340 out |" in summary
    assert "| cost so far | $0.0087 |" in summary
    assert "| turns | 3 |" in summary
    assert "| last tool call | `bash pytest -q (ok)` |" in summary


def test_an_agents_tool_call_cannot_write_markdown_into_the_summary() -> None:
    text = "curl `x`\n![p](http://evil.example/?k=1) " + "y" * 300
    _, summary = output(view_of(("tool", {"text": text}, 1.0)), now=2.0)
    line = next(x for x in summary.splitlines() if x.startswith("| last tool call"))
    assert line.count("`") == 2  # one code span: nothing inside it is rendered
    assert "\n" not in line
    assert len(line) < 160


def test_updates_come_every_five_seconds_at_first_then_less_often() -> None:
    view = view_of(STARTED)
    assert interval(view, now=110.0) == 5.0
    assert interval(view, now=100.0 + 240) == 20.0
    assert interval(view, now=100.0 + 3600) == 60.0
    assert due(view, sent=None, last_sent_at=None, now=101.0)
    later = apply(view, "pr_opened", {"url": "https://x/pull/1"}, 105.0)
    assert not due(later, sent=view, last_sent_at=104.0, now=108.0)
    assert due(later, sent=view, last_sent_at=104.0, now=109.0)
    working = apply(view, "agent_started", {}, 104.5)
    assert due(working, sent=view, last_sent_at=104.0, now=104.5)  # queued -> in progress
    ended = apply(view, "ended", {"status": "failed"}, 109.5)
    assert due(ended, sent=view, last_sent_at=109.0, now=109.5)  # the end never waits
