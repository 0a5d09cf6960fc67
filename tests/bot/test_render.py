"""What Baton writes on GitHub: provenance in the PR body, trailers, check run, status comment."""

from __future__ import annotations

import json
import re

from bot import render
from bot.ledger import RunRecord


def record(**kw: object) -> RunRecord:
    base: dict[str, object] = {
        "id": "r12", "job_id": 12, "repo": "acme/app", "number": 7, "trigger": "label",
        "verb": "fix", "requester": "alice", "status": "success", "created_at": 0.0,
        "agent": "claude", "adapter": "claude-code", "model": "claude-sonnet-4-5",
        "harness_version": "2.1.197", "input_tokens": 12000, "output_tokens": 800,
        "cache_read_tokens": 3000, "cost_usd": 0.0134, "cost_source": "reported",
        "duration_s": 83.2,
    }  # fmt: skip
    base.update(kw)
    return RunRecord(**base)  # type: ignore[arg-type]


def test_cost_formats_with_source() -> None:
    assert render.format_cost(0.0134, "reported") == "$0.0134 (reported)"
    assert (
        render.format_cost(1.5, "priced", "2026-11-01") == "$1.5000 (priced, table of 2026-11-01)"
    )
    assert render.format_cost(None, "unknown") == "unknown"


def test_pr_body_has_summary_fixes_table_and_marker() -> None:
    body = render.pr_body(summary="Fixed the adder.", issue_number=7, runs=[record()])
    assert body.startswith("Fixed the adder.")
    assert "Fixes #7" in body
    assert (
        "| `r12` | claude | claude-code 2.1.197 | claude-sonnet-4-5 | $0.0134 (reported) |" in body
    )
    marker = re.search(r"<!-- baton:provenance (.*) -->", body)
    assert marker is not None
    data = json.loads(marker.group(1))
    assert data["runs"][0]["cost_usd"] == 0.0134
    assert data["runs"][0]["agent"] == "claude"


def test_pr_body_totals_several_runs() -> None:
    runs = [record(), record(id="r13", agent="codex", cost_usd=0.02, cost_source="priced")]
    body = render.pr_body(summary="", issue_number=7, runs=runs)
    assert "**Total cost:** $0.0334" in body


def test_marker_survives_double_dash_in_values() -> None:
    body = render.pr_body(summary="x", issue_number=1, runs=[record(model="a--b")])
    marker = re.search(r"<!-- baton:provenance (.*) -->", body)
    assert marker is not None
    assert "--" not in marker.group(1)
    assert json.loads(marker.group(1))["runs"][0]["model"] == "a--b"


def test_commit_trailers() -> None:
    msg = render.commit_message(title="Adder subtracts", number=7, rec=record())
    assert msg.splitlines()[0] == "Adder subtracts (#7)"
    trailers = dict(line.split(": ", 1) for line in msg.strip().splitlines()[-4:])
    assert trailers == {
        "Agent": "claude",
        "Agent-Model": "claude-sonnet-4-5",
        "Agent-Cost-USD": "0.0134",
        "Baton-Run": "r12",
    }


def test_status_comment_carries_marker_and_facts() -> None:
    text = render.status_comment(record(), pr_url="http://x/pull/8")
    assert text.startswith(render.status_marker("r12"))
    assert "opened http://x/pull/8" in text
    assert "$0.0134 (reported)" in text
    assert "12,000 in / 800 out" in text
    assert "1m23s" in text


def test_check_run_output() -> None:
    title, summary = render.check_run_output(record())
    assert title == "claude · claude-sonnet-4-5 · $0.0134 (reported)"
    assert "| tokens | 12,000 in / 800 out / 3,000 cache read / 0 cache write |" in summary
