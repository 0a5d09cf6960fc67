"""Codex CLI (`codex exec --json`): its provider config, environment and JSONL events."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from adapters.base import AgentEvent, Usage
from adapters.harness import (
    OPENAI,
    FileTail,
    Final,
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

PROVIDER = "baton"
KEY_VAR = "BATON_MODEL_API_KEY"
DEFAULT_BASE = "https://api.openai.com/v1"
BASELINE_FILE = ".baton-codex-usage.json"  # in the home: the thread's totals so far, for resume
# A transient 5xx is retried a little by Codex itself; Baton's fallback agents do the rest.
RETRIES = 2


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset TOML accepts)."""
    return json.dumps(value)


def config_toml(model: str) -> str:
    """`$CODEX_HOME/config.toml`: our own provider, no update checks, no analytics.

    The base URL is passed with `-c` instead, so a network-less sandbox's relay can rewrite it.
    """
    return (
        (f"model = {toml_string(model)}\n" if model else "") + f'model_provider = "{PROVIDER}"\n'
        "check_for_update_on_startup = false\n"
        f"[model_providers.{PROVIDER}]\n"
        'name = "Baton"\n'
        f'env_key = "{KEY_VAR}"\n'
        'wire_api = "responses"\n'
        f"request_max_retries = {RETRIES}\n"
        f"stream_max_retries = {RETRIES}\n"
        "[analytics]\n"
        "enabled = false\n"
    )


def thread_usage(usage: dict[str, Any], model: str, baseline: Usage) -> Usage:
    """`turn.completed.usage` in Baton's terms, minus what earlier runs of the thread used.

    Codex counts cache reads and writes inside `input_tokens` and reasoning inside
    `output_tokens`; on `exec resume` its figures are the whole thread's.
    """
    read = as_int(usage.get("cached_input_tokens"))
    write = as_int(usage.get("cache_write_input_tokens"))
    total = Usage(
        model=model,
        input_tokens=max(0, as_int(usage.get("input_tokens")) - read - write),
        output_tokens=as_int(usage.get("output_tokens")),
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=as_int(usage.get("reasoning_output_tokens")),
    )
    return Usage(
        model=model,
        input_tokens=max(0, total.input_tokens - baseline.input_tokens),
        output_tokens=max(0, total.output_tokens - baseline.output_tokens),
        cache_read_tokens=max(0, total.cache_read_tokens - baseline.cache_read_tokens),
        cache_write_tokens=max(0, total.cache_write_tokens - baseline.cache_write_tokens),
        reasoning_tokens=max(0, total.reasoning_tokens - baseline.reasoning_tokens),
    )


def read_baseline(home: Path) -> tuple[Usage, dict[str, int]]:
    fields = read_counts(home / BASELINE_FILE, _COUNTS, root=home)
    return (_usage(fields, ""), fields) if fields else (Usage(), {})


def rollout_totals(line: str) -> dict[str, Any] | None:
    """The thread's totals so far from a rollout line, when it is a `token_count` event."""
    event = json_line(line)
    payload = event.get("payload") if event and event.get("type") == "event_msg" else None
    if not isinstance(payload, dict) or payload.get("type") != "token_count":
        return None
    info = payload.get("info")
    totals = info.get("total_token_usage") if isinstance(info, dict) else None
    return totals if isinstance(totals, dict) else None


def tool_item(item: dict[str, Any]) -> AgentEvent | None:
    """The tool call an item is, as it starts (None for an item that is no tool call).

    Commands, patches (`file_change`, which lists paths and kinds, never contents), MCP tools and
    web searches are the tool calls of `exec --json`.
    """
    kind = item.get("type")
    call = str(item.get("id") or "")
    if kind == "command_execution":
        return AgentEvent.tool_call("command_execution", str(item.get("command") or ""), call=call)
    if kind == "file_change":
        changes = item.get("changes") if isinstance(item.get("changes"), list) else []
        assert isinstance(changes, list)
        named = [c for c in changes if isinstance(c, dict) and c.get("path")]
        paths = [f"{c.get('kind') or 'change'} {c['path']}" for c in named]
        return AgentEvent.tool_call("file_change", ", ".join(paths), call=call)
    if kind == "mcp_tool_call":
        args = item.get("arguments") if isinstance(item.get("arguments"), dict) else {}
        assert isinstance(args, dict)
        extra = {"server": str(item.get("server") or "")}
        return AgentEvent.tool_call(str(item.get("tool") or ""), args, call=call, extra=extra)
    if kind == "web_search":
        return AgentEvent.tool_call("web_search", str(item.get("query") or ""), call=call)
    return None


def item_ok(item: dict[str, Any]) -> bool:
    """A finished item's outcome: `completed` (and a command's exit status 0) is a success;
    `failed` and `declined` are not. A web search has no status: its end is its success."""
    exit_code = item.get("exit_code")
    status = item.get("status", "completed")
    return status == "completed" and (not isinstance(exit_code, int) or exit_code == 0)


class CodexParser:
    """`thread.started`, `item.*`, then `turn.completed` or `turn.failed` (and `error`).

    The stream has usage only at the end of a turn, which is the whole run in `exec`; the
    session's rollout file gets a `token_count` event after every model call, so `poll` reads it.
    A turn of the event log is an agent message (the stream marks no other model turns); a tool
    call is an item that starts, and its outcome the item's completion.
    """

    def __init__(self, model: str, home: Path) -> None:
        self._model = model
        self._home = home
        self._baseline, _ = read_baseline(home)
        self._thread: str | None = None
        self._rollout: FileTail | None = None
        self._polled: Usage | None = None
        self._usage: Usage | None = None
        self._cumulative: dict[str, int] = {}
        self._polled_cumulative: dict[str, int] = {}
        self._messages: list[str] = []
        self._errors: list[str] = []
        self._turns = 0

    def feed(self, line: str) -> list[AgentEvent]:
        event = json_line(line)
        if event is None:
            return []
        kind = event.get("type")
        item = event.get("item") if isinstance(event.get("item"), dict) else {}
        assert isinstance(item, dict)
        if kind == "thread.started" and isinstance(event.get("thread_id"), str):
            self._thread = event["thread_id"]
        elif kind == "turn.completed" and isinstance(event.get("usage"), dict):
            self._turns += 1
            usage = thread_usage(event["usage"], self._model, self._baseline)
            self._usage = replace(usage, turns=self._turns)
            self._cumulative = _fields(thread_usage(event["usage"], self._model, Usage()))
            return [AgentEvent(kind="usage", usage=self._usage)]
        elif kind == "turn.failed":
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            self._errors.append(str(message or "turn failed"))
        elif kind == "error" and event.get("message"):
            self._errors.append(str(event["message"]))
        elif kind == "item.completed" and item.get("type") == "agent_message":
            self._messages.append(str(item.get("text") or ""))
            return [AgentEvent.turn(len(self._messages), self._messages[-1])]
        elif kind == "item.started" and (call := tool_item(item)) is not None:
            return [call]
        elif kind == "item.completed" and (call := tool_item(item)) is not None:
            # A patch shows only once applied: its one event is both the call and its outcome.
            exit_code = item.get("exit_code")
            extra = {"exit_code": exit_code} if isinstance(exit_code, int) else None
            return [call.outcome(ok=item_ok(item), extra=extra)]
        return []

    def poll(self) -> list[AgentEvent]:
        if self._thread is None:
            return []
        if self._rollout is None:
            sessions = self._home / ".codex" / "sessions"
            # A resumed thread appends to its rollout file, with the thread's running totals.
            found = sorted(sessions.glob(f"*/*/*/rollout-*-{self._thread}.jsonl"))
            if not found:
                return []
            self._rollout = FileTail(found[-1], root=self._home)
        totals = [t for line in self._rollout.lines() if (t := rollout_totals(line)) is not None]
        if not totals:
            return []
        self._polled_cumulative = _fields(thread_usage(totals[-1], self._model, Usage()))
        usage = replace(thread_usage(totals[-1], self._model, self._baseline), turns=self._turns)
        if usage == self._polled:
            return []
        self._polled = usage
        return [AgentEvent(kind="usage", usage=usage)]

    def session(self) -> str | None:
        return self._thread

    def finish(self, done: Completed) -> Final:
        self.poll()  # the last model calls, for a run that ended without completing its turn
        if cumulative := self._cumulative or self._polled_cumulative:
            # The next resume of this thread subtracts what this run already counted.
            write_inside(self._home, self._home / BASELINE_FILE, json.dumps(cumulative))
        error = ""
        if self._errors:
            error = clip(self._errors[-1])
        elif self._usage is None and done.returncode == 0:
            error = "Codex ended without completing its turn: " + (tail(done.err) or "no output")
        return Final(
            summary=self._messages[-1] if self._messages else "",
            usage=self._usage or self._polled or Usage(model=self._model),
            session_id=self._thread,
            error=error,
        )


_COUNTS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"
)  # fmt: skip


def _fields(usage: Usage) -> dict[str, int]:
    return {k: v for k, v in usage.as_dict().items() if k in _COUNTS}


def _usage(fields: dict[str, int], model: str) -> Usage:
    return Usage(
        model=model,
        input_tokens=fields.get("input_tokens", 0),
        output_tokens=fields.get("output_tokens", 0),
        cache_read_tokens=fields.get("cache_read_tokens", 0),
        cache_write_tokens=fields.get("cache_write_tokens", 0),
        reasoning_tokens=fields.get("reasoning_tokens", 0),
    )


class CodexDriver:
    harness = "codex"

    def vendor(self, model: str) -> Vendor:
        del model
        return OPENAI

    def launch(self, inv: Invocation) -> Launch:
        base = api_base(inv.endpoint.base_url or DEFAULT_BASE, "openai")
        codex_home = inv.home / ".codex"
        argv = ["exec"]
        if inv.resume:
            argv += ["resume", inv.resume]
        argv += ["--json", "--dangerously-bypass-approvals-and-sandbox", "--skip-git-repo-check"]
        # Codex ignores OPENAI_BASE_URL; its provider's base_url is the one it obeys.
        argv += ["-c", f"model_providers.{PROVIDER}.base_url={toml_string(base)}"]
        if inv.model:
            argv += ["-c", f"model={toml_string(inv.model)}"]
        argv += ["--", inv.prompt]
        env = {"CODEX_HOME": str(codex_home), KEY_VAR: inv.endpoint.api_key}
        return Launch(argv=argv, env=env, home_files={".codex/config.toml": config_toml(inv.model)})

    def parser(self, inv: Invocation) -> CodexParser:
        return CodexParser(inv.model, inv.host_home)

    def artifacts(self) -> tuple[str, ...]:
        return ()
