"""Anthropic Messages API (`POST /v1/messages`), as Claude Code speaks it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from adapters.modelserver.script import Conversation, Failure, Reply
from adapters.modelserver.wire import as_dict, as_list, new_id, sse, texts

if TYPE_CHECKING:
    from collections.abc import Iterator

    from adapters.modelserver.scenarios import Tokens

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def parse(body: dict[str, Any]) -> Conversation:
    messages = as_list(body.get("messages"))
    results = sum(
        1
        for message in messages
        for block in as_list(as_dict(message).get("content"))
        if as_dict(block).get("type") == "tool_result"
    )
    return Conversation(
        model=str(body.get("model") or "claude-scripted"),
        tools=tuple(str(as_dict(t).get("name", "")) for t in as_list(body.get("tools"))),
        tool_results=results,
        text="\n".join(texts(body.get("system")) + texts(messages)),
        stream=bool(body.get("stream")),
    )


def usage(tokens: Tokens) -> dict[str, int]:
    return {
        "input_tokens": tokens.input,
        "cache_creation_input_tokens": tokens.cache_write,
        "cache_read_input_tokens": tokens.cache_read,
        "output_tokens": tokens.output,
    }


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    blocks.extend(
        {"type": "tool_use", "id": new_id("toolu_"), "name": call.name, "input": call.arguments}
        for call in reply.calls
    )
    return blocks


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.calls else "end_turn"


def render(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _blocks(reply),
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": usage(reply.usage),
    }


def stream(reply: Reply, model: str) -> Iterator[bytes]:
    start = render(reply, model) | {"content": [], "stop_reason": None}
    # The real API reports input and cache counts at the start and the output count at the end.
    start["usage"] = usage(reply.usage) | {"output_tokens": 0}
    yield sse({"type": "message_start", "message": start}, "message_start")
    for index, block in enumerate(_blocks(reply)):
        empty = {"type": "text", "text": ""} if block["type"] == "text" else block | {"input": {}}
        yield sse(
            {"type": "content_block_start", "index": index, "content_block": empty},
            "content_block_start",
        )
        delta = (
            {"type": "text_delta", "text": block["text"]}
            if block["type"] == "text"
            else {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        )
        yield sse(
            {"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"
        )
        yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
    yield sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
            "usage": usage(reply.usage),
        },
        "message_delta",
    )
    yield sse({"type": "message_stop"}, "message_stop")


def error(failure: Failure) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(failure.status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": failure.message}}


def count_tokens(body: dict[str, Any]) -> dict[str, Any]:
    # A rough count (about four characters per token) is all a client's budgeting needs.
    chars = sum(len(t) for t in texts(body.get("system")) + texts(body.get("messages")))
    return {"input_tokens": max(1, chars // 4)}
