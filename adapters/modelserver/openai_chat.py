"""OpenAI Chat Completions (`POST /v1/chat/completions`), as Aider (litellm) speaks it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from adapters.modelserver.script import Conversation, Reply, ToolCall
from adapters.modelserver.wire import arguments_json, as_dict, as_list, new_id, sse, texts

if TYPE_CHECKING:
    from collections.abc import Iterator

    from adapters.modelserver.scenarios import Tokens


def parse(body: dict[str, Any]) -> Conversation:
    messages = as_list(body.get("messages"))
    return Conversation(
        model=str(body.get("model") or "gpt-scripted"),
        tools=tuple(
            str(as_dict(as_dict(t).get("function")).get("name", ""))
            for t in as_list(body.get("tools"))
        ),
        tool_results=sum(1 for m in messages if as_dict(m).get("role") == "tool"),
        text="\n".join(texts(messages)),
        stream=bool(body.get("stream")),
    )


def usage(tokens: Tokens) -> dict[str, Any]:
    # Chat Completions counts cached tokens inside prompt_tokens, reasoning inside completion.
    prompt = tokens.input + tokens.cache_read + tokens.cache_write
    return {
        "prompt_tokens": prompt,
        "completion_tokens": tokens.output,
        "total_tokens": prompt + tokens.output,
        "prompt_tokens_details": {"cached_tokens": tokens.cache_read},
        "completion_tokens_details": {"reasoning_tokens": tokens.reasoning},
    }


def text_parameters(body: dict[str, Any]) -> dict[str, str]:
    """Per offered tool, the string parameter that carries free-form text.

    Chat Completions has only JSON function tools: where the script plays a free-form tool
    (Codex's `apply_patch`), a client offering a function of that name (OpenCode's, with
    `patchText`) gets the text in its one required string parameter.
    """
    found: dict[str, str] = {}
    for tool in as_list(body.get("tools")):
        function = as_dict(as_dict(tool).get("function"))
        params = as_dict(function.get("parameters"))
        props = as_dict(params.get("properties"))
        texts_ = [
            str(n)
            for n in as_list(params.get("required"))
            if as_dict(props.get(n)).get("type") == "string"
        ]
        if len(texts_) == 1:
            found[str(function.get("name", ""))] = texts_[0]
    return found


def _arguments(call: ToolCall, text_params: dict[str, str]) -> str:
    if isinstance(call.arguments, str) and call.name in text_params:
        return arguments_json({text_params[call.name]: call.arguments})
    return arguments_json(call.arguments)


def _message(reply: Reply, text_params: dict[str, str] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.calls:
        message["tool_calls"] = [
            {
                "id": new_id("call_"),
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments(call, text_params or {})},
            }
            for call in reply.calls
        ]
    return message


def _finish(reply: Reply) -> str:
    return "tool_calls" if reply.calls else "stop"


def render(reply: Reply, model: str, text_params: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": _message(reply, text_params), "finish_reason": _finish(reply)}
        ],
        "usage": usage(reply.usage),
    }


def stream(
    reply: Reply, model: str, *, include_usage: bool, text_params: dict[str, str] | None = None
) -> Iterator[bytes]:
    head = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    message = _message(reply, text_params)
    delta: dict[str, Any] = {"role": "assistant", "content": message["content"] or ""}
    yield sse(head | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    if reply.calls:
        calls = [dict(call, index=i) for i, call in enumerate(message["tool_calls"])]
        yield sse(
            head
            | {"choices": [{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": None}]}
        )
    yield sse(head | {"choices": [{"index": 0, "delta": {}, "finish_reason": _finish(reply)}]})
    if include_usage:
        yield sse(head | {"choices": [], "usage": usage(reply.usage)})
    yield b"data: [DONE]\n\n"


def wants_usage(body: dict[str, Any]) -> bool:
    return bool(as_dict(body.get("stream_options")).get("include_usage"))


def models(names: list[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "baton"} for n in names],
    }
