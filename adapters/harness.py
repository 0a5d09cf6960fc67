"""What the real-CLI adapters share: vendor endpoints and keys, sessions, mounts, parsing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from adapters.base import AgentEvent, Usage
from adapters.untrusted import read_inside
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from adapters.prices import Price
    from adapters.process import Completed
    from config.schema import AgentSpec

Style = Literal["anthropic", "openai", "gemini"]


@dataclass(frozen=True, slots=True)
class Vendor:
    """A model vendor's usual variables, as its own SDKs read them."""

    name: str
    key_env: str
    base_env: str
    style: Style
    default_url: str  # where its CLI goes when nothing says otherwise ("" when unknown)


ANTHROPIC = Vendor(
    "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "anthropic", "https://api.anthropic.com"
)
OPENAI = Vendor("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", "openai", "https://api.openai.com")
GEMINI = Vendor(
    "gemini",
    "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "gemini",
    "https://generativelanguage.googleapis.com",
)


class ConfigProblem(BatonError):
    """The agent cannot start as configured (no key, no binary); the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The one model API an agent process may use: base URL (None = vendor default) and key."""

    api_key: str
    key_env: str
    base_url: str | None


def resolve_endpoint(*, vendor: Vendor, spec: AgentSpec, server_env: Mapping[str, str]) -> Endpoint:
    """Per-agent `api_key_env`/`base_url` win over the vendor's variables in the server's env.

    Without a network of its own the agent reaches only the relayed endpoint, so the vendor's
    default is then named explicitly (the CLI is pointed at the relay in its place).
    """
    key_env = spec.api_key_env or vendor.key_env
    key = server_env.get(key_env, "")
    if not key:
        raise ConfigProblem(
            f"no API key: set {key_env} in Baton's environment"
            + ("" if spec.api_key_env else " (or name another variable with `api_key_env`)")
        )
    base = spec.base_url or server_env.get(vendor.base_env) or None
    if base is None and spec.sandbox.network == "none":
        base = vendor.default_url or None
        if base is None:
            raise ConfigProblem(
                f"the agent has no network of its own and Baton does not know {vendor.name}'s "
                "endpoint: set its `base_url`"
            )
    return Endpoint(api_key=key, key_env=key_env, base_url=base)


def api_base(url: str, style: Style) -> str:
    """A base URL in the form the vendor's clients append their paths to.

    OpenAI clients append `/responses` or `/chat/completions` to a URL that ends in `/v1`;
    Anthropic's and Google's add their own version segment, so a trailing `/v1` is dropped.
    A URL with a path of its own (a gateway's route) is otherwise left as written.
    """
    url = url.rstrip("/")
    path = urlsplit(url).path
    if style == "openai":
        return url + "/v1" if path in {"", "/"} else url
    return url.removesuffix("/v1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """One run as the CLI sees it (`workdir`/`home` are paths inside the sandbox when sandboxed)."""

    prompt: str
    model: str
    workdir: Path
    home: Path
    host_home: Path
    endpoint: Endpoint
    resume: str | None = None
    agents_md: bool = False
    max_cost_usd: float | None = None
    as_root: bool = False  # unsandboxed and the server is root
    price: Price | None = None  # Baton's rates for the model, for a CLI that prices by config


@dataclass(frozen=True, slots=True)
class Launch:
    """The CLI's argv (after its binary), its complete environment, and files for its home."""

    argv: list[str]
    env: dict[str, str]
    home_files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Final:
    """What the CLI's own output says about the run, read once it has ended."""

    summary: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None  # reported by the CLI; None = price the tokens
    session_id: str | None = None
    error: str = ""  # the CLI reported a failure (even with exit status 0)
    budget: bool = False  # the CLI stopped itself at its budget


class GiveUp(Exception):
    """Raised by `Parser.feed` when the output shows the CLI would only keep retrying a failing
    model API past Baton's cap; the message says why. The run is stopped and fails with it."""


class Parser(Protocol):
    """Reads one run's stdout line by line (progress), then what it left behind (the result).

    `poll` is called every second or so while the CLI runs: it reads what the CLI writes into
    its home as it goes (usage per model call, where the stdout stream has it only at the end),
    so a budget stop need not wait for the end of a turn.
    """

    def feed(self, line: str) -> list[AgentEvent]: ...  # may raise GiveUp

    def poll(self) -> list[AgentEvent]: ...

    def finish(self, done: Completed) -> Final: ...

    def session(self) -> str | None:
        """The session the output has named so far: a run stopped before its end (at its cost
        cap) is resumed from it."""
        ...


class Driver(Protocol):
    """How one CLI is invoked and read; pure apart from what `finish` reads from the home."""

    harness: str  # its name in toolchain.HARNESSES

    def vendor(self, model: str) -> Vendor: ...

    def launch(self, inv: Invocation) -> Launch: ...

    def parser(self, inv: Invocation) -> Parser: ...

    def artifacts(self) -> tuple[str, ...]: ...  # files it leaves in the worktree, to remove


def json_line(line: str) -> dict[str, Any] | None:
    """One JSON object per line; anything else (banners, warnings) is not an event."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_counts(path: Path, keys: Sequence[str], *, root: Path) -> dict[str, int]:
    """Token counts a previous run left in a JSON file (empty when there is none, or it is bad):
    the baseline a resumed session's cumulative totals are measured from."""
    try:
        raw = json.loads(read_inside(root, path))
    except (OSError, ValueError):
        return {}
    return {k: as_int(raw.get(k)) for k in keys} if isinstance(raw, dict) else {}


def as_int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def as_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class FileTail:
    """The complete lines another process has appended to a file since the last read.

    The file is in the agent's home, so it is read only if it is a regular file inside `root`
    (never through a link the agent planted toward one of the server's files).
    """

    def __init__(self, path: Path, *, root: Path, offset: int = 0) -> None:
        self.path = path
        self._root = root
        self._offset = offset

    @classmethod
    def from_end(cls, path: Path, *, root: Path) -> FileTail:
        """Only what is written from now on (a resumed home brings the earlier runs' lines)."""
        return cls(path, root=root, offset=path.lstat().st_size if path.is_file() else 0)

    def lines(self) -> list[str]:
        try:
            data = read_inside(self._root, self.path, offset=self._offset)
        except OSError:
            return []
        # A line still being written is left for the next read.
        end = data.rfind(b"\n") + 1
        self._offset += end
        return data[:end].decode("utf-8", "replace").splitlines()


def tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- where the CLI's files are, for the sandbox's read-only mounts -----------------------------


def install_mounts(binary: Path) -> tuple[Path, ...]:
    """What must be visible inside the sandbox for `binary` to run (beyond /usr).

    An npm CLI needs its whole `node_modules` tree (mounted at a path ending in node_modules,
    where Node's resolution finds native packages); a pip CLI its venv and the Python the venv
    was made from.
    """
    real = binary.resolve()
    mounts: list[Path] = []
    for parent in (binary.parent, *real.parents):
        if parent.name == "node_modules":
            mounts.append(parent)
            break
    venv = binary.parent.parent
    cfg = venv / "pyvenv.cfg"
    if cfg.is_file():
        mounts.append(venv)
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                mounts.append(Path(value.strip()).parent)
    return tuple(m for m in dict.fromkeys(mounts) if not m.is_relative_to("/usr"))
