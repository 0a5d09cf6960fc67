"""Gemini API (`:generateContent`, `:streamGenerateContent?alt=sse`), as Gemini CLI speaks it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.modelserver.script import Conversation, Failure, Reply
from adapters.modelserver.wire import as_dict, as_list, new_id, sse, texts

if TYPE_CHECKING:
    from collections.abc import Iterator

    from adapters.modelserver.scenarios import Tokens

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def parse(body: dict[str, Any], model: str, *, stream: bool) -> Conversation:
    contents = as_list(body.get("contents"))
    declarations = [
        as_dict(d)
        for tool in as_list(body.get("tools"))
        for d in as_list(as_dict(tool).get("functionDeclarations"))
    ]
    results = sum(
        1
        for content in contents
        for part in as_list(as_dict(content).get("parts"))
        if "functionResponse" in as_dict(part)
    )
    return Conversation(
        model=model,
        tools=tuple(str(d.get("name", "")) for d in declarations),
        tool_results=results,
        text="\n".join(texts(body.get("systemInstruction")) + texts(contents)),
        stream=stream,
    )


def usage(tokens: Tokens) -> dict[str, int]:
    # Gemini counts cached tokens inside the prompt and thoughts apart from the candidates.
    prompt = tokens.input + tokens.cache_read + tokens.cache_write
    return {
        "promptTokenCount": prompt,
        "cachedContentTokenCount": tokens.cache_read,
        "candidatesTokenCount": tokens.output - tokens.reasoning,
        "thoughtsTokenCount": tokens.reasoning,
        "totalTokenCount": prompt + tokens.output,
    }


def _parts(reply: Reply) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
    parts.extend({"functionCall": {"name": c.name, "args": c.arguments}} for c in reply.calls)
    return parts or [{"text": ""}]


def _response(parts: list[dict[str, Any]], model: str, tokens: Tokens | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
    if tokens is not None:
        candidate["finishReason"] = "STOP"
        out["usageMetadata"] = usage(tokens)
    out["responseId"] = new_id("")
    return out


def render(reply: Reply, model: str) -> dict[str, Any]:
    return _response(_parts(reply), model, reply.usage)


def stream(reply: Reply, model: str) -> Iterator[bytes]:
    parts = _parts(reply)
    # Every part in its own chunk; the last chunk carries the finish reason and the usage.
    for part in parts[:-1]:
        yield sse(_response([part], model, None))
    yield sse(_response(parts[-1:], model, reply.usage))


def error(failure: Failure) -> dict[str, Any]:
    return {
        "error": {
            "code": failure.status,
            "message": failure.message,
            "status": _STATUS.get(failure.status, "UNKNOWN"),
        }
    }


def count_tokens(body: dict[str, Any]) -> dict[str, Any]:
    chars = sum(len(t) for t in texts(body.get("contents")))
    return {"totalTokens": max(1, chars // 4)}
