"""Gemini CLI (`gemini -p ... -o stream-json`): settings, environment and its stream events."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from adapters.base import AgentEvent, Usage
from adapters.harness import (
    GEMINI,
    FileTail,
    Final,
    Invocation,
    Launch,
    Vendor,
    api_base,
    as_int,
    clip,
    json_line,
    tail,
)

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.process import Completed

# Without -m the CLI's model router makes classifier calls first; Baton always names the model.
DEFAULT_MODEL = "gemini-2.5-pro"
CHATS = ".gemini/tmp/*/chats/session-*.jsonl"  # its chat recordings, in the run's home
# Attempts per model request (the CLI's default, 10 with backoff from 5 s to 30 s, takes minutes
# to give up on a 5xx); two retries cover a transient one, and Baton's fallback agents do the rest.
MAX_ATTEMPTS = 3


def settings(*, agents_md: bool) -> dict[str, Any]:
    """The run's `~/.gemini/settings.json`: API-key auth, no telemetry, no updates."""
    data: dict[str, Any] = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "telemetry": {"enabled": False},
        "privacy": {"usageStatisticsEnabled": False},
        "general": {
            "disableAutoUpdate": True,
            "disableUpdateNag": True,
            "maxAttempts": MAX_ATTEMPTS,
        },
    }
    if agents_md:
        # Gemini CLI reads GEMINI.md by default; this makes it read the repository's AGENTS.md.
        data["context"] = {"fileName": ["AGENTS.md", "GEMINI.md"]}
    return data


def stream_usage(stats: dict[str, Any], model: str, turns: int) -> Usage:
    """`result.stats` in Baton's terms.

    Per model, `input_tokens` is the prompt (cache reads included; Gemini has no cache writes, so
    anything a proxy reports as written is in it too), `cached` the cache reads, `output_tokens`
    the candidates without thoughts; the thoughts are what `total_tokens` has beyond the two.
    """
    per_model = stats.get("models")
    entries = list(per_model.items()) if isinstance(per_model, dict) else [(model, stats)]
    prompt = cached = out = total = 0
    for _, entry in entries:
        if isinstance(entry, dict):
            prompt += as_int(entry.get("input_tokens"))
            cached += as_int(entry.get("cached"))
            out += as_int(entry.get("output_tokens"))
            total += as_int(entry.get("total_tokens"))
    thoughts = max(0, total - prompt - out)
    names = [str(name) for name, _ in entries]
    return Usage(
        model=model if model in names or not names else names[0],
        input_tokens=max(0, prompt - cached),
        output_tokens=out + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
        turns=turns,
    )


def chat_messages(line: str) -> list[dict[str, Any]]:
    """The messages in one line of a chat recording: a message, or a `$set` of all of them."""
    record = json_line(line)
    if record is None:
        return []
    update = record.get("$set")
    messages = update.get("messages") if isinstance(update, dict) else [record]
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def chat_usage(tokens: list[dict[str, Any]], model: str, turns: int) -> Usage:
    """The model messages' `tokens` (`input` is the whole prompt, as in the stream's stats)."""
    prompt = sum(as_int(t.get("input")) for t in tokens)
    cached = sum(as_int(t.get("cached")) for t in tokens)
    out = sum(as_int(t.get("output")) for t in tokens)
    thoughts = max(0, sum(as_int(t.get("total")) for t in tokens) - prompt - out)
    return Usage(
        model=model,
        input_tokens=max(0, prompt - cached),
        output_tokens=out + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
        turns=turns,
    )


class GeminiParser:
    """`init`, `message`, `tool_use`, `tool_result`, then `result` (status success or error).

    The stream has usage only in its final `result`; the CLI's chat recording in its home gets
    every model message with its tokens as it arrives, so `poll` reads that. A `tool_result`
    is the outcome of the `tool_use` with its `tool_id`; the stream marks no model turns.
    """

    def __init__(self, model: str, home: Path) -> None:
        self._model = model
        self._home = home
        self._session: str | None = None
        self._reply: list[str] = []
        self._result: dict[str, Any] | None = None
        self._turns = 1
        self._chats: dict[Path, FileTail] = {}
        # A resumed session's recording holds the earlier runs' messages: they are not this run's.
        self._earlier = {
            str(m.get("id"))
            for path in home.glob(CHATS)
            for m in self._messages(FileTail(path, root=home))
        }
        self._tokens: dict[str, dict[str, Any]] = {}
        self._polled: Usage | None = None
        self._calls: dict[str, AgentEvent] = {}  # tool_id -> the call, until its result

    @staticmethod
    def _messages(chat: FileTail) -> list[dict[str, Any]]:
        found = (m for line in chat.lines() for m in chat_messages(line))
        return [m for m in found if m.get("type") == "gemini" and isinstance(m.get("tokens"), dict)]

    def poll(self) -> list[AgentEvent]:
        for path in self._home.glob(CHATS):
            chat = self._chats.setdefault(path, FileTail(path, root=self._home))
            for message in self._messages(chat):
                if str(message.get("id")) not in self._earlier:
                    self._tokens[str(message.get("id"))] = message["tokens"]
        if not self._tokens:
            return []
        usage = chat_usage(list(self._tokens.values()), self._model, self._turns)
        if usage == self._polled:
            return []
        self._polled = usage
        return [AgentEvent(kind="usage", usage=usage)]

    def feed(self, line: str) -> list[AgentEvent]:
        event = json_line(line)
        if event is None:
            return []
        kind = event.get("type")
        if kind == "init" and isinstance(event.get("session_id"), str):
            self._session = event["session_id"]
        elif kind == "message" and event.get("role") == "assistant":
            text = str(event.get("content") or "")
            # Deltas of one reply arrive in pieces; a tool call in between starts a new reply.
            if event.get("delta") and self._reply:
                self._reply[-1] += text
            else:
                self._reply.append(text)
        elif kind == "tool_use":
            self._reply.append("")
            self._turns += 1
            args = event.get("parameters") if isinstance(event.get("parameters"), dict) else {}
            assert isinstance(args, dict)
            call_id = str(event.get("tool_id") or "")
            call = AgentEvent.tool_call(str(event.get("tool_name") or ""), args, call=call_id)
            if call_id:
                self._calls[call_id] = call
            return [call]
        elif kind == "tool_result":
            started = self._calls.pop(str(event.get("tool_id") or ""), None)
            return [started.outcome(ok=event.get("status") == "success")] if started else []
        elif kind == "result":
            self._result = event
            stats = event.get("stats") if isinstance(event.get("stats"), dict) else {}
            assert isinstance(stats, dict)
            return [AgentEvent(kind="usage", usage=stream_usage(stats, self._model, self._turns))]
        return []

    def session(self) -> str | None:
        return self._session

    def finish(self, done: Completed) -> Final:
        self.poll()  # for a run that ended before its result: what its model calls used
        result = self._result or {}
        stats = result.get("stats") if isinstance(result.get("stats"), dict) else {}
        assert isinstance(stats, dict)
        error = ""
        if result.get("status") == "error" or (result and "error" in result):
            detail = result.get("error")
            message = detail.get("message") if isinstance(detail, dict) else detail
            error = clip(str(message or "the CLI reported an error"))
        elif not result:
            # Errors before the stream starts go to stderr, with the HTTP status as exit code.
            error = "Gemini CLI ended without a result: " + (tail(done.err) or "no output")
        replies = [r.strip() for r in self._reply if r.strip()]
        usage = stream_usage(stats, self._model, self._turns)
        return Final(
            summary=replies[-1] if replies and not error else "",
            usage=self._polled if not result and self._polled else usage,
            session_id=self._session,
            error=error,
        )


class GeminiDriver:
    harness = "gemini"

    def vendor(self, model: str) -> Vendor:
        del model
        return GEMINI

    def launch(self, inv: Invocation) -> Launch:
        model = inv.model or DEFAULT_MODEL
        argv = ["-p", inv.prompt, "-o", "stream-json", "-m", model, "--yolo"]
        if inv.resume:
            argv += ["--resume", inv.resume]
        env = {"GEMINI_API_KEY": inv.endpoint.api_key, "GEMINI_CLI_TRUST_WORKSPACE": "true"}
        if inv.endpoint.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = api_base(inv.endpoint.base_url, "gemini")
        files = {".gemini/settings.json": json.dumps(settings(agents_md=inv.agents_md))}
        return Launch(argv=argv, env=env, home_files=files)

    def parser(self, inv: Invocation) -> GeminiParser:
        return GeminiParser(inv.model or DEFAULT_MODEL, inv.host_home)

    def artifacts(self) -> tuple[str, ...]:
        return ()
