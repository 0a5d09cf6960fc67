"""The SQLite store beside the job queue on one file: both write at once and nothing is lost;
readers never create a database; the synchronous Ledger shim sees the same rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.database import open_database
from bot.ledger import Ledger
from bot.queue import NewJob, SQLiteJobQueue
from bot.store import StoreError
from bot.store.sqlite import SQLiteStore
from tests.store.conftest import record

pytestmark = pytest.mark.anyio


async def test_the_queue_on_the_loop_and_the_store_on_its_thread_write_at_once(
    tmp_path: Path,
) -> None:
    conn = open_database(str(tmp_path / "baton.db"))
    queue = SQLiteJobQueue(conn)
    try:
        async with await SQLiteStore.open(str(tmp_path / "baton.db")) as store:
            submits = [queue.submit(NewJob(task="run"), delivery_id=f"d{i}") for i in range(50)]
            appends = [store.append_event("r1", "tick", {"i": i}) for i in range(50)]
            saves = [store.save_run(record(id=f"r{i}")) for i in range(50)]
            await asyncio.gather(*submits, *appends, *saves)
            assert [e.seq for e in await store.events("r1")] == list(range(1, 51))
            assert len(await store.recent_runs(limit=100)) == 50
        assert len(await queue.list_jobs()) == 50
    finally:
        conn.close()


async def test_a_reader_finds_no_database_instead_of_making_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="there is no database at"):
        await SQLiteStore.open(f"sqlite:///{tmp_path / 'absent.db'}", create=False)
    assert list(tmp_path.iterdir()) == []


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = await SQLiteStore.open(str(tmp_path / "baton.db"))
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        await store.get_run("r1")


async def test_the_ledger_shim_and_the_store_share_rows(tmp_path: Path) -> None:
    conn = open_database(str(tmp_path / "baton.db"))
    try:
        ledger = Ledger(conn)
        ledger.save(record(comment_id=5, cost_usd=1.5))
        async with await SQLiteStore.open(str(tmp_path / "baton.db")) as store:
            assert await store.get_run("r1") == record(comment_id=5, cost_usd=1.5)
            await store.save_run(record(id="r2", cost_usd=2.0, created_at=2.0))
        assert [r.id for r in ledger.recent()] == ["r2", "r1"]
        assert ledger.spend(since=0.0, owner="o") == 3.5
    finally:
        conn.close()
