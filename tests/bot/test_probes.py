"""`/healthz` says the process is up, cheaply; `/readyz` says it can do its work."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from bot.stack import Stack

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


async def test_ready_while_the_schema_is_this_batons_and_not_once_it_is_not(
    tmp_path: Path,
) -> None:
    async with Stack(workdir=tmp_path) as stack, httpx.AsyncClient(base_url=stack.baton_url) as c:
        assert (await c.get("/readyz")).json() == {"ready": True}
        health = (await c.get("/healthz")).json()
        assert health == {"ok": True, "queued": 0, "running": 0}
        # A newer Baton migrated the same database: this one must not take traffic.
        with sqlite3.connect(tmp_path / "baton.db") as db:
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'x', ?)",
                (time.time(),),
            )
        resp = await c.get("/readyz")
        assert resp.status_code == 503
        assert "baton db upgrade" in resp.json()["reason"]
        assert (await c.get("/healthz")).status_code == 200  # still alive, only not ready
