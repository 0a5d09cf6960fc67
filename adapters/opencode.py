"""OpenCode (`opencode run --format json`): its provider config, environment and JSON events."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from adapters.base import AgentEvent, Usage
from adapters.harness import (
    OPENAI,
    FileTail,
    Final,
    GiveUp,
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
    from pathlib import Path

    from adapters.prices import Price
    from adapters.process import Completed

PROVIDER = "baton"
KEY_VAR = "BATON_MODEL_API_KEY"
# The base URL goes in the environment too: a network-less sandbox's relay rewrites it there
# (and in argv), never in a file.
BASE_VAR = "BATON_MODEL_BASE_URL"
DEFAULT_BASE = "https://api.openai.com/v1"
CONFIG_FILE = ".config/baton/opencode.json"  # in the run's home, named by OPENCODE_CONFIG
LOGS = ".local/share/opencode/log/*.log"  # its own log, in the run's home
# OpenCode retries a model API that answers 5xx without end (backoff up to 30 s); its log gets
# a "stream error" line per failed attempt, so Baton stops it after this many.
MAX_ATTEMPTS = 3
_PATCH_FILE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+)$", re.MULTILINE)
_STREAM_ERROR = re.compile(r'message="stream error".*?error\.error="([^"]*)"')
_OFFLINE_ENV = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",  # no models.dev catalogue
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_CLAUDE_CODE": "1",  # no ~/.claude prompts or skills
}


def model_id(model: str) -> str:
    """The model as Baton's provider serves it (`openai/gpt-5` -> `gpt-5`)."""
    return model.split("/", 1)[1] if "/" in model else model


def complete(price: Price | None) -> bool:
    """Whether OpenCode can be given every rate: it bills a rate it lacks as $0, where Baton
    leaves usage that needs an unpublished rate unpriced."""
    return price is not None and price.cache_read is not None and price.cache_write is not None


def config(*, model: str, price: Price | None) -> dict[str, Any]:
    """The run's opencode.json: one OpenAI-compatible provider, no sharing, no asking.

    With the model's rates in it, OpenCode reports each step's cost at Baton's prices.
    """
    entry: dict[str, Any] = {"tool_call": True}
    if complete(price):
        assert price is not None
        rates = {"input": price.input, "output": price.output, "cache_read": price.cache_read,
                 "cache_write": price.cache_write}  # fmt: skip
        entry["cost"] = {k: float(v) for k, v in rates.items() if v is not None}
    name = f"{PROVIDER}/{model}"
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": name,
        "small_model": name,
        "autoupdate": False,
        "share": "disabled",
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Baton",
                "options": {"baseURL": "{env:" + BASE_VAR + "}", "apiKey": "{env:" + KEY_VAR + "}"},
                "models": {model: entry},
            }
        },
        "permission": {"edit": "allow", "bash": "allow", "webfetch": "deny"},
    }


def step_usage(part: dict[str, Any], model: str) -> Usage:
    """A `step_finish` part's tokens in Baton's terms.

    OpenCode's `input` excludes cache reads, and its `output` excludes `reasoning`.
    """
    tokens = part.get("tokens") if isinstance(part.get("tokens"), dict) else {}
    assert isinstance(tokens, dict)
    cache = tokens.get("cache") if isinstance(tokens.get("cache"), dict) else {}
    assert isinstance(cache, dict)
    reasoning = as_int(tokens.get("reasoning"))
    return Usage(
        model=model,
        input_tokens=as_int(tokens.get("input")),
        output_tokens=as_int(tokens.get("output")) + reasoning,
        cache_read_tokens=as_int(cache.get("read")),
        cache_write_tokens=as_int(cache.get("write")),
        reasoning_tokens=reasoning,
        turns=1,
    )


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        model=a.model or b.model,
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cache_read_tokens=a.cache_read_tokens + b.cache_read_tokens,
        cache_write_tokens=a.cache_write_tokens + b.cache_write_tokens,
        reasoning_tokens=a.reasoning_tokens + b.reasoning_tokens,
        turns=a.turns + b.turns,
    )


def error_text(event: dict[str, Any]) -> str:
    """An `error` event's message, with its HTTP status when it has one."""
    error = event.get("error")
    if not isinstance(error, dict):
        return str(error or "OpenCode reported an error")
    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    assert isinstance(data, dict)
    message = str(data.get("message") or error.get("name") or "OpenCode reported an error")
    status = data.get("statusCode")
    return f"{message} (HTTP {status})" if isinstance(status, int) else message


class OpenCodeParser:
    """`step_start`, `tool_use`, `text`, `step_finish` (tokens and cost per step) and `error`.

    There is no final summary event: usage and cost are the sums over the steps. `cost` is only
    Baton's to report when the config gave OpenCode the model's rates (else it says 0).
    Each step is a model turn; a tool part arrives once the call is done, with its outcome.
    """

    def __init__(self, model: str, home: Path, *, priced: bool) -> None:
        self._model = model
        self._home = home
        self._priced = priced
        self._session: str | None = None
        self._usage = Usage(model=model)
        self._cost = 0.0
        self._steps = 0
        self._started = 0  # steps begun: the turn the parts that follow belong to
        self._texts: list[str] = []
        self._errors: list[str] = []
        # A resumed home holds the earlier runs' logs: only what is written from now on counts.
        self._logs = {p: FileTail.from_end(p, root=home) for p in home.glob(LOGS)}
        self._failed: list[str] = []

    def feed(self, line: str) -> list[AgentEvent]:
        event = json_line(line)
        if event is None:
            return []
        if isinstance(event.get("sessionID"), str):
            self._session = event["sessionID"]
        kind = event.get("type")
        part = event.get("part") if isinstance(event.get("part"), dict) else {}
        assert isinstance(part, dict)
        if kind == "step_start":
            self._started += 1
            return [AgentEvent.turn(self._started)]
        if kind == "text" and part.get("text"):
            self._texts.append(str(part["text"]))
            turn = {"turn": self._started} if self._started else {}
            return [AgentEvent(kind="message", text=clip(self._texts[-1]), data=turn)]
        if kind == "tool_use":
            return [self._tool(part)]
        if kind == "step_finish":
            self._steps += 1
            self._usage = _add(self._usage, step_usage(part, self._model))
            self._cost += as_float(part.get("cost")) or 0.0
            return [AgentEvent(kind="usage", usage=self._usage, cost_usd=self._reported())]
        if kind == "error":
            self._errors.append(error_text(event))
        return []

    def _tool(self, part: dict[str, Any]) -> AgentEvent:
        state = part.get("state") if isinstance(part.get("state"), dict) else {}
        assert isinstance(state, dict)
        args = state.get("input") if isinstance(state.get("input"), dict) else {}
        assert isinstance(args, dict)
        # A patch's text is the files' contents: the files it names say what it is about.
        patch = args.get("patchText")
        files = _PATCH_FILE.findall(patch) if isinstance(patch, str) else []
        about = ", ".join(path for _, path in files) if files else args
        status = state.get("status")
        return AgentEvent.tool_call(
            str(part.get("tool") or ""),
            about,
            call=str(part.get("callID") or ""),
            turn=self._started or None,
            ok=status == "completed" if status in {"completed", "error"} else None,
        )

    def _reported(self) -> float | None:
        return round(self._cost, 10) if self._priced else None

    def poll(self) -> list[AgentEvent]:
        for path in self._home.glob(LOGS):
            log = self._logs.setdefault(path, FileTail(path, root=self._home))
            for line in log.lines():
                found = _STREAM_ERROR.search(line)
                if found:
                    self._failed.append(found.group(1))
        if len(self._failed) >= MAX_ATTEMPTS:
            raise GiveUp(
                f"the model API failed {len(self._failed)} times in a row: {clip(self._failed[-1])}"
            )
        return []

    def session(self) -> str | None:
        return self._session

    def finish(self, done: Completed) -> Final:
        error = ""
        if self._errors:
            error = clip(self._errors[-1])
        elif not self._steps and done.returncode == 0:
            error = "OpenCode ended without a model step: " + (tail(done.err) or "no output")
        return Final(
            summary=self._texts[-1].strip() if self._texts and not error else "",
            usage=replace(self._usage, turns=self._steps),
            cost_usd=self._reported() if self._steps else None,
            session_id=self._session,
            error=error,
        )


class OpenCodeDriver:
    harness = "opencode"

    def vendor(self, model: str) -> Vendor:
        del model
        return OPENAI

    def launch(self, inv: Invocation) -> Launch:
        model = model_id(inv.model)
        base = api_base(inv.endpoint.base_url or DEFAULT_BASE, "openai")
        data = config(model=model, price=inv.price)
        # `--title` spares the extra model call that would make one up.
        argv = ["run", "--format", "json", "-m", f"{PROVIDER}/{model}", "--title", "Baton run"]
        if inv.resume:
            argv += ["--session", inv.resume]
        argv += ["--", inv.prompt]
        env = {
            "OPENCODE_CONFIG": str(inv.home / CONFIG_FILE),
            KEY_VAR: inv.endpoint.api_key,
            BASE_VAR: base,
            **_OFFLINE_ENV,
        }
        return Launch(argv=argv, env=env, home_files={CONFIG_FILE: json.dumps(data, indent=1)})

    def parser(self, inv: Invocation) -> OpenCodeParser:
        return OpenCodeParser(inv.model, inv.host_home, priced=complete(inv.price))

    def artifacts(self) -> tuple[str, ...]:
        return ()
