"""Catching up after downtime: `baton serve` asks GitHub, when it starts and then every
`BATON_REDELIVER_INTERVAL_S`, to redeliver the App's webhook deliveries that never reached it.

GitHub does not retry a failed delivery, so a label added while the server was down would
otherwise start nothing. The first look covers GitHub's whole redelivery window (deliveries
failed while Baton was up, with a 5xx or a timeout, need it as much as those sent while it was
down); later ones reach back to the previous look. Which deliveries are asked for is decided by
`bot.redelivery` (never one that succeeded); the delivery-id dedupe runs each at most once.
With several servers on one database, one of them looks at a time: the store's claim is held
from one look to the next, so the others skip theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.gh.deliveries import HookDelivery, deliveries, redeliver
from bot.gh.errors import GitHubError
from bot.redelivery import to_redeliver, window_s
from bot.store.db import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.gh.app import GitHubApp
    from bot.store.base import Store

log = logging.getLogger(__name__)
CLAIM_KEY = "deliveries:catch-up"
# A look reaches this far behind the previous one: attempts GitHub recorded while it ran.
OVERLAP_S = 600.0
FIRST_LOOK_AFTER_S = 1.0


@dataclass(frozen=True, slots=True)
class Look:
    """What one look did: the attempts it read and those it asked GitHub to redeliver."""

    read: int
    asked: tuple[HookDelivery, ...] = ()
    skipped: bool = False  # another server holds the claim


class CatchUp:
    """The periodic look; `start` runs it in the background, `stop` ends it."""

    def __init__(
        self,
        *,
        github: GitHubApp,
        store: Store,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._github = github
        self._store = store
        self._interval = interval_s
        self._window = window_s(github.base_url)
        self._clock = clock
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._previous: float | None = None
        # guid -> (redeliveries this process asked for, when last)
        self._asked: dict[str, tuple[int, float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def once(self) -> Look:
        now = self._clock()
        # Held until the next look is due, so another server does not look in between.
        if not await self._store.claim(CLAIM_KEY, self._owner, ttl_s=max(self._interval, 60.0)):
            return Look(read=0, skipped=True)
        first = self._previous is None
        since = now - self._window
        if self._previous is not None:
            since = max(since, self._previous - OVERLAP_S)
        attempts = await deliveries(self._github, since=since)
        asked_before = {guid: count for guid, (count, _) in self._asked.items()}
        asked = []
        for attempt in to_redeliver(attempts, requested=asked_before):
            try:
                await redeliver(self._github, attempt.id)
            except GitHubError as exc:
                log.warning("catch-up: redelivering %s (%s): %s", attempt.guid, attempt.what, exc)
                continue
            count = asked_before.get(attempt.guid, 0) + 1
            self._asked[attempt.guid] = (count, now)
            asked.append(attempt)
        self._previous = now
        self._asked = {g: v for g, v in self._asked.items() if v[1] > now - self._window}
        look = Look(read=len(attempts), asked=tuple(asked))
        _report(look, first=first, days=self._window / 86400)
        return look

    async def _loop(self) -> None:
        # The server binds its port just after its lifespan has started this task: what GitHub
        # redelivers must find it listening.
        await asyncio.sleep(FIRST_LOOK_AFTER_S)
        while True:
            try:
                await self.once()
            except (GitHubError, StoreError) as exc:
                log.warning("catch-up: %s; next look in %.0f s", exc, self._interval)
            except Exception:
                # The outermost boundary of this background task: a bug in one look is logged
                # with its traceback and the next look still happens.
                log.exception("catch-up: the look failed; next look in %.0f s", self._interval)
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        """Look now (in the background: startup does not wait for GitHub), then every interval;
        nothing when the interval is 0."""
        if self._interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._previous is None:
            return
        # The next server to start looks at once rather than after this one's hold expires.
        with contextlib.suppress(StoreError):
            await self._store.release(CLAIM_KEY, self._owner)


def _report(look: Look, *, first: bool, days: float) -> None:
    if look.asked:
        listed = ", ".join(f"{a.guid} ({a.what})" for a in look.asked)
        log.info(
            "catch-up: asked GitHub to redeliver %d deliveries that never reached Baton: %s",
            len(look.asked),
            listed,
        )
    elif first:
        log.info(
            "catch-up: nothing to redeliver among %d attempts of the last %g days",
            look.read,
            days,
        )
    else:
        log.debug("catch-up: nothing to redeliver (%d attempts read)", look.read)
