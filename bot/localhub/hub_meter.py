"""The hub's meter: calls counted per installation, rate-limit windows, and injected faults."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

DEFAULT_RATE_LIMIT = 5000
RATE_WINDOW_S = 3600


@dataclass(frozen=True, slots=True)
class CallStats:
    total: int
    counted_against_rate_limit: int
    not_modified_304: int
    by_route: dict[str, int]


@dataclass
class _Counter:
    total: int = 0
    counted: int = 0
    not_modified: int = 0
    by_route: dict[str, int] = field(default_factory=dict)


@dataclass
class RateWindow:
    limit: int
    used: int = 0
    reset: float = 0.0


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int | None
    remaining: int
    delay_s: float


class Meter:
    """What the HTTP layer records and consults on every request; thread-safe."""

    def __init__(self, *, rate_limit: int = DEFAULT_RATE_LIMIT) -> None:
        self.rate_limit = rate_limit
        self._stats: dict[int, _Counter] = {}
        self._rates: dict[str, RateWindow] = {}
        self._faults: list[Fault] = []
        self._meter_lock = threading.Lock()

    def record_call(
        self, installation_id: int | None, route: str, *, counted: bool, not_modified: bool
    ) -> None:
        if installation_id is None:
            return
        with self._meter_lock:
            c = self._stats.setdefault(installation_id, _Counter())
            c.total += 1
            c.counted += counted
            c.not_modified += not_modified
            c.by_route[route] = c.by_route.get(route, 0) + 1

    def calls(self, installation_id: int) -> CallStats:
        c = self._stats.get(installation_id, _Counter())
        return CallStats(c.total, c.counted, c.not_modified, dict(c.by_route))

    def rate(self, key: str) -> RateWindow:
        now = time.time()
        with self._meter_lock:
            window = self._rates.get(key)
            if window is None or window.reset <= now:
                window = RateWindow(limit=self.rate_limit, reset=now + RATE_WINDOW_S)
                self._rates[key] = window
            return window

    def add_fault(
        self,
        method: str,
        path_regex: str,
        *,
        status: int | None = 502,
        count: int = 1,
        delay_s: float = 0.0,
    ) -> None:
        """The next `count` matching requests wait `delay_s`, then fail with `status` (None:
        then proceed normally, which is how a slow GitHub or a client timeout is provoked)."""
        self._faults.append(Fault(method.upper(), re.compile(path_regex), status, count, delay_s))

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._meter_lock:
            for fault in self._faults:
                if fault.method in {method, "*"} and fault.path.search(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear_faults(self) -> None:
        self._faults.clear()
