"""Every request the scripted model server saw, with secrets removed, for tests to read."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from adapters.modelserver.scenarios import Tokens

SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie", "proxy-authorization"}
)
SECRET_QUERY = frozenset({"key", "api_key"})


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names; secret values replaced by "<redacted>"
    body: Any  # parsed JSON, or None
    scenario: str  # the scenario's name
    outcome: str  # "reply" | "tool_call" | "error" | "hang" | "other"
    usage: Tokens | None  # what the answer reported, when it was a reply
    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name.lower(): "<redacted>" if name.lower() in SECRET_HEADERS else value
        for name, value in headers.items()
    }


def redact_query(query: Mapping[str, str]) -> dict[str, str]:
    return {name: "<redacted>" if name in SECRET_QUERY else value for name, value in query.items()}


@dataclass(slots=True)
class Recorder:
    """Thread-safe: the server may run in another thread than the test reading it."""

    _items: list[RecordedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def model_requests(self, *, scenario: str | None = None) -> list[RecordedRequest]:
        """Requests that asked a model for an answer (POSTs), optionally of one scenario."""
        return [
            r
            for r in self.requests
            if r.method == "POST" and (scenario is None or r.scenario == scenario)
        ]

    @property
    def first_request_at(self) -> float | None:
        """time.monotonic() when the first model request arrived (None before any)."""
        posts = self.model_requests()
        return posts[0].at if posts else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def now() -> tuple[float, float]:
    return time.monotonic(), time.time()
