"""The runner: a real loopback port, hangs that end when the server stops, the thread mode."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from adapters.modelserver import Hang, HttpError, ModelServer

pytestmark = pytest.mark.anyio


async def test_serves_on_a_free_loopback_port_and_records_the_first_request() -> None:
    async with ModelServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.port > 0
        key = server.register(HttpError(status=500, name="boom"))
        before = time.monotonic()
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await http.post(
                "/v1/messages", json={"messages": []}, headers={"x-api-key": key}
            )
        assert response.status_code == 500
        first = server.recorder.first_request_at
        assert first is not None
        assert before <= first <= time.monotonic()
        assert [r.scenario for r in server.recorder.model_requests()] == ["boom"]


async def test_hang_never_answers_and_does_not_hold_up_shutdown() -> None:
    server = ModelServer(default=Hang())
    await server.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=5.0) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1/responses", json={"input": []}, timeout=0.3)
        pending = asyncio.ensure_future(http.post("/v1/chat/completions", json={"messages": []}))
        while len(server.recorder.requests) < 2:  # noqa: ASYNC110 - the recorder has no event
            await asyncio.sleep(0.01)
        assert not pending.done()
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < 1.5
        response = await pending  # released by the stop, not by a timeout
        assert response.status_code == 503
    assert [r.outcome for r in server.recorder.requests] == ["hang", "hang"]


def test_in_thread_serves_synchronous_callers() -> None:
    server = ModelServer()
    with server.in_thread() as running:
        response = httpx.post(
            f"{running.url}/v1/messages",
            json={"model": "m", "messages": [], "tools": [{"name": "Write"}]},
            headers={"x-api-key": "sk-scn-edit"},
        )
        assert response.json()["content"][0]["name"] == "Write"
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{running.url}/v1/messages", json={})
