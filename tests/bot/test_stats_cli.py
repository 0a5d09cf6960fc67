"""`baton stats [--json]` as a user runs it, and the revert facts the `pull` job records, both on
a real SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.pulljob import record_reverts
from bot.pullnote import REVERT, PullNote
from bot.store.sqlite import SQLiteStore
from tests.bot.scoreboard.helpers import DAY, REPO, merged, opened, pushed, run


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Two runs of `claude`: one PR merged, one run failed; where `main()` finds them."""
    for key in list(os.environ):
        if key.startswith("BATON_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "baton.db"

    async def seed() -> None:
        async with await SQLiteStore.open(str(path)) as store:
            await store.save_run(run("r1", pr_number=7, cost_usd=0.3))
            await store.save_run(run("r2", status="failed", cost_usd=0.1, created_at=1.0))
            for fact in (opened(7), merged(7, DAY)):
                await store.add_pull_event(fact)

    asyncio.run(seed())
    return path


def test_stats_prints_the_scoreboard_and_what_it_counts(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["AGENT", "runs", "PRs", "merged"]
    assert lines[1].split()[:4] == ["claude", "2", "1", "1"]
    assert "$0.4000" in lines[1]  # both runs' cost over the one merged PR
    assert "Drafts are left out until they are ready" in out


def test_stats_json_has_each_runs_own_figures(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--json", "--repo", REPO]) == 0
    data = json.loads(capsys.readouterr().out)
    [agent] = data["by_agent"]
    assert (agent["merge_rate"], agent["cost_per_merged_pr_usd"]) == (1.0, pytest.approx(0.4))
    runs = {r["run_id"]: r for r in data["runs"]}
    assert (runs["r1"]["opened_pr"], runs["r1"]["pr_state"]) == (True, "merged")
    assert runs["r2"]["pr_number"] is None


@pytest.mark.parametrize("days", ["0", "-3", "nan", "week"])
def test_a_window_of_no_days_is_refused(
    db: Path, days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["stats", "--window-days", days])
    assert stopped.value.code == 2
    assert "is not a number of days above 0" in capsys.readouterr().err


def test_stats_without_a_database_says_so_and_makes_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATON_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    assert main(["stats"]) == 1
    assert capsys.readouterr().err.startswith("baton: ")
    assert not (tmp_path / "none.db").exists()


def revert_note(*, numbers: tuple[int, ...] = (), shas: tuple[str, ...] = ()) -> PullNote:
    where = {
        "delivery_id": "d",
        "installation_id": 1,
        "repo": REPO,
        "owner": "o",
        "name": "r",
        "clone_url": "http://x/o/r.git",
        "default_branch": "main",
    }
    return PullNote(
        **where,
        number=0,
        kind=REVERT,
        at=2 * DAY,
        key="revert:9",
        data={"by": f"{REPO}#9", "revert_number": 9},
        reverts_numbers=numbers,
        reverts_shas=shas,
    )


@pytest.mark.anyio
async def test_a_revert_marks_the_prs_it_names_once(tmp_path: Path) -> None:
    async with await SQLiteStore.open(str(tmp_path / "b.db")) as store:
        pushed_head = pushed(2, 5.0, "cafe0002", by_baton=True)
        facts = [opened(1), merged(1, DAY, "beef0001"), opened(2), pushed_head, merged(2, DAY)]
        for fact in facts:
            await store.add_pull_event(fact)
        assert await record_reverts(store, revert_note(numbers=(1, 3))) == [1]
        assert await record_reverts(store, revert_note(shas=("cafe000",))) == [2]
        assert await record_reverts(store, revert_note(numbers=(1,))) == [1]  # again: one fact
        reverted = [e for e in await store.pull_events(repo=REPO) if e.kind == "reverted"]
        assert [(e.number, e.data["by"]) for e in reverted] == [(1, f"{REPO}#9"), (2, f"{REPO}#9")]
