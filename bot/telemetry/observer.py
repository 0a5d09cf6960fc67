"""Who hears a run's events as they are logged: the one hook of telemetry in the run engine
(`RunState.event` calls `on_event` after the store has the event)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from adapters.base import RunStatus

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from bot.store.base import RunRecord
    from bot.telemetry.tally import Tally


class RunObserver(Protocol):
    def on_event(self, rec: RunRecord, kind: str, data: Mapping[str, object], /) -> None:
        """Called in the run's own task; must not block or raise."""
        ...


class NoObserver:
    def on_event(self, rec: RunRecord, kind: str, data: Mapping[str, object], /) -> None:
        del rec, kind, data


class Observers:
    """Several observers as one."""

    def __init__(self, observers: Sequence[RunObserver]) -> None:
        self._observers = tuple(observers)

    def on_event(self, rec: RunRecord, kind: str, data: Mapping[str, object], /) -> None:
        for observer in self._observers:
            observer.on_event(rec, kind, data)


# The statuses an agent's own process ends with when it brought no result.
_AGENT_ENDINGS = frozenset(
    {RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.BUDGET, RunStatus.CANCELLED}
)


class FailureCounter:
    """Counts agent processes that ended without a result: the `ended` event an attempt logs
    right after its agent (marked `stage: agent`)."""

    def __init__(self, tally: Tally) -> None:
        self._tally = tally

    def on_event(self, rec: RunRecord, kind: str, data: Mapping[str, object], /) -> None:
        if kind != "ended" or data.get("stage") != "agent":
            return
        status = str(data.get("status", ""))
        if status in _AGENT_ENDINGS:
            self._tally.agent_failure(agent=rec.agent or "none", status=status)
