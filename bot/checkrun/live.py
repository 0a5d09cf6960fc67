"""The run's live Baton check run, kept up to date off the agent's path.

`LiveCheck.observe` is called with each event the run appends (cheap, never waits for GitHub);
a task of its own creates the check run once the run has a commit to start from (the
`workspace` event), then sends the view when it changed and an update is due, and concludes it
when the run ends. GitHub being slow or down delays the check run, never the agent. A job run
again (a retry, a restart) finds its check run in the event log and carries on with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Protocol

from bot.checkrun.view import (
    MIN_INTERVAL_S,
    LiveView,
    apply,
    check_state,
    due,
    interval,
    output,
)
from bot.github import GitHubError

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.store.base import RunEvent, Store

log = logging.getLogger(__name__)


class Sender(Protocol):
    """Where the check run goes (GitHub, through `bot.gh`; a recorder in tests)."""

    async def create(
        self, *, head_sha: str, status: str, title: str, summary: str, external_id: str
    ) -> int: ...

    async def update(
        self, check_id: int, *, status: str, conclusion: str | None, title: str, summary: str
    ) -> None: ...

    async def find(self, *, head_sha: str, external_id: str) -> int | None:
        """The check run an earlier attempt made for this run (its `external_id`)."""
        ...


class LiveCheck:
    def __init__(
        self,
        *,
        run_id: str,
        store: Store,
        send: Sender,
        clock: Callable[[], float] = time.time,
        least_interval_s: float = MIN_INTERVAL_S,
    ) -> None:
        self._least_s = least_interval_s
        self._store = store
        self._send = send
        self._clock = clock
        self._view = LiveView(run_id=run_id)
        self._sent: LiveView | None = None
        self._sent_at: float | None = None
        self._failed_at: float | None = None
        self._check_id: int | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Until the log is read back, what is observed waits here (it may be in that read).
        self._pending: list[RunEvent] | None = []
        self._ended = False  # the run's end was observed (maybe not folded in yet)
        self._closing = False  # the job is done with this run: send the end, if any, and stop

    @property
    def check_id(self) -> int | None:
        return self._check_id

    def observe(self, event: RunEvent) -> None:
        """One event the run appended: fold it in, and wake the sender."""
        self._ended = self._ended or event.kind == "ended"
        if self._task is None and event.kind not in {"workspace", "ended"}:
            # Nothing to show before the run has a commit (the log keeps it for later); at the
            # end, an earlier attempt's check run may wait for its conclusion.
            return
        if self._pending is not None:
            self._pending.append(event)
        else:
            self._view = apply(self._view, event.kind, event.data, event.time)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    async def close(self, *, timeout_s: float = 30.0) -> None:
        """Send what is left (the end, if the run ended) and stop; a check run GitHub cannot
        take now is left as it was (logged). Never waits longer than `timeout_s` (a second
        when the run did not end: a retried job or a shutdown carries on with it later)."""
        task = self._task
        if task is None:
            return
        self._closing = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=timeout_s if self._ended else 1.0)
        if not done:
            task.cancel()
            # A cancel swallowed on the way (a library's cancel scope) must not hold the job.
            await asyncio.wait({task}, timeout=1.0)

    async def _recover(self) -> None:
        """The run's log so far (an earlier attempt's too), then what was observed meanwhile;
        and the check run an earlier attempt made, when one had a commit to make it on."""
        pending = self._pending or []
        first_seen = pending[0].seq if pending else 0
        view, last, earlier_head = LiveView(run_id=self._view.run_id), 0, ""
        for event in await self._store.events(view.run_id):
            view, last = apply(view, event.kind, event.data, event.time), event.seq
            if event.seq < first_seen and view.head_sha:
                earlier_head = view.head_sha
        for event in self._pending or []:
            if event.seq > last:
                view = apply(view, event.kind, event.data, event.time)
        self._view, self._pending = view, None
        if earlier_head:
            # Only a retried job gets here: one call to find what it may have made.
            try:
                self._check_id = await self._send.find(
                    head_sha=earlier_head, external_id=view.run_id
                )
            except GitHubError as exc:
                log.warning("the live check run of %s was not found: %s", view.run_id, exc)

    async def _run(self) -> None:
        await self._recover()
        while True:
            if self._closing and not self._ended:
                return
            view, now = self._view, self._clock()
            if view == self._sent or not view.head_sha:
                if view.ended and (view == self._sent or not view.head_sha):
                    return  # concluded, or ended before it had a commit to show on
                await self._wait(None)
                continue
            every = interval(view, now, least_s=self._least_s)
            if self._failed_at is not None and now - self._failed_at < every:
                await self._wait(self._failed_at + every - now)
                continue
            sent, last = self._sent, self._sent_at
            if not due(view, sent=sent, last_sent_at=last, now=now, least_s=self._least_s):
                assert last is not None
                await self._wait(last + every - now)
                continue
            try:
                await self._push(view, now)
            except GitHubError as exc:
                log.warning("the live check run of %s was not updated: %s", view.run_id, exc)
                if view.ended:
                    return
                self._failed_at = now  # try again once an update would be due
            else:
                self._failed_at = None

    async def _wait(self, timeout_s: float | None) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout_s)

    async def _push(self, view: LiveView, now: float) -> None:
        status, conclusion = check_state(view)
        title, summary = output(view, now)
        if self._check_id is None:
            # Made queued, as GitHub shows a check that waits; the next update starts it.
            queued_title, queued_summary = output(
                LiveView(run_id=view.run_id, agent=view.agent, model=view.model), now
            )
            self._check_id = await self._send.create(
                head_sha=view.head_sha,
                status="queued",
                title=queued_title,
                summary=queued_summary,
                external_id=view.run_id,
            )
            if status == "queued":
                self._sent, self._sent_at = view, now
                return
        await self._send.update(
            self._check_id, status=status, conclusion=conclusion, title=title, summary=summary
        )
        self._sent, self._sent_at = view, now
