"""Fixtures of the queue tests: one `backend` per JobQueue implementation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.queue.backends import Backend, SQLiteBackend


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made: Backend
    if request.param == "sqlite":
        made = SQLiteBackend(path=tmp_path / "baton.db")
    else:  # pragma: no cover - each backend added above gets its branch
        raise ValueError(request.param)
    yield made
    made.close()
