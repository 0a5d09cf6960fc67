"""Each vendor API's wire shape, streaming and not, as the scripted app serves it over ASGI."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from adapters.modelserver.app import create_app
from adapters.modelserver.recorder import Recorder
from adapters.modelserver.scenarios import Edit, ScenarioBook, Tokens, WriteFile

pytestmark = pytest.mark.anyio

TURN = Tokens(input=100, output=30, cache_read=20, cache_write=10, reasoning=5)
SCENARIO = Edit(
    changes=(WriteFile("a.txt", "A\n"),), summary="Wrote a.txt.", usage=(TURN,), root="/w"
)
KEY = "sk-test-key-0123"
EXTRAS = {"thinking": {"type": "adaptive"}, "context_management": {"x": 1}, "brand_new_field": [1]}


def client(recorder: Recorder | None = None) -> httpx.AsyncClient:
    book = ScenarioBook()
    book.register(SCENARIO, key=KEY)
    app = create_app(book=book, recorder=recorder or Recorder())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model")


def events(body: str) -> list[tuple[str | None, Any]]:
    """SSE frames as (event name, parsed data); `[DONE]` is kept as a string."""
    out: list[tuple[str | None, Any]] = []
    for frame in body.split("\n\n"):
        if not frame.strip():
            continue
        name = None
        data = ""
        for line in frame.split("\n"):
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
        out.append((name, data if data == "[DONE]" else json.loads(data)))
    return out


def anthropic_body(*, stream: bool, results: int = 0) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "do it"}]
    for i in range(results):
        messages.append(
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": f"t{i}", "name": "Write", "input": {}}],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"}],
            }
        )
    messages.append({"role": "system", "content": "mid-conversation system note"})
    tools = [{"name": "Write", "input_schema": {}}, {"name": "Bash", "input_schema": {}}]
    return {
        "model": "claude-sonnet-4-5",
        "stream": stream,
        "messages": messages,
        "tools": tools,
        **EXTRAS,
    }


async def test_anthropic_non_streaming_tool_call_then_text() -> None:
    async with client() as http:
        first = await http.post(
            "/v1/messages?beta=true", json=anthropic_body(stream=False), headers={"x-api-key": KEY}
        )
        done = await http.post(
            "/v1/messages", json=anthropic_body(stream=False, results=1), headers={"x-api-key": KEY}
        )
    assert first.status_code == 200
    message = first.json()
    assert message["stop_reason"] == "tool_use"
    (block,) = message["content"]
    assert block["type"] == "tool_use"
    assert block["name"] == "Write"
    assert block["input"] == {"file_path": "/w/a.txt", "content": "A\n"}
    assert message["usage"] == {
        "input_tokens": 100,
        "cache_creation_input_tokens": 10,
        "cache_read_input_tokens": 20,
        "output_tokens": 30,
    }
    assert done.json()["content"] == [{"type": "text", "text": "Wrote a.txt."}]
    assert done.json()["stop_reason"] == "end_turn"


async def test_anthropic_stream_reassembles_to_the_tool_call_and_usage() -> None:
    async with client() as http:
        response = await http.post(
            "/v1/messages",
            json=anthropic_body(stream=True),
            headers={"authorization": f"Bearer {KEY}"},
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = events(response.text)
    names = [name for name, _ in frames]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in frames)
    start = frames[0][1]["message"]
    assert start["usage"]["input_tokens"] == 100
    assert start["usage"]["cache_read_input_tokens"] == 20
    partial = "".join(d["delta"]["partial_json"] for n, d in frames if n == "content_block_delta")
    assert json.loads(partial) == {"file_path": "/w/a.txt", "content": "A\n"}
    delta = frames[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["output_tokens"] == 30


def responses_body(*, stream: bool, results: int = 0) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "<cwd>/c</cwd>"}],
        }
    ]
    items += [
        {"type": "function_call_output", "call_id": f"c{i}", "output": "ok"} for i in range(results)
    ]
    tools = [{"type": "function", "name": "exec_command", "parameters": {}}, {"type": "web_search"}]
    return {
        "model": "gpt-5-codex",
        "stream": stream,
        "input": items,
        "tools": tools,
        "store": False,
        "client_metadata": {},
    }


async def test_responses_stream_has_the_events_codex_needs() -> None:
    async with client() as http:
        response = await http.post(
            "/v1/responses",
            json=responses_body(stream=True),
            headers={"authorization": f"Bearer {KEY}"},
        )
    frames = events(response.text)
    names = [name for name, _ in frames]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert "response.output_item.added" in names
    assert names[-1] == "response.completed"
    sequence = [data["sequence_number"] for _, data in frames]
    assert sequence == sorted(sequence)
    done_items = [d["item"] for n, d in frames if n == "response.output_item.done"]
    assert [i["type"] for i in done_items] == ["function_call"]
    assert done_items[0]["name"] == "exec_command"
    assert json.loads(done_items[0]["arguments"]) == {"cmd": "printf %s 'A\n' > a.txt"}
    usage = frames[-1][1]["response"]["usage"]
    assert usage == {
        "input_tokens": 130,
        "input_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 10},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 160,
    }


async def test_responses_non_streaming_final_text() -> None:
    async with client() as http:
        response = await http.post(
            "/v1/responses",
            json=responses_body(stream=False, results=1),
            headers={"authorization": f"Bearer {KEY}"},
        )
    body = response.json()
    assert body["status"] == "completed"
    assert body["output"][0]["content"][0] == {
        "type": "output_text",
        "text": "Wrote a.txt.",
        "annotations": [],
    }


def chat_body(*, stream: bool, tools: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-5",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "Use <<<<<<< SEARCH blocks"},
            {"role": "user", "content": "go"},
        ],
        "stream_options": {"include_usage": True},
        "temperature": 0,
    }
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": "bash", "parameters": {}}}]
    return body


async def test_chat_completions_stream_with_usage_chunk_and_done() -> None:
    async with client() as http:
        response = await http.post(
            "/v1/chat/completions",
            json=chat_body(stream=True, tools=True),
            headers={"authorization": f"Bearer {KEY}"},
        )
    frames = [data for _, data in events(response.text)]
    assert frames[-1] == "[DONE]"
    usage_chunk = frames[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == 130
    assert usage_chunk["usage"]["prompt_tokens_details"] == {"cached_tokens": 20}
    calls = [
        c for f in frames[:-2] for ch in f["choices"] for c in ch["delta"].get("tool_calls", [])
    ]
    assert calls[0]["function"]["name"] == "bash"
    assert json.loads(calls[0]["function"]["arguments"])["command"].endswith("> a.txt")
    assert frames[-3]["choices"][0]["finish_reason"] == "tool_calls"


async def test_chat_completions_without_tools_answers_with_edit_blocks() -> None:
    async with client() as http:
        response = await http.post(
            "/v1/chat/completions",
            json=chat_body(stream=False, tools=False),
            headers={"authorization": f"Bearer {KEY}"},
        )
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"].startswith(
        "a.txt\n```\n<<<<<<< SEARCH\n=======\nA\n>>>>>>> REPLACE\n```"
    )
    assert response.json()["usage"]["completion_tokens_details"] == {"reasoning_tokens": 5}


def gemini_body(results: int = 0) -> dict[str, Any]:
    contents: list[dict[str, Any]] = [{"role": "user", "parts": [{"text": "go"}]}]
    contents += [
        {"role": "user", "parts": [{"functionResponse": {"name": "write_file", "response": {}}}]}
        for _ in range(results)
    ]
    tools = [{"functionDeclarations": [{"name": "write_file"}, {"name": "run_shell_command"}]}]
    return {
        "contents": contents,
        "tools": tools,
        "generationConfig": {"thinkingConfig": {}},
        "systemInstruction": {"parts": [{"text": "s"}]},
    }


async def test_gemini_stream_puts_usage_on_the_last_chunk() -> None:
    async with client() as http:
        response = await http.post(
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            json=gemini_body(),
            headers={"x-goog-api-key": KEY},
        )
    frames = [data for _, data in events(response.text)]
    last = frames[-1]
    assert last["modelVersion"] == "gemini-2.5-pro"
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["candidates"][0]["content"]["parts"] == [
        {
            "functionCall": {
                "name": "write_file",
                "args": {"file_path": "/w/a.txt", "content": "A\n"},
            }
        }
    ]
    assert last["usageMetadata"] == {
        "promptTokenCount": 130,
        "cachedContentTokenCount": 20,
        "candidatesTokenCount": 25,
        "thoughtsTokenCount": 5,
        "totalTokenCount": 160,
    }


async def test_gemini_generate_content_text_and_key_in_query() -> None:
    async with client() as http:
        response = await http.post(
            f"/v1beta/models/gemini-2.5-flash:generateContent?key={KEY}",
            json=gemini_body(results=1),
        )
        counted = await http.post("/v1beta/models/gemini-2.5-flash:countTokens", json=gemini_body())
    assert response.json()["candidates"][0]["content"]["parts"] == [{"text": "Wrote a.txt."}]
    assert counted.json()["totalTokens"] >= 1


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "check"),
    [
        ("/v1/messages", {"x-api-key": "sk-scn-http_error-401"}, {"messages": []}, 401,
         lambda b: b["error"] == {"type": "authentication_error", "message": "scripted failure"}),
        ("/v1/responses", {"authorization": "Bearer sk-scn-http_error-500"}, {"input": []}, 500,
         lambda b: b["error"]["code"] == "server_error"),
        ("/v1beta/models/g:generateContent", {"x-goog-api-key": "sk-scn-http_error-429"}, {}, 429,
         lambda b: b["error"]["status"] == "RESOURCE_EXHAUSTED" and b["error"]["code"] == 429),
        ("/v1/chat/completions", {"x-baton-scenario": "http_error-503"}, {}, 503,
         lambda b: b["error"]["message"] == "scripted failure"),
        ("/v1/messages", {"x-api-key": "sk-scn-typo"}, {}, 401,
         lambda b: "no scenario named 'typo'" in b["error"]["message"]),
    ],
)  # fmt: skip
async def test_errors_in_each_vendors_shape(
    path: str, headers: dict[str, str], body: dict[str, Any], status: int, check: Any
) -> None:
    async with client() as http:
        response = await http.post(path, json=body, headers=headers)
    assert response.status_code == status
    assert check(response.json())
    if status == 429:
        assert response.headers["retry-after"] == "1"


async def test_probes_and_unknown_paths_get_answers() -> None:
    async with client() as http:
        head = await http.head("/")
        models = await http.get("/v1/models")
        count = await http.post(
            "/v1/messages/count_tokens", json={"messages": [{"role": "user", "content": "x" * 40}]}
        )
        other = await http.get("/v1/organizations/whatever")
        garbage = await http.post("/v1/messages", content=b"{not json", headers={"x-api-key": KEY})
    assert head.status_code == 200
    assert "gpt-5" in [m["id"] for m in models.json()["data"]]
    assert count.json()["input_tokens"] >= 10  # a rough count: about four characters a token
    assert other.status_code == 404
    assert garbage.status_code == 200  # an unreadable body is an empty conversation, not a crash


async def test_requests_are_recorded_without_secrets() -> None:
    recorder = Recorder()
    async with client(recorder) as http:
        await http.post(
            "/v1/messages",
            json=anthropic_body(stream=False),
            headers={"x-api-key": KEY, "x-app": "cli"},
        )
        await http.post(f"/v1beta/models/m:generateContent?key={KEY}&alt=json", json=gemini_body())
    first, second = recorder.requests
    assert first.path == "/v1/messages"
    assert first.headers["x-api-key"] == "<redacted>"
    assert first.headers["x-app"] == "cli"
    assert first.body["messages"][0] == {"role": "user", "content": "do it"}
    assert first.scenario == "edit"
    assert first.outcome == "tool_call"
    assert first.usage == TURN
    assert second.query == {"key": "<redacted>", "alt": "json"}
    assert KEY not in json.dumps(
        [r.headers for r in recorder.requests] + [r.query for r in recorder.requests]
    )
    assert recorder.first_request_at == first.at
    assert recorder.model_requests(scenario="edit") == [first, second]


@pytest.mark.parametrize("stream", [True, False])
async def test_chat_completions_patch_tool_gets_its_text_as_json(stream: bool) -> None:
    # OpenCode offers GPT models `apply_patch` as a JSON function taking `patchText`.
    body = chat_body(stream=stream, tools=False)
    params = {
        "type": "object",
        "properties": {"patchText": {"type": "string"}},
        "required": ["patchText"],
    }
    body["tools"] = [
        {"type": "function", "function": {"name": n, "parameters": params}}
        for n in ("apply_patch", "bash")
    ]
    async with client() as http:
        response = await http.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}
        )
    if stream:
        frames = [data for _, data in events(response.text)]
        calls = [
            c for f in frames[:-1] for ch in f["choices"] for c in ch["delta"].get("tool_calls", [])
        ]
    else:
        calls = response.json()["choices"][0]["message"]["tool_calls"]
    assert calls[0]["function"]["name"] == "apply_patch"
    patch = json.loads(calls[0]["function"]["arguments"])["patchText"]
    assert patch == "*** Begin Patch\n*** Add File: a.txt\n+A\n*** End Patch\n"
