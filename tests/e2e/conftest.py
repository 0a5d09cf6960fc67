"""End-to-end fixtures: a local GitHub emulator and a Baton server, per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.toolchain import install
from bot.stack import Stack
from tests.e2e.real_agents import MODELS, PREFIX


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with Stack(workdir=tmp_path, settings={"job_max_attempts": "3"}) as running:
        yield running


@pytest.fixture(scope="session")
def installed() -> Path:
    """The pinned CLIs in the project-local prefix (installed once, then reused)."""
    asyncio.run(install(list(MODELS), PREFIX))
    return PREFIX
