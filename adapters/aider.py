"""Aider (`aider --message-file ...`): flags, the vendor key it needs, and its analytics log."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from adapters.base import AgentEvent, Usage
from adapters.harness import (
    ANTHROPIC,
    GEMINI,
    OPENAI,
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
from adapters.untrusted import read_inside

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.process import Completed

PROMPT_FILE = "baton-prompt.md"
ANALYTICS_FILE = "aider-analytics.jsonl"
CHAT_FILE = "aider-chat.md"
INPUT_FILE = "aider-input.history"
# litellm's variables for a provider's base URL (the vendor SDKs' own names are not read).
_BASE_ENV = {
    "openai": "OPENAI_API_BASE",
    "anthropic": "ANTHROPIC_API_BASE",
    "gemini": "GEMINI_API_BASE",
}
# Aider retries a failing model API by itself, doubling a short delay until it passes a minute
# (well over a minute in all, with the SDK's own retries); no option changes that, so Baton stops
# it at the announcement of the retry after these.
RETRIES = 2
_RETRYING = re.compile(r"^Retrying in [\d.]+ seconds")
_ERROR = re.compile(r"^(litellm\.\w+Error|.*APIError|.*AuthenticationError)[:\s].*", re.MULTILINE)
_APPLIED = re.compile(r"^(Applied edit to|Creating empty file) (.+)$")
# A SEARCH block that matched nothing; the console wraps the line, so the path may be on the next.
_NO_MATCH = re.compile(r"^## SearchReplaceNoExactMatch: .* lines in(?: (.+))?$")
_FENCE = re.compile(r"^\S[^\n]*\n```.*?^```\n?", re.DOTALL | re.MULTILINE)


def vendor_of(model: str) -> Vendor:
    """Aider (through litellm) takes the provider from the model's prefix or family name."""
    prefix, _, rest = model.partition("/")
    name = (prefix if rest else "").lower()
    family = model.lower()
    if name == "anthropic" or (not rest and family.startswith("claude")):
        return ANTHROPIC
    if name == "gemini" or (not rest and family.startswith("gemini")):
        return GEMINI
    if name in {"", "openai"}:
        return OPENAI
    upper = re.sub(r"\W", "_", name.upper())
    # Its endpoint is litellm's to know: without a network, `base_url` must name it.
    return Vendor(name, f"{upper}_API_KEY", f"{upper}_API_BASE", "openai", default_url="")


def analytics_usage(text: str, model: str) -> tuple[Usage, float | None]:
    """Totals over the `message_send` events; `prompt_tokens` includes cached input."""
    sends = [e for line in text.splitlines() if (e := json_line(line)) is not None]
    props = [
        e["properties"]
        for e in sends
        if e.get("event") == "message_send" and isinstance(e.get("properties"), dict)
    ]
    costs = [as_float(p.get("cost")) for p in props]
    usage = Usage(
        model=model,
        input_tokens=sum(as_int(p.get("prompt_tokens")) for p in props),
        output_tokens=sum(as_int(p.get("completion_tokens")) for p in props),
        turns=len(props),
    )
    known = [c for c in costs if c is not None]
    return usage, (round(sum(known), 6) if known and len(known) == len(costs) else None)


def chat_summary(history: str) -> str:
    """The model's last reply as the chat history shows it, without edit blocks or notes."""
    _, _, last = history.rpartition("\n#### ")
    reply = last.partition("\n")[2]
    reply = _FENCE.sub("", reply)
    lines = [line for line in reply.splitlines() if not line.startswith(">")]
    return "\n".join(lines).strip()


class AiderParser:
    """Aider prints text; its analytics log and chat history are read once it has exited.

    What it prints of its edits are tool events, each with its outcome: "Applied edit to PATH"
    (and "Creating empty file PATH"), or a SEARCH block that matched nothing in PATH.
    """

    def __init__(self, model: str, home: Path, session: str) -> None:
        self._model = model
        self._home = home
        self._session = session
        # A resumed run's home holds the earlier runs' log, which Aider appends to: only what
        # comes after this offset is this run's.
        self._log = home / ANALYTICS_FILE
        self._offset = self._log.stat().st_size if self._log.is_file() else 0
        self._retries = 0
        self._polled = 0
        self._error = ""
        self._unmatched = False  # the path of a SEARCH block that matched nothing comes next

    def _this_run(self) -> str:
        try:
            return read_inside(self._home, self._log, offset=self._offset).decode(
                "utf-8", "replace"
            )
        except OSError:
            return ""

    def feed(self, line: str) -> list[AgentEvent]:
        if found := _ERROR.match(line):
            self._error = clip(found.group(0))
        elif _RETRYING.match(line):
            self._retries += 1
            if self._retries > RETRIES:
                why = self._error or "the model API kept failing"
                raise GiveUp(f"{why} (still failing after {RETRIES} retries)")
        text = line.strip()
        if found := _NO_MATCH.match(text):
            self._unmatched, text = True, found.group(1) or ""
        if self._unmatched and text:
            self._unmatched = False
            return [AgentEvent.tool_call("edit", text, ok=False)]
        if found := _APPLIED.match(text):
            tool = "edit" if found.group(1) == "Applied edit to" else "create"
            return [AgentEvent.tool_call(tool, found.group(2), ok=True, text=text)]
        if line.startswith("Tokens:"):
            return [AgentEvent(kind="message", text=line.strip())]
        return []

    def poll(self) -> list[AgentEvent]:
        # Aider appends a `message_send` event, with its cost, after every model call.
        usage, cost = analytics_usage(self._this_run(), self._model)
        if usage.turns == self._polled:
            return []
        self._polled = usage.turns
        return [AgentEvent(kind="usage", usage=usage, cost_usd=cost)]

    def session(self) -> str | None:
        return self._session

    def finish(self, done: Completed) -> Final:
        def read(name: str) -> str:
            try:
                return read_inside(self._home, self._home / name).decode("utf-8", "replace")
            except OSError:
                return ""

        usage, cost = analytics_usage(self._this_run(), self._model)
        found = _ERROR.search(done.out) or _ERROR.search(done.err)
        error = clip(found.group(0)) if found else ""
        if not error and usage.turns == 0:
            error = "Aider sent no message to the model: " + (tail(done.out) or tail(done.err))
        return Final(
            summary=chat_summary(read(CHAT_FILE)) if not error else "",
            usage=usage,
            cost_usd=cost,
            session_id=self._session,
            error=error,
        )


class AiderDriver:
    harness = "aider"

    def vendor(self, model: str) -> Vendor:
        return vendor_of(model)

    def launch(self, inv: Invocation) -> Launch:
        home = inv.home
        argv = ["--message-file", str(home / PROMPT_FILE), "--yes-always"]
        if inv.model:
            argv += ["--model", inv.model]
        # No git: the worktree's git dir is read-only in the sandbox (Aider's `git add` of new
        # files fails there and drops the edits) and Baton commits the change itself.
        argv += ["--no-git", "--no-auto-commits", "--no-dirty-commits", "--no-gitignore"]
        argv += ["--no-analytics"]
        argv += ["--analytics-log", str(home / ANALYTICS_FILE), "--no-check-update"]
        argv += ["--no-show-release-notes", "--no-pretty", "--no-stream", "--no-detect-urls"]
        argv += ["--disable-playwright", "--no-fancy-input", "--no-show-model-warnings"]
        # Its history files would land in the repository (and in the diff): keep them home.
        argv += ["--chat-history-file", str(home / CHAT_FILE)]
        argv += ["--input-history-file", str(home / INPUT_FILE)]
        if inv.resume:
            argv += ["--restore-chat-history"]
        if inv.agents_md:
            argv += ["--read", "AGENTS.md"]
        vendor = vendor_of(inv.model)
        env = {vendor.key_env: inv.endpoint.api_key, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        if inv.endpoint.base_url:
            env[_BASE_ENV.get(vendor.name, vendor.base_env)] = api_base(
                inv.endpoint.base_url, vendor.style
            )
        return Launch(argv=argv, env=env, home_files={PROMPT_FILE: inv.prompt})

    def parser(self, inv: Invocation) -> AiderParser:
        # Aider has no session id: the stored home (with its chat history) is the session.
        return AiderParser(inv.model, inv.host_home, inv.resume or f"aider-{uuid.uuid4()}")

    def artifacts(self) -> tuple[str, ...]:
        return (".aider.tags.cache.v4", ".aider.chat.history.md", ".aider.input.history")
