"""The layers of a repo's config in precedence order, and where each layer's values came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel

from config.defaults import BUILTIN_FILE, builtin_config
from config.issues import ConfigError, ConfigIssue, Path, type_at
from config.schema import PAUSE_KEYS, AgentsConfig, AgentSpec, Pause
from config.yamlpos import Located

__all__ = [
    "BUILTIN_SOURCE",
    "FLAGS_FILE",
    "Layer",
    "LayerPart",
    "Source",
    "layer_parts",
    "pause_of",
    "repo_matches",
]

Layer = Literal["built-in", "org defaults", "org repos[pattern]", "repo", "flag", "enforce"]
FLAGS_FILE = "command flags"


@dataclass(frozen=True)
class Source:
    """Where an effective value came from: the key's position in its file, and its layer."""

    file: str
    line: int
    col: int
    layer: Layer
    locked: bool = False
    pattern: str | None = None  # the org `repos` pattern when layer is "org repos[pattern]"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.col}" if self.line > 0 else self.file


BUILTIN_SOURCE = Source(BUILTIN_FILE, 0, 0, "built-in")


@dataclass(frozen=True)
class LayerPart:
    """One layer's data; its positions are `located`'s, under `prefix` (e.g. `("defaults",)`)."""

    layer: Layer
    data: dict[str, object]
    located: Located
    prefix: Path = ()
    pattern: str | None = None

    def source(self, path: Path) -> Source:
        line, col = self.located.key_position((*self.prefix, *path))
        locked = self.layer == "enforce"
        return Source(self.located.file, line, col, self.layer, locked, self.pattern)

    def issue(self, path: Path, message: str, *, at_key: bool) -> ConfigIssue:
        full = (*self.prefix, *path)
        located = self.located
        line, col = located.key_position(full) if at_key else located.value_position(full)
        return ConfigIssue(located.file, line, col, message)


def repo_matches(pattern: str, repo_name: str) -> bool:
    """fnmatch an org `repos` pattern against `name` (or `owner/name` when the pattern has a `/`).

    Case-insensitive, like GitHub's repository names.
    """
    target = repo_name if "/" in pattern else repo_name.rsplit("/", 1)[-1]
    return fnmatchcase(target.lower(), pattern.lower())


def _is_leaf_setting(model: type[BaseModel], path: Path) -> bool:
    annotation = type_at(model, path)
    if annotation is None:
        return False
    return not (isinstance(annotation, type) and issubclass(annotation, BaseModel))


def _flag_path(key: str) -> Path | None:
    """A dotted flag key -> its path, or None when it names no setting.

    Agent names may contain dots, so `agents.gpt-4.1.model` is split where a field name follows.
    """
    if key.startswith("agents."):
        rest = key.removeprefix("agents.")
        for index, char in enumerate(rest):
            if char == ".":
                tail = tuple(rest[index + 1 :].split("."))
                if tail[0] in AgentSpec.model_fields and _is_leaf_setting(AgentSpec, tail):
                    return ("agents", rest[:index], *tail)
        return None
    path = tuple(key.split("."))
    if path[0] == "routes" or not _is_leaf_setting(AgentsConfig, path):
        return None
    return path


def _flag_part(flags: Mapping[str, object]) -> LayerPart:
    data: dict[str, object] = {}
    issues: list[ConfigIssue] = []
    for key, value in flags.items():
        path = _flag_path(key)
        if path is None:
            issues.append(ConfigIssue(FLAGS_FILE, 0, 0, f"{key!r} is not a setting a flag can set"))
            continue
        node = data
        for part in path[:-1]:
            child = node.setdefault(str(part), {})
            if not isinstance(child, dict):
                issues.append(ConfigIssue(FLAGS_FILE, 0, 0, f"{key!r} conflicts with another flag"))
                break
            node = child
        else:
            node[str(path[-1])] = value
    if issues:
        raise ConfigError(issues)
    return LayerPart("flag", data, Located(data=data, positions={}, file=FLAGS_FILE))


def _org_parts(org: Located, repo_name: str) -> tuple[list[LayerPart], LayerPart | None]:
    parts: list[LayerPart] = []
    defaults = org.data.get("defaults")
    if isinstance(defaults, dict):
        parts.append(LayerPart("org defaults", defaults, org, ("defaults",)))
    repos = org.data.get("repos")
    if isinstance(repos, dict):
        # Several patterns may match: later ones in the file win, like later layers.
        for pattern, values in repos.items():
            if isinstance(values, dict) and repo_matches(pattern, repo_name):
                parts.append(
                    LayerPart("org repos[pattern]", values, org, ("repos", pattern), pattern)
                )
    enforce = org.data.get("enforce")
    enforce_part = None
    if isinstance(enforce, dict):
        locked = {k: v for k, v in enforce.items() if k not in PAUSE_KEYS}
        enforce_part = LayerPart("enforce", locked, org, ("enforce",))
    return parts, enforce_part


def pause_of(org: Located | None) -> tuple[Pause, Source | None]:
    """The org's kill switch (`paused` and its companions under `enforce`), and where it is
    set; `Pause()` and None when the org file does not mention it."""
    enforce = org.data.get("enforce") if org is not None else None
    if org is None or not isinstance(enforce, dict):
        return Pause(), None
    switch = {k: v for k, v in enforce.items() if k in PAUSE_KEYS}
    if not switch:
        return Pause(), None
    part = LayerPart("enforce", switch, org, ("enforce",))
    key = "paused" if "paused" in switch else next(iter(switch))
    return Pause.model_validate(switch), part.source((key,))


def layer_parts(
    *,
    repo: Located | None,
    org: Located | None,
    repo_name: str,
    flags: Mapping[str, object] | None,
    label_prefix: str,
) -> tuple[list[LayerPart], LayerPart | None]:
    """Every layer for `repo_name`, lowest precedence first, and the org's `enforce` (also last
    in the list) when it has one; raises ConfigError for a flag that names no setting."""
    builtin = builtin_config(label_prefix=label_prefix)
    parts = [LayerPart("built-in", builtin.data, builtin)]
    enforce: LayerPart | None = None
    if org is not None:
        org_parts, enforce = _org_parts(org, repo_name)
        parts.extend(org_parts)
    if repo is not None:
        parts.append(LayerPart("repo", repo.data, repo))
    if flags:
        parts.append(_flag_part(flags))
    if enforce is not None:
        parts.append(enforce)
    return parts, enforce
