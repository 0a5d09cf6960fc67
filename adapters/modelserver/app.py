"""The scripted model server's starlette app: routes per vendor API, scenario per key, recording."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from adapters.modelserver import anthropic, gemini, openai_chat, openai_responses
from adapters.modelserver.recorder import RecordedRequest, Recorder, now, redact, redact_query
from adapters.modelserver.scenarios import ScenarioBook, UnknownScenario
from adapters.modelserver.script import Conversation, Failure, Outcome, Reply, Stall, decide

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from starlette.requests import Request

SCENARIO_HEADER = "x-baton-scenario"
LISTED_MODELS = ("gpt-5", "gpt-5-codex", "gpt-5-mini", "scripted-model")
_SSE_HEADERS = {"cache-control": "no-cache"}


@dataclass(slots=True)
class ServerState:
    """What the routes share: the scenario book, the recorder, and the stop signal for hangs."""

    book: ScenarioBook
    recorder: Recorder
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


def api_key(request: Request) -> str | None:
    for header in ("x-api-key", "x-goog-api-key", "api-key"):
        if request.headers.get(header):
            return request.headers[header]
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.query_params.get("key")


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None


def _label(outcome: Outcome | None) -> str:
    if isinstance(outcome, Reply):
        return "tool_call" if outcome.calls else "reply"
    if isinstance(outcome, Failure):
        return "error"
    if isinstance(outcome, Stall):
        return "hang"
    return "other"


def _record(
    state: ServerState,
    request: Request,
    body: Any,
    arrived: tuple[float, float],
    *,
    scenario: str,
    outcome: Outcome | None,
) -> None:
    state.recorder.add(
        RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=redact_query(request.query_params),
            headers=redact(request.headers),
            body=body,
            scenario=scenario,
            outcome=_label(outcome),
            usage=outcome.usage if isinstance(outcome, Reply) else None,
            at=arrived[0],
            wall=arrived[1],
        )
    )


async def _stall(request: Request, stopping: asyncio.Event) -> Response:
    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    waiters = {asyncio.ensure_future(disconnected()), asyncio.ensure_future(stopping.wait())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return Response(status_code=503)


async def _aiter(chunks: Iterator[bytes]) -> Any:
    for chunk in chunks:
        yield chunk


def _sse(chunks: Iterator[bytes]) -> StreamingResponse:
    return StreamingResponse(_aiter(chunks), media_type="text/event-stream", headers=_SSE_HEADERS)


def _failure(failure: Failure, body: dict[str, Any]) -> JSONResponse:
    headers = {"retry-after": str(failure.retry_after_s)} if failure.retry_after_s else None
    return JSONResponse(body, status_code=failure.status, headers=headers)


async def _play(
    state: ServerState,
    request: Request,
    parse: Callable[[dict[str, Any]], Conversation],
    answer: Callable[[Reply, Conversation, dict[str, Any]], Response],
    error_body: Callable[[Failure], dict[str, Any]],
) -> Response:
    """One model request: pick the scenario, decide, record, then answer in the caller's dialect."""
    arrived = now()
    body = await _json(request)
    payload = body if isinstance(body, dict) else {}
    try:
        scenario = state.book.resolve(
            key=api_key(request), header=request.headers.get(SCENARIO_HEADER)
        )
    except UnknownScenario as exc:
        failure = Failure(401, str(exc))
        _record(state, request, body, arrived, scenario="unknown", outcome=failure)
        return _failure(failure, error_body(failure))
    convo = parse(payload)
    outcome = decide(scenario, convo)
    _record(state, request, body, arrived, scenario=scenario.name, outcome=outcome)
    if isinstance(outcome, Failure):
        return _failure(outcome, error_body(outcome))
    if isinstance(outcome, Stall):
        return await _stall(request, state.stopping)
    return answer(outcome, convo, payload)


def create_app(*, book: ScenarioBook, recorder: Recorder) -> Starlette:
    """The app; `app.state.model_server` is the `ServerState` (the runner sets `stopping`)."""
    state = ServerState(book=book, recorder=recorder)

    def anthropic_answer(reply: Reply, convo: Conversation, _: dict[str, Any]) -> Response:
        if convo.stream:
            return _sse(anthropic.stream(reply, convo.model))
        return JSONResponse(anthropic.render(reply, convo.model))

    def responses_answer(reply: Reply, convo: Conversation, body: dict[str, Any]) -> Response:
        custom = openai_responses.custom_tools(body)
        if convo.stream:
            return _sse(openai_responses.stream(reply, convo.model, custom))
        return JSONResponse(openai_responses.render(reply, convo.model, custom))

    def chat_answer(reply: Reply, convo: Conversation, body: dict[str, Any]) -> Response:
        params = openai_chat.text_parameters(body)
        if convo.stream:
            include = openai_chat.wants_usage(body)
            return _sse(
                openai_chat.stream(reply, convo.model, include_usage=include, text_params=params)
            )
        return JSONResponse(openai_chat.render(reply, convo.model, params))

    def gemini_answer(reply: Reply, convo: Conversation, _: dict[str, Any]) -> Response:
        if convo.stream:
            return _sse(gemini.stream(reply, convo.model))
        return JSONResponse(gemini.render(reply, convo.model))

    async def messages(request: Request) -> Response:
        return await _play(state, request, anthropic.parse, anthropic_answer, anthropic.error)

    async def responses(request: Request) -> Response:
        return await _play(
            state, request, openai_responses.parse, responses_answer, openai_responses.error
        )

    async def chat(request: Request) -> Response:
        return await _play(state, request, openai_chat.parse, chat_answer, openai_responses.error)

    async def gemini_model(request: Request) -> Response:
        model, _, method = request.path_params["rest"].partition(":")
        if method in {"generateContent", "streamGenerateContent"}:
            stream = method == "streamGenerateContent"

            def parse(body: dict[str, Any]) -> Conversation:
                return gemini.parse(body, model, stream=stream)

            return await _play(state, request, parse, gemini_answer, gemini.error)
        return await _side(request, gemini.count_tokens)

    async def count_tokens(request: Request) -> Response:
        return await _side(request, anthropic.count_tokens)

    async def list_models(request: Request) -> Response:
        return await _side(request, lambda _: openai_chat.models(list(LISTED_MODELS)))

    async def root(request: Request) -> Response:
        return await _side(request, lambda _: {"ok": True})

    async def anything(request: Request) -> Response:
        arrived = now()
        body = await _json(request)
        _record(state, request, body, arrived, scenario="", outcome=None)
        message = f"the scripted model server has no {request.method} {request.url.path}"
        return JSONResponse({"error": {"message": message, "type": "not_found"}}, status_code=404)

    async def _side(request: Request, make: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        """Requests that are not a model turn (probes, token counts): answered, recorded."""
        arrived = now()
        body = await _json(request)
        _record(state, request, body, arrived, scenario="", outcome=None)
        if request.method == "HEAD":
            return PlainTextResponse("")
        return JSONResponse(make(body if isinstance(body, dict) else {}))

    routes = [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1beta/models/{rest:path}", gemini_model, methods=["POST"]),
        Route("/{path:path}", anything, methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    app = Starlette(routes=routes)
    app.state.model_server = state
    return app
