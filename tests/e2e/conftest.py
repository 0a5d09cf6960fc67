"""End-to-end fixtures: a local GitHub emulator and a Baton server, per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.stack import Stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with Stack(workdir=tmp_path, settings={"job_max_attempts": "3"}) as running:
        yield running
