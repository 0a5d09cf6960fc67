"""Claude Code (`claude -p ... --output-format stream-json`): flags, environment and its events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.base import EVENT_TEXT_LIMIT, AgentEvent, Usage
from adapters.harness import (
    ANTHROPIC,
    Final,
    Invocation,
    Launch,
    Vendor,
    api_base,
    as_float,
    as_int,
    clip,
    json_line,
    tail,
)

if TYPE_CHECKING:
    from adapters.process import Completed

BUDGET_SUBTYPE = "error_max_budget_usd"
RETRIES = 2


def model_usage(result: dict[str, Any], model: str) -> Usage:
    """Token totals from `modelUsage`, summed over models.

    Not `result.usage`: that misses side requests which `total_cost_usd` includes, and the
    per-message usage of `assistant` events reports no output tokens while streaming.
    """
    per_model = result.get("modelUsage")
    if not isinstance(per_model, dict):
        return Usage(model=model, turns=as_int(result.get("num_turns")))
    totals = dict.fromkeys(("in", "out", "read", "write"), 0)
    for entry in per_model.values():
        if isinstance(entry, dict):
            totals["in"] += as_int(entry.get("inputTokens"))
            totals["out"] += as_int(entry.get("outputTokens"))
            totals["read"] += as_int(entry.get("cacheReadInputTokens"))
            totals["write"] += as_int(entry.get("cacheCreationInputTokens"))
    names = [str(name) for name in per_model]
    return Usage(
        model=model if model in names or not names else names[0],
        input_tokens=totals["in"],
        output_tokens=totals["out"],
        cache_read_tokens=totals["read"],
        cache_write_tokens=totals["write"],
        turns=as_int(result.get("num_turns")),
    )


def _blocks(event: dict[str, Any]) -> list[dict[str, Any]]:
    message = event.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


class Transcript:
    """Turns and tool calls from Claude-style `assistant` and `user` events (Qwen Code's too).

    Claude Code streams each content block of a model message as an `assistant` event of its
    own, under the message's id: the first opens the turn, text after it is a `message` of that
    turn. A `tool_result` block in a `user` event is the outcome of the call it names. Events of
    a subagent (a Task call) are turns too, with `parent` naming that call.
    """

    def __init__(self) -> None:
        self._turns: dict[str, int] = {}  # message id -> turn number
        self._calls: dict[str, AgentEvent] = {}  # tool_use id -> the call, until its result

    def assistant(self, event: dict[str, Any]) -> list[AgentEvent]:
        message = event.get("message")
        key = str(message.get("id") or "") if isinstance(message, dict) else ""
        parent = event.get("parent_tool_use_id")
        extra = {"parent": parent} if isinstance(parent, str) and parent else None
        blocks = _blocks(event)
        texts = [str(b.get("text") or "") for b in blocks if b.get("type") == "text"]
        text = "\n".join(t for t in texts if t)
        out = []
        if not key or key not in self._turns:
            number = self._turns[key or f"#{len(self._turns)}"] = len(self._turns) + 1
            out.append(AgentEvent.turn(number, text, extra=extra))
        else:
            number = self._turns[key]
            if text:
                message_text = clip(text, EVENT_TEXT_LIMIT)
                out.append(AgentEvent(kind="message", text=message_text, data={"turn": number}))
        for block in (b for b in blocks if b.get("type") == "tool_use"):
            args = block.get("input") if isinstance(block.get("input"), dict) else {}
            assert isinstance(args, dict)
            call_id = str(block.get("id") or "")
            name = str(block.get("name") or "")
            call = AgentEvent.tool_call(name, args, call=call_id, turn=number, extra=extra)
            if call_id:
                self._calls[call_id] = call
            out.append(call)
        return out

    def user(self, event: dict[str, Any]) -> list[AgentEvent]:
        out = []
        for block in (b for b in _blocks(event) if b.get("type") == "tool_result"):
            call = self._calls.pop(str(block.get("tool_use_id") or ""), None)
            if call is not None:
                out.append(call.outcome(ok=not block.get("is_error")))
        return out


class ClaudeParser:
    """`system/init`, `assistant`, `user`, then one `result` event."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._session: str | None = None
        self._result: dict[str, Any] | None = None
        self._transcript = Transcript()

    def feed(self, line: str) -> list[AgentEvent]:
        event = json_line(line)
        if event is None:
            return []
        if isinstance(event.get("session_id"), str):
            self._session = event["session_id"]
        kind = event.get("type")
        if kind == "result":
            self._result = event
            usage = model_usage(event, self._model)
            return [
                AgentEvent(
                    kind="usage", usage=usage, cost_usd=as_float(event.get("total_cost_usd"))
                )
            ]
        if kind == "assistant":
            return self._transcript.assistant(event)
        if kind == "user":
            return self._transcript.user(event)
        return []

    def poll(self) -> list[AgentEvent]:
        # Nothing to read: Claude Code checks its own --max-budget-usd after every model call.
        return []

    def session(self) -> str | None:
        return self._session

    def finish(self, done: Completed) -> Final:
        result = self._result
        if result is None:
            why = tail(done.err) or tail(done.out) or "no result event"
            return Final(
                session_id=self._session, error=f"Claude Code ended without a result: {why}"
            )
        text = str(result.get("result") or "")
        error = ""
        # An API error still says subtype "success": `is_error` is the flag to read.
        if result.get("is_error") or str(result.get("subtype", "")).startswith("error"):
            errors = result.get("errors")
            detail = "; ".join(map(str, errors)) if isinstance(errors, list) and errors else text
            status = result.get("api_error_status")
            error = clip(f"{detail} (HTTP {status})" if status else detail or "is_error")
        return Final(
            summary=text if not error else "",
            usage=model_usage(result, self._model),
            cost_usd=as_float(result.get("total_cost_usd")),
            session_id=str(result.get("session_id") or self._session or "") or None,
            error=error,
            budget=result.get("subtype") == BUDGET_SUBTYPE,
        )


class ClaudeCodeDriver:
    harness = "claude-code"

    def vendor(self, model: str) -> Vendor:
        del model
        return ANTHROPIC

    def launch(self, inv: Invocation) -> Launch:
        argv = ["-p", inv.prompt, "--output-format", "stream-json", "--verbose"]
        argv += ["--dangerously-skip-permissions"]
        if inv.model:
            argv += ["--model", inv.model]
        if inv.max_cost_usd is not None:
            argv += ["--max-budget-usd", f"{inv.max_cost_usd:.6f}"]
        if inv.resume:
            argv += ["--resume", inv.resume]
        env = {
            "ANTHROPIC_API_KEY": inv.endpoint.api_key,
            # Without it Claude Code makes side requests beside the main loop.
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            # It retries even a 401 with backoff for minutes by default; a couple of retries
            # cover a transient 5xx, and Baton's fallback agents do the rest.
            "CLAUDE_CODE_MAX_RETRIES": str(RETRIES),
        }
        if inv.endpoint.base_url:
            env["ANTHROPIC_BASE_URL"] = api_base(inv.endpoint.base_url, "anthropic")
        if inv.as_root:
            # Its permission bypass refuses root unless told the machine is a sandbox; only
            # an operator's BATON_SANDBOX=none gets here.
            env["IS_SANDBOX"] = "1"
        files = {}
        if inv.agents_md:
            # Claude Code reads CLAUDE.md, not AGENTS.md: the user memory in its fresh home
            # imports the repository's file, and nothing is written into the worktree.
            files[".claude/CLAUDE.md"] = f"@{inv.workdir / 'AGENTS.md'}\n"
        return Launch(argv=argv, env=env, home_files=files)

    def parser(self, inv: Invocation) -> ClaudeParser:
        return ClaudeParser(inv.model)

    def artifacts(self) -> tuple[str, ...]:
        return ()
