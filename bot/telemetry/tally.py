"""Counts a process keeps between flushes to the store: GitHub calls, the rate limit GitHub
reports, and agent processes that failed. The process serving `/metrics` reads every process's
flushed counts from the store (see `bot.telemetry.metrics` for why the store and not
prometheus-client's multiprocess files)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from bot.store.views import labels_key

if TYPE_CHECKING:
    from bot.store.base import Store

log = logging.getLogger(__name__)
FLUSH_S = 5.0
GITHUB_CALLS = "baton_github_api_calls_total"
RATE_REMAINING = "baton_github_rate_limit_remaining"
AGENT_FAILURES = "baton_agent_process_failures_total"


class Tally:
    """In-memory, synchronous to add to (called on the hot path), flushed in one transaction."""

    def __init__(self) -> None:
        self._add: dict[tuple[str, str], float] = defaultdict(float)
        self._low: dict[tuple[str, str], float] = {}

    def github_call(
        self, *, method: str, status: str, resource: str, installation: str, remaining: int | None
    ) -> None:
        self._add[(GITHUB_CALLS, labels_key({"method": method, "status": status}))] += 1
        if remaining is not None:
            labels = {"resource": resource, "installation": installation}
            key = (RATE_REMAINING, labels_key(labels))
            # The lowest seen since the last flush: answers can arrive out of order.
            self._low[key] = min(self._low.get(key, float(remaining)), float(remaining))

    def agent_failure(self, *, agent: str, status: str) -> None:
        self._add[(AGENT_FAILURES, labels_key({"agent": agent, "status": status}))] += 1

    async def flush(self, store: Store) -> None:
        if not self._add and not self._low:
            return
        add, low = dict(self._add), dict(self._low)
        self._add.clear()
        self._low.clear()
        try:
            await store.record_metrics(add=add, set_to=low)
        except Exception:
            # Counts are not worth a run: put them back for the next flush and say so.
            for key, value in add.items():
                self._add[key] += value
            log.warning("could not record metrics in the store; will try again", exc_info=True)

    async def flush_every(self, store: Store, interval_s: float = FLUSH_S) -> None:
        """Flush until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(interval_s)
                await self.flush(store)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush(store))
