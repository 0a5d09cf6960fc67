"""Qwen Code (`qwen -p ... -o stream-json`): settings, environment and its stream messages."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from adapters.base import AgentEvent, Usage
from adapters.claude_code import Transcript
from adapters.harness import (
    OPENAI,
    FileTail,
    Final,
    GiveUp,
    Invocation,
    Launch,
    Vendor,
    api_base,
    as_int,
    clip,
    json_line,
    read_counts,
    tail,
)
from adapters.untrusted import write_inside

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.process import Completed

DEFAULT_MODEL = "qwen3-coder-plus"
DEBUG_LOGS = ".qwen/debug/*.txt"  # its debug log per session, in the run's home
BASELINE_FILE = ".baton-qwen-usage.json"  # in the home: the session's totals so far, for resume
# Qwen Code retries a 5xx up to 7 times with backoff up to 30 s (over a minute), each attempt
# being the OpenAI SDK's own 3 requests; no setting shortens the first. The SDK's retries are
# turned off (`generationConfig.maxRetries=0`), and its debug log says "Attempt N failed" each
# time, so Baton stops it after these: three requests in all, as for the other CLIs.
MAX_ATTEMPTS = 3
_RETRY = re.compile(r"\[RETRY\] Attempt (\d+) failed(?: with status (\d+))?[^:]*(?::\s*(.*))?")
_API_ERROR = "[API Error"


def settings() -> dict[str, Any]:
    """The run's `~/.qwen/settings.json`: no telemetry (it reports to Alibaba otherwise), no
    usage statistics, no updates, no SDK retries inside its own."""
    return {
        "$version": 4,
        "telemetry": {"enabled": False},
        "privacy": {"usageStatisticsEnabled": False},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "model": {"generationConfig": {"maxRetries": 0}},
    }


def message_usage(usage: dict[str, Any], model: str) -> Usage:
    """Claude-style `usage` as Qwen Code reports it, in Baton's terms.

    Its `input_tokens` is the whole prompt, cache reads included; `output_tokens` includes any
    reasoning, which it does not split out.
    """
    read = as_int(usage.get("cache_read_input_tokens"))
    return Usage(
        model=model,
        input_tokens=max(0, as_int(usage.get("input_tokens")) - read),
        output_tokens=as_int(usage.get("output_tokens")),
        cache_read_tokens=read,
    )


_COUNTS = ("input_tokens", "output_tokens", "cache_read_input_tokens")


def read_baseline(home: Path) -> dict[str, int]:
    """The session's `result.usage` as the previous run left it (empty for a new session)."""
    return read_counts(home / BASELINE_FILE, _COUNTS, root=home)


def _sum(parts: list[Usage], model: str, turns: int) -> Usage:
    return Usage(
        model=model,
        input_tokens=sum(u.input_tokens for u in parts),
        output_tokens=sum(u.output_tokens for u in parts),
        cache_read_tokens=sum(u.cache_read_tokens for u in parts),
        turns=turns,
    )


class QwenParser:
    """`system/init`, `assistant` (with each model call's usage), `user`, then `result`.

    An API error still ends in `subtype: "success"`, `is_error: false` and exit 0: its `result`
    text starting with "[API Error" is what says the run failed. Turns and tool calls are read as
    Claude Code's are (one `assistant` event per model call).
    """

    def __init__(self, model: str, home: Path) -> None:
        self._model = model
        self._home = home
        self._session: str | None = None
        self._calls: list[Usage] = []
        self._texts: list[str] = []
        self._result: dict[str, Any] | None = None
        self._logs = {p: FileTail.from_end(p, root=home) for p in home.glob(DEBUG_LOGS)}
        self._baseline = read_baseline(home)
        self._transcript = Transcript()

    def feed(self, line: str) -> list[AgentEvent]:
        event = json_line(line)
        if event is None:
            return []
        if isinstance(event.get("session_id"), str):
            self._session = event["session_id"]
        kind = event.get("type")
        if kind == "system" and event.get("subtype") == "init" and event.get("model"):
            self._model = str(event["model"])
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        assert isinstance(message, dict)
        content = message.get("content") if isinstance(message.get("content"), list) else []
        assert isinstance(content, list)
        found: list[AgentEvent] = []
        if kind == "assistant":
            for block in (b for b in content if isinstance(b, dict)):
                if block.get("type") == "text" and block.get("text"):
                    self._texts.append(str(block["text"]))
            found += self._transcript.assistant(event)
            usage = message.get("usage")
            if isinstance(usage, dict) and any(as_int(v) for v in usage.values()):
                self._calls.append(message_usage(usage, self._model))
                found.append(AgentEvent(kind="usage", usage=self._usage()))
        elif kind == "user":
            found += self._transcript.user(event)
        elif kind == "result":
            self._result = event
        return found

    def _usage(self) -> Usage:
        return _sum(self._calls, self._model, len(self._calls))

    def poll(self) -> list[AgentEvent]:
        for path in self._home.glob(DEBUG_LOGS):
            log = self._logs.setdefault(path, FileTail(path, root=self._home))
            for line in log.lines():
                found = _RETRY.search(line)
                if found and int(found.group(1)) >= MAX_ATTEMPTS:
                    status = f" (HTTP {found.group(2)})" if found.group(2) else ""
                    why = clip(found.group(3) or "")
                    raise GiveUp(f"the model API failed {found.group(1)} times{status}: {why}")
        return []

    def session(self) -> str | None:
        return self._session

    def finish(self, done: Completed) -> Final:
        result = self._result or {}
        text = str(result.get("result") or "")
        error = ""
        if not result:
            error = "Qwen Code ended without a result: " + (tail(done.err) or "no output")
        elif (
            result.get("is_error")
            or str(result.get("subtype", "")).startswith("error")
            or text.startswith(_API_ERROR)
        ):
            error = clip(text or str(result.get("subtype") or "is_error"))
        # The result's totals are the CLI's own (a background call included), but a resumed
        # session's are the whole session's: the earlier runs' part, kept in the home, is taken
        # off. The calls seen so far are what a run that ended without a result has to go on.
        usage = self._usage()
        totals = result.get("usage")
        if isinstance(totals, dict):
            counts = {k: as_int(totals.get(k)) for k in _COUNTS}
            write_inside(self._home, self._home / BASELINE_FILE, json.dumps(counts))
            this_run = {k: max(0, v - self._baseline.get(k, 0)) for k, v in counts.items()}
            usage = replace(message_usage(this_run, self._model), turns=usage.turns)
        return Final(
            summary=text.strip() if not error else "",
            usage=usage,
            session_id=str(result.get("session_id") or self._session or "") or None,
            error=error,
        )


class QwenDriver:
    harness = "qwen"

    def vendor(self, model: str) -> Vendor:
        del model
        return OPENAI

    def launch(self, inv: Invocation) -> Launch:
        model = inv.model or DEFAULT_MODEL
        argv = ["-p", inv.prompt, "-o", "stream-json", "--auth-type", "openai", "-m", model]
        argv += ["--yolo"]  # headless without it leaves the shell and edit tools out
        if inv.resume:
            argv += ["--resume", inv.resume]
        env = {"OPENAI_API_KEY": inv.endpoint.api_key}
        if inv.endpoint.base_url:
            env["OPENAI_BASE_URL"] = api_base(inv.endpoint.base_url, "openai")
        files = {".qwen/settings.json": json.dumps(settings())}
        return Launch(argv=argv, env=env, home_files=files)

    def parser(self, inv: Invocation) -> QwenParser:
        return QwenParser(inv.model or DEFAULT_MODEL, inv.host_home)

    def artifacts(self) -> tuple[str, ...]:
        return ()
