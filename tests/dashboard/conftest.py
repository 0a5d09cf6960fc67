"""The stack every dashboard test signs in to: the emulator and Baton in one process (GitHub's
calls go straight to the emulator's app), no sandbox, one attempt per job."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from bot.stack import Stack

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from starlette.applications import Starlette


def in_process(app: Starlette) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=app)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    settings = {"sandbox": "none", "job_max_attempts": "1"}
    async with Stack(workdir=tmp_path, settings=settings, github_transport=in_process) as running:
        yield running
