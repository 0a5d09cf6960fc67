"""Fixtures of the store tests: one `backend` per Store implementation, and a clock to set."""

from __future__ import annotations

import calendar
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.store.base import RunRecord
from tests.postgres import database
from tests.store.backends import PostgresBackend, SQLiteBackend, StoreBackend


def record(**changes: object) -> RunRecord:
    """A ledger row with the given fields changed."""
    base = RunRecord(
        id="r1",
        job_id=1,
        repo="o/r",
        number=3,
        trigger="label",
        verb="fix",
        requester="octocat",
        status="queued",
        created_at=1.0,
    )
    return base.with_(**changes)


def utc(*when: int) -> float:
    """Epoch seconds of a UTC calendar time: `utc(2027, 1, 31, 23, 59, 59)`."""
    year, month, day, hour, minute, second = (*when, 0, 0, 0)[:6]
    return float(calendar.timegm((year, month, day, hour, minute, second)))


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreBackend]:
    made: StoreBackend
    if request.param == "sqlite":
        made = SQLiteBackend(path=tmp_path / "baton.db")
        yield made
        await made.close()
        return
    with database() as url:
        made = PostgresBackend(url=url)
        yield made
        await made.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()
