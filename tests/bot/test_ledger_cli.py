"""`baton runs [--json]`, `baton runs show RUN_ID [--json]` and `baton spend`, as a user runs
them: the ledger's rows and a run's timeline, read from the server's database."""

from __future__ import annotations

import asyncio
import calendar
import io
import json
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.ledger_cli import event_summary, print_spend
from bot.store.base import BudgetCap, RunRecord
from bot.store.sqlite import SQLiteStore
from config.settings import load_settings

T0 = float(calendar.timegm((2027, 1, 31, 23, 59, 59)))


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A database with two runs (r2 with a timeline), where `main()` finds it."""
    for key in list(os.environ):
        if key.startswith("BATON_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "baton.db"

    async def seed() -> None:
        async with await SQLiteStore.open(str(path), clock=lambda: T0 + 0.25) as store:
            base = RunRecord(
                id="r1",
                job_id=1,
                repo="acme/app",
                number=3,
                trigger="label",
                verb="fix",
                requester="ann",
                status="succeeded",
                created_at=T0,
                agent="claude",
                model="claude-sonnet-4-5",
                cost_usd=0.0134,
                cost_source="reported",
                duration_s=75.0,
            )
            await store.save_run(base)
            await store.save_run(
                base.with_(
                    id="r2",
                    job_id=2,
                    created_at=T0 + 60,
                    status="failed",
                    cost_usd=None,
                    error="agent timed out",
                )
            )
            await store.append_event("r2", "queued", {"job": 2})
            await store.append_event("r2", "agent_started", {"agent": "claude", "note": "a b"})
            await store.append_event("r2", "ended", {"outcome": "failed", "detail": "x" * 100})

    asyncio.run(seed())
    return path


def test_runs_prints_the_newest_first(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "RUN",
        "WHEN",
        "TARGET",
        "AGENT",
        "MODEL",
        "STATUS",
        "DURATION",
        "COST",
    ]
    assert [line.split()[0] for line in lines[1:]] == ["r2", "r1"]
    assert lines[2].endswith("1m15s  $0.0134 (reported)")


def test_runs_json_is_a_list_of_the_ledgers_rows(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--json", "--limit", "1"]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert (run["id"], run["repo"], run["status"], run["error"]) == (
        "r2",
        "acme/app",
        "failed",
        "agent timed out",
    )
    assert run["cost_usd"] is None
    assert set(run) >= {"job_id", "number", "agent", "model", "created_at", "comment_id"}


def test_runs_show_prints_the_facts_and_one_line_per_event(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "show", "r2"]) == 0
    out = capsys.readouterr().out
    head, timeline = out.split("timeline:\n")
    assert head.startswith("run r2: acme/app#3\n")
    assert "  status             failed\n" in head
    assert "  error              agent timed out\n" in head
    assert "  created            2027-02-01 00:00:59.000 UTC\n" in head
    assert "  cost               unknown\n" in head
    assert timeline.splitlines() == [
        "  2027-01-31 23:59:59.250  queued           job=2",
        '  2027-01-31 23:59:59.250  agent_started    agent=claude note="a b"',
        "  2027-01-31 23:59:59.250  ended            outcome=failed detail=" + "x" * 59 + "…",
    ]


def test_runs_show_json_is_the_run_with_its_events(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "show", "r2", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert (run["id"], run["status"]) == ("r2", "failed")
    assert [(e["seq"], e["kind"], e["time"]) for e in run["events"]] == [
        (1, "queued", T0 + 0.25),
        (2, "agent_started", T0 + 0.25),
        (3, "ended", T0 + 0.25),
    ]
    assert run["events"][0]["data"] == {"job": 2}
    # `--json` before the action means the same.
    assert main(["runs", "--json", "show", "r2"]) == 0
    assert json.loads(capsys.readouterr().out) == run


def test_a_run_without_events_shows_an_empty_timeline(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "show", "r1"]) == 0
    assert capsys.readouterr().out.endswith("timeline: no events\n")


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_an_unknown_run_is_exit_1_with_what_to_do(
    db: Path, capsys: pytest.CaptureFixture[str], json_flag: list[str]
) -> None:
    assert main(["runs", "show", "r99", *json_flag]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "baton: there is no run 'r99' in the ledger (`baton runs` lists them)\n"


def test_runs_show_where_there_is_no_database_creates_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    assert main(["runs", "show", "r1"]) == 1
    assert "there is no database at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_spend_counts_the_last_second_of_january_in_january(db: Path) -> None:
    out = io.StringIO()
    assert print_spend(load_settings(), repo=None, out=out, now=T0 - 86400) == 0
    text = out.getvalue()
    assert text.startswith(
        "2027-01 (UTC) spend for all repositories: $0.0134 reported and priced over 1 runs\n"
    )
    assert text.splitlines()[2].split() == ["acme/app", "1", "$0.0134", "$0.0000", "0",
                                            "$0.0134", "-", "-"]  # fmt: skip
    out = io.StringIO()
    assert print_spend(load_settings(), repo="acme/app", out=out, now=T0 + 1) == 0
    assert out.getvalue().startswith(
        "2027-02 (UTC) spend for acme/app: $0.0000 reported and priced over 1 runs; 1 with "
        "unknown cost, not counted\n"
    )


def seed_more(path: Path) -> None:
    """February: a priced run by bob in another org, and the caps its runs saw."""

    async def seed() -> None:
        async with await SQLiteStore.open(str(path)) as store:
            await store.save_run(
                RunRecord(
                    id="r3", job_id=3, repo="beta/lib", number=1, trigger="command", verb="fix",
                    requester="bob", status="success", created_at=T0 + 120, agent="codex",
                    cost_usd=0.5, cost_source="priced",
                )
            )  # fmt: skip
            for scope, name, limit in (("repo", "acme/app", 2.0), ("org", "beta", 1.0)):
                cap = BudgetCap(scope=scope, name=name, limit_usd=limit, source="repo file",
                                seen_at=T0)  # fmt: skip
                await store.record_cap(cap)

    asyncio.run(seed())


@pytest.mark.parametrize(
    ("by", "rows"),
    [
        ("repo", [["beta/lib", "1", "$0.0000", "$0.5000", "0", "$0.5000", "-", "-"],
                  ["acme/app", "1", "$0.0000", "$0.0000", "1", "$0.0000", "$2.0000",
                   "$2.0000"]]),
        ("org", [["beta", "1", "$0.0000", "$0.5000", "0", "$0.5000", "$1.0000", "$0.5000"],
                 ["acme", "1", "$0.0000", "$0.0000", "1", "$0.0000", "-", "-"]]),
        ("agent", [["codex", "1", "$0.0000", "$0.5000", "0", "$0.5000", "-", "-"],
                   ["claude", "1", "$0.0000", "$0.0000", "1", "$0.0000", "-", "-"]]),
        ("requester", [["bob", "1", "$0.0000", "$0.5000", "0", "$0.5000", "-", "-"],
                       ["ann", "1", "$0.0000", "$0.0000", "1", "$0.0000", "-", "-"]]),
    ],
)  # fmt: skip
def test_spend_by_each_grouping_keeps_sources_apart_with_caps_and_what_is_left(
    db: Path, capsys: pytest.CaptureFixture[str], by: str, rows: list[list[str]]
) -> None:
    seed_more(db)
    assert main(["spend", "--by", by, "--month", "2027-02"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "2027-02 (UTC) spend for all repositories: $0.5000 reported and priced over 2 runs; 1 "
        "with unknown cost, not counted"
    )
    assert [line.split() for line in lines[2:4]] == rows
    assert lines[4].split() == ["total", "2", "$0.0000", "$0.5000", "1", "$0.5000"]


def test_spend_by_month_covers_every_month_and_json_is_one_object(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_more(db)
    assert main(["spend", "--by", "month"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("every month (UTC) spend for all repositories: $0.5134")
    assert [line.split()[:2] for line in lines[2:4]] == [["2027-01", "1"], ["2027-02", "2"]]
    assert main(["spend", "--by", "org", "--month", "2027-02", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["month"], data["by"], data["repo"]) == ("2027-02", "org", None)
    assert data["rows"][0] == {
        "key": "beta", "runs": 1, "reported_usd": 0.0, "priced_usd": 0.5, "unknown_runs": 0,
        "total_usd": 0.5, "cap_usd": 1.0, "cap_source": "repo file", "left_usd": 0.5,
    }  # fmt: skip


def test_spend_with_a_bad_month_says_so(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spend", "--month", "January"]) == 2
    assert capsys.readouterr().err == (
        "baton spend: --month 'January' is not a month like 2027-01\n"
    )


def test_an_event_summary_is_one_line_of_key_value_pairs() -> None:
    assert event_summary({}) == ""
    assert event_summary({"n": 3, "ok": True, "who": "ann", "note": "two words", "empty": ""}) == (
        'n=3 ok=true who=ann note="two words" empty=""'
    )
    assert event_summary({"usage": {"in": 10, "out": 2}}) == 'usage={"in":10,"out":2}'
