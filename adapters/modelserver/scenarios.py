"""What the scripted model server plays: scenarios as values, and the book that picks one."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Tokens:
    """Token counts one model response reports.

    `input` excludes cache reads and writes; `output` includes `reasoning` (as in `Usage`).
    Each wire format spreads these over its own fields (see the dialect modules).
    """

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            input=self.input + other.input,
            output=self.output + other.output,
            cache_read=self.cache_read + other.cache_read,
            cache_write=self.cache_write + other.cache_write,
            reasoning=self.reasoning + other.reasoning,
        )


DEFAULT_TOKENS = Tokens(input=1000, output=50, cache_read=200, cache_write=100, reasoning=0)


@dataclass(frozen=True, slots=True)
class WriteFile:
    """Create or overwrite `path` (relative to the agent's working directory) with `content`."""

    path: str
    content: str


@dataclass(frozen=True, slots=True)
class ReplaceText:
    """Replace the first occurrence of `old` in `path` with `new` (whole lines for Codex)."""

    path: str
    old: str
    new: str


Change = WriteFile | ReplaceText


@dataclass(frozen=True, slots=True)
class Edit:
    """Ask the agent's own tools to make `changes`, one tool call per turn, then say `summary`.

    `usage[i]` is what turn i reports (the last entry repeats). `root` is the directory the
    agent works in, for tools that want absolute paths; when empty it is read from the prompt.
    """

    changes: tuple[Change, ...]
    summary: str = "Done: the requested change is made."
    usage: tuple[Tokens, ...] = (DEFAULT_TOKENS,)
    root: str = ""
    name: str = "edit"

    def tokens(self, turn: int) -> Tokens:
        return self.usage[min(turn, len(self.usage) - 1)] if self.usage else Tokens()


@dataclass(frozen=True, slots=True)
class HttpError:
    """Answer every request with `status` and the vendor's error body."""

    status: int = 500
    message: str = "scripted failure"
    retry_after_s: int | None = None
    name: str = "http_error"


@dataclass(frozen=True, slots=True)
class Hang:
    """Accept the request and never answer (until the client goes away or the server stops)."""

    name: str = "hang"


@dataclass(frozen=True, slots=True)
class Loop:
    """Call a harmless shell tool on every turn, forever.

    `{turn}` in the command is the turn number: a command that changes every turn gets past the
    CLIs' own detectors of repeated tool calls (Gemini CLI stops after a few identical ones).
    """

    command: str = "echo baton-loop {turn}"
    usage: Tokens = DEFAULT_TOKENS
    name: str = "loop"


Scenario = Edit | HttpError | Hang | Loop

KEY_PREFIX = "sk-scn-"
DEFAULT_EDIT = Edit(
    changes=(WriteFile("BATON_SCRIPTED.md", "Written by the scripted model server.\n"),),
    summary="Wrote BATON_SCRIPTED.md as the scripted scenario asked.",
)


class UnknownScenario(Exception):
    """A key or header named a scenario the server does not know."""


def builtin(spec: str) -> Scenario:
    """A built-in scenario: `edit`, `hang`, `loop`, `http_error` or `http_error-<status>`."""
    kind, _, arg = spec.partition("-")
    if kind == "edit" and not arg:
        return DEFAULT_EDIT
    if kind == "hang" and not arg:
        return Hang()
    if kind == "loop" and not arg:
        return Loop()
    if kind == "http_error":
        if not arg:
            return HttpError()
        if arg.isdigit() and 400 <= int(arg) <= 599:
            status = int(arg)
            return HttpError(status=status, retry_after_s=1 if status == 429 else None)
    raise UnknownScenario(f"no scenario named {spec!r}")


@dataclass(slots=True)
class ScenarioBook:
    """Scenarios by API key: each agent process gets only its own key, so the key picks its script.

    Lookup order: the `x-baton-scenario` header (a built-in name), a registered key, a key of the
    form `sk-scn-<builtin name>`, then the default.
    """

    default: Scenario = DEFAULT_EDIT
    _by_key: dict[str, Scenario] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, scenario: Scenario, *, key: str | None = None) -> str:
        """Remember `scenario` under `key` (a fresh one when None); returns the key to hand out."""
        key = key or f"{KEY_PREFIX}{scenario.name}-{secrets.token_hex(6)}"
        with self._lock:
            self._by_key[key] = scenario
        return key

    def resolve(self, *, key: str | None, header: str | None) -> Scenario:
        if header:
            return builtin(header)
        if key:
            with self._lock:
                found = self._by_key.get(key)
            if found is not None:
                return found
            if key.startswith(KEY_PREFIX):
                return builtin(key.removeprefix(KEY_PREFIX))
        return self.default
