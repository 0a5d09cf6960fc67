"""What a process tallies between flushes: GitHub calls by method and status (errors too), the
lowest rate limit seen per installation, agent failures; a flush the store refuses keeps the
counts for the next; a rate limit not heard of for an hour is no longer shown."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx
import pytest
from starlette.responses import Response

from bot.store.views import MetricValue, labels_key
from bot.telemetry.intake import outcome
from bot.telemetry.tally import AGENT_FAILURES, GITHUB_CALLS, RATE_REMAINING, Tally
from bot.telemetry.transport import MeteredTransport

if TYPE_CHECKING:
    from collections.abc import Mapping

pytestmark = pytest.mark.anyio


class Recorder:
    """The part of a Store a tally writes to, refusing writes while `down`."""

    def __init__(self) -> None:
        self.added: dict[tuple[str, str], float] = {}
        self.set_to: dict[tuple[str, str], float] = {}
        self.down = False

    async def record_metrics(
        self,
        *,
        add: Mapping[tuple[str, str], float] | None = None,
        set_to: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        if self.down:
            raise OSError("the database is away")
        for key, value in (add or {}).items():
            self.added[key] = self.added.get(key, 0.0) + value
        self.set_to.update(set_to or {})

    async def metric_values(self) -> list[MetricValue]:
        return []


def github(status: int, remaining: str | None = None) -> httpx.MockTransport:
    headers = {"x-ratelimit-remaining": remaining} if remaining is not None else {}
    return httpx.MockTransport(lambda _request: httpx.Response(status, headers=headers))


async def test_calls_are_counted_with_the_lowest_remaining_rate_limit() -> None:
    tally = Tally()
    calls = (("GET", 200, "4990"), ("POST", 201, "4980"), ("GET", 200, "4985"), ("GET", 404, None))
    for method, status, remaining in calls:
        transport = MeteredTransport(github(status, remaining), tally)
        async with httpx.AsyncClient(transport=transport) as client:
            await client.request(method, "https://api.github.test/x")
    store = Recorder()
    await tally.flush(store)  # type: ignore[arg-type]
    assert store.added[(GITHUB_CALLS, labels_key({"method": "GET", "status": "200"}))] == 2
    assert store.added[(GITHUB_CALLS, labels_key({"method": "POST", "status": "201"}))] == 1
    assert store.added[(GITHUB_CALLS, labels_key({"method": "GET", "status": "404"}))] == 1
    assert store.set_to == {
        (RATE_REMAINING, labels_key({"resource": "core", "installation": "app"})): 4980.0
    }


async def test_each_installation_has_its_own_rate_limit() -> None:
    tally = Tally()
    app = MeteredTransport(github(200, "4000"), tally)
    assert app.for_installation(7) is app.for_installation(7)
    for transport in (app, app.for_installation(7), app.for_installation(8)):
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("https://api.github.test/x")
    busy = MeteredTransport(github(200, "12"), tally).for_installation(8)
    async with httpx.AsyncClient(transport=busy) as client:
        await client.get("https://api.github.test/x")
    store = Recorder()
    await tally.flush(store)  # type: ignore[arg-type]

    def remaining(whose: str) -> float:
        return store.set_to[
            (RATE_REMAINING, labels_key({"resource": "core", "installation": whose}))
        ]

    assert (remaining("app"), remaining("7"), remaining("8")) == (4000.0, 4000.0, 12.0)


async def test_a_call_that_never_got_an_answer_is_counted_and_still_fails() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    tally = Tally()
    transport = MeteredTransport(httpx.MockTransport(refuse), tally)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://api.github.test/x")
    store = Recorder()
    await tally.flush(store)  # type: ignore[arg-type]
    assert store.added == {(GITHUB_CALLS, labels_key({"method": "GET", "status": "error"})): 1}


async def test_a_refused_flush_keeps_the_counts_for_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Its own level: another test (the demo) may have quietened the `bot` loggers.
    caplog.set_level(logging.WARNING, logger="bot.telemetry.tally")
    tally = Tally()
    tally.agent_failure(agent="codex", status="failed")
    store = Recorder()
    store.down = True
    await tally.flush(store)  # type: ignore[arg-type]
    assert "could not record metrics" in caplog.text
    tally.agent_failure(agent="codex", status="failed")
    store.down = False
    await tally.flush(store)  # type: ignore[arg-type]
    assert store.added == {(AGENT_FAILURES, labels_key({"agent": "codex", "status": "failed"})): 2}
    await tally.flush(store)  # type: ignore[arg-type]
    assert store.added[(AGENT_FAILURES, labels_key({"agent": "codex", "status": "failed"}))] == 2


def test_what_intake_did_is_read_from_its_answer() -> None:
    said = [
        (Response(b'{"queued":[3]}', 202), "queued"),
        (Response(b'{"ignored":"x"}', 202), "ignored"),
        (Response(b'{"duplicate":true}', 202), "duplicate"),
        (Response(b'{"pong":true}', 200), "ping"),
        (Response(b"{}", 401), "bad_signature"),
        (Response(b"{}", 413), "too_large"),
        (Response(b"{}", 418), "http_418"),
    ]
    assert [outcome(response) for response, _ in said] == [name for _, name in said]
