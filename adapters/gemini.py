"""Gemini CLI (`gemini -p ... -o stream-json`): settings, environment and its stream events."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from adapters.base import AgentEvent, Usage
from adapters.harness import (
    GEMINI,
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
    from adapters.process import Completed

# Without -m the CLI's model router makes classifier calls first; Baton always names the model.
DEFAULT_MODEL = "gemini-2.5-pro"
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


class GeminiParser:
    """`init`, `message`, `tool_use`, `tool_result`, then `result` (status success or error)."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._session: str | None = None
        self._reply: list[str] = []
        self._result: dict[str, Any] | None = None
        self._turns = 1

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
            args = clip(json.dumps(event.get("parameters", {})), 200)
            return [AgentEvent(kind="tool", text=f"{event.get('tool_name')} {args}")]
        elif kind == "result":
            self._result = event
            stats = event.get("stats") if isinstance(event.get("stats"), dict) else {}
            assert isinstance(stats, dict)
            return [AgentEvent(kind="usage", usage=stream_usage(stats, self._model, self._turns))]
        return []

    def finish(self, done: Completed) -> Final:
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
        return Final(
            summary=replies[-1] if replies and not error else "",
            usage=stream_usage(stats, self._model, self._turns),
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
        return GeminiParser(inv.model or DEFAULT_MODEL)

    def artifacts(self) -> tuple[str, ...]:
        return ()
