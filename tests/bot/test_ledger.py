"""The ledger keeps each run's row; a status comment, once made, is never lost to a writer that
had not seen it (the acknowledgement of a waiting run and the run itself both write the row)."""

from __future__ import annotations

from pathlib import Path

from bot.database import open_database
from bot.ledger import Ledger, RunRecord


def record(**changes: object) -> RunRecord:
    base = RunRecord(id="r1", job_id=1, repo="o/r", number=3, trigger="label", verb="fix",
                     requester="octocat", status="queued", created_at=1.0)  # fmt: skip
    return base.with_(**changes)


def test_a_comment_id_survives_a_save_that_had_not_seen_it(tmp_path: Path) -> None:
    ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'b.db'}"))
    ledger.save(record(comment_id=42))
    ledger.save(record(status="running", agent="claude"))  # the run's own copy, without it
    row = ledger.get("r1")
    assert row is not None
    assert (row.status, row.agent, row.comment_id) == ("running", "claude", 42)


def test_only_its_comment_leaves_a_started_run_alone(tmp_path: Path) -> None:
    ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'b.db'}"))
    ledger.save(record(status="running", agent="claude", started_at=5.0))
    ledger.save(record(comment_id=7), only_its_comment=True)
    row = ledger.get("r1")
    assert row is not None
    assert (row.status, row.agent, row.started_at, row.comment_id) == ("running", "claude", 5.0, 7)
    # A new row is written whole.
    ledger.save(record(id="r2", comment_id=8), only_its_comment=True)
    assert ledger.get("r2") == record(id="r2", comment_id=8)
