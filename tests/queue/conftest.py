"""Fixtures of the queue tests: one `backend` per JobQueue implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.postgres import database
from tests.queue.backends import Backend, PostgresBackend, SQLiteBackend


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made: Backend
    if request.param == "sqlite":
        made = SQLiteBackend(path=tmp_path / "baton.db")
        yield made
        await made.close()
        return
    with database() as url:
        made = PostgresBackend(url=url)
        await made.open()
        yield made
        await made.close()
