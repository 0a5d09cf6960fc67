"""OpenAI Responses API (`POST /v1/responses`), as Codex speaks it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from adapters.modelserver.script import Conversation, Failure, Reply
from adapters.modelserver.wire import arguments_json, as_dict, as_list, new_id, sse, texts

if TYPE_CHECKING:
    from collections.abc import Iterator

    from adapters.modelserver.scenarios import Tokens

_RESULT_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})
_ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded", 500: "server_error"}


def _tool_name(tool: dict[str, Any]) -> str:
    return str(tool.get("name") or tool.get("type") or "")


def parse(body: dict[str, Any]) -> Conversation:
    items = as_list(body.get("input"))
    return Conversation(
        model=str(body.get("model") or "gpt-scripted"),
        tools=tuple(_tool_name(as_dict(t)) for t in as_list(body.get("tools"))),
        tool_results=sum(1 for item in items if as_dict(item).get("type") in _RESULT_TYPES),
        text="\n".join(texts(body.get("instructions")) + texts(items)),
        stream=bool(body.get("stream")),
    )


def usage(tokens: Tokens) -> dict[str, Any]:
    # OpenAI counts cached tokens inside input_tokens and reasoning inside output_tokens.
    prompt = tokens.input + tokens.cache_read + tokens.cache_write
    return {
        "input_tokens": prompt,
        # Codex 0.169 reads cache writes from here (`cache_write_input_tokens` in its events).
        "input_tokens_details": {
            "cached_tokens": tokens.cache_read,
            "cache_write_tokens": tokens.cache_write,
        },
        "output_tokens": tokens.output,
        "output_tokens_details": {"reasoning_tokens": tokens.reasoning},
        "total_tokens": prompt + tokens.output,
    }


def _items(reply: Reply, custom: frozenset[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reply.text:
        items.append(
            {
                "type": "message",
                "id": new_id("msg_"),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
            }
        )
    for call in reply.calls:
        if call.name in custom or isinstance(call.arguments, str):
            items.append(
                {
                    "type": "custom_tool_call",
                    "id": new_id("ctc_"),
                    "call_id": new_id("call_"),
                    "name": call.name,
                    "input": arguments_json(call.arguments),
                    "status": "completed",
                }
            )
        else:
            items.append(
                {
                    "type": "function_call",
                    "id": new_id("fc_"),
                    "call_id": new_id("call_"),
                    "name": call.name,
                    "arguments": arguments_json(call.arguments),
                    "status": "completed",
                }
            )
    return items


def custom_tools(body: dict[str, Any]) -> frozenset[str]:
    """Names of free-form tools (Codex's apply_patch), which take raw text, not JSON."""
    return frozenset(
        str(as_dict(t).get("name"))
        for t in as_list(body.get("tools"))
        if as_dict(t).get("type") == "custom"
    )


def _response(
    model: str, status: str, output: list[dict[str, Any]], tokens: Tokens | None
) -> dict[str, Any]:
    return {
        "id": new_id("resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": output,
        "usage": usage(tokens) if tokens is not None else None,
        "error": None,
        "incomplete_details": None,
    }


def render(reply: Reply, model: str, custom: frozenset[str]) -> dict[str, Any]:
    return _response(model, "completed", _items(reply, custom), reply.usage)


def stream(reply: Reply, model: str, custom: frozenset[str]) -> Iterator[bytes]:
    final = render(reply, model, custom)
    seq = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, "sequence_number": next(seq), **fields}, kind)

    opening = final | {"status": "in_progress", "output": [], "usage": None}
    yield event("response.created", response=opening)
    yield event("response.in_progress", response=opening)
    for index, item in enumerate(final["output"]):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            yield event(
                "response.output_item.added",
                output_index=index,
                item=item | {"content": [], "status": "in_progress"},
            )
            yield event(
                "response.output_text.delta",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                delta=text,
            )
            yield event(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=text,
            )
        else:
            yield event(
                "response.output_item.added",
                output_index=index,
                item=item | {"status": "in_progress"},
            )
        yield event("response.output_item.done", output_index=index, item=item)
    yield event("response.completed", response=final)


def error(failure: Failure) -> dict[str, Any]:
    code = _ERROR_CODES.get(failure.status, "scripted_error")
    return {"error": {"message": failure.message, "type": code, "param": None, "code": code}}
