"""Merge built-in, org, repo and flag layers into one effective config with each value's source."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ValidationError

from config.defaults import BUILTIN_FILE, DEFAULT_LABEL_PREFIX, builtin_config
from config.flowyaml import flow
from config.guard import Operator, containment_issues
from config.loader import (
    ConfigError,
    ConfigIssue,
    Located,
    Path,
    dotted,
    pydantic_issues,
    type_at,
)
from config.schema import AgentsConfig, AgentSpec, parse_duration

__all__ = ["FLAGS_FILE", "Effective", "Layer", "Source", "effective_config", "repo_matches"]

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


@dataclass(frozen=True)
class Effective:
    """The merged config; `sources` maps each dotted leaf key (and `routes[i]`) to its source."""

    config: AgentsConfig
    sources: dict[str, Source]
    locked: frozenset[str]
    warnings: tuple[ConfigIssue, ...]


_BUILTIN_SOURCE = Source(BUILTIN_FILE, 0, 0, "built-in")


# Limits a command flag may lower under an org lock, never raise.
_LIMIT_KEYS = frozenset({"max_cost_usd", "timeout"})


def _tightens(path: Path, value: object, locked: object) -> bool:
    if not path or path[-1] not in _LIMIT_KEYS:
        return False
    try:
        new, old = parse_duration(value), parse_duration(locked)
    except ValueError:
        return False
    return isinstance(new, float) and isinstance(old, float) and new <= old


@dataclass(frozen=True)
class _Part:
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


def _flag_part(flags: Mapping[str, object]) -> _Part:
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
    return _Part("flag", data, Located(data=data, positions={}, file=FLAGS_FILE))


def _lock_values(values: dict[str, object], path: Path, into: dict[Path, object]) -> None:
    for key, value in values.items():
        here = (*path, key)
        if isinstance(value, dict) and here != ("routes",):
            _lock_values(value, here, into)
        else:
            into[here] = value


@dataclass
class _Merger:
    """Accumulates layers in precedence order; `origins` records which layer set each path."""

    locks: dict[Path, object]
    enforce: _Part | None
    data: dict[str, object] = field(default_factory=dict)
    tightened: set[Path] = field(default_factory=set)  # locked limits a flag lowered
    origins: dict[Path, _Part] = field(default_factory=dict)
    route_from: list[tuple[_Part, int]] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)

    def overlay(self, part: _Part) -> None:
        self._overlay(self.data, part.data, (), part)

    def _overlay(
        self, target: dict[str, object], values: dict[str, object], path: Path, part: _Part
    ) -> None:
        for key, value in values.items():
            here = (*path, key)
            if here == ("routes",):
                continue  # routes concatenate: see merge_routes
            current = target.get(key)
            if isinstance(value, dict):
                if not isinstance(current, dict):
                    current = {}
                    target[key] = current
                self.origins[here] = part
                self._overlay(current, value, here, part)
            elif not self._blocked(here, value, part):
                if isinstance(current, dict):
                    self._forget(here)  # a mapping replaced by a value: drop its keys' origins
                target[key] = copy.deepcopy(value)
                self.origins[here] = part

    def _forget(self, path: Path) -> None:
        for known in [p for p in self.origins if p[: len(path)] == path]:
            del self.origins[known]

    def _blocked(self, path: Path, value: object, part: _Part) -> bool:
        """A repo or flag value for a locked key is not applied; a different one is reported.
        A command flag may still tighten a locked limit: a lower cap is always within policy."""
        if part.layer == "enforce":
            return path in self.tightened  # the flag's lower limit stands
        if part.layer not in {"repo", "flag"} or path not in self.locks:
            return False
        if part.layer == "flag" and _tightens(path, value, self.locks[path]):
            self.tightened.add(path)
            return False
        locked_value = self.locks[path]
        if value != locked_value and self.enforce is not None:
            where = self.enforce.source(path).where
            message = (
                f"{dotted(path)} is locked by the org ({where}); "
                f"the org's value {flow(locked_value)} applies"
            )
            self.warnings.append(part.issue(path, message, at_key=True))
        return True

    def merge_routes(self, parts: list[_Part]) -> None:
        """Higher layers' routes are tried first: repo, org repos (last pattern first), org
        defaults, built-in. Routes set in `enforce` replace all others."""
        if self.enforce is not None and ("routes",) in self.locks:
            chosen = [self.enforce]
            for part in parts:
                attempt = part.data.get("routes")
                if (
                    part.layer == "repo"
                    and attempt is not None
                    and attempt != self.locks[("routes",)]
                ):
                    where = self.enforce.source(("routes",)).where
                    message = f"routes are locked by the org ({where}); the org's routes apply"
                    self.warnings.append(part.issue(("routes",), message, at_key=True))
        else:
            chosen = [part for part in reversed(parts) if part.layer not in {"enforce", "flag"}]
        routes: list[object] = []
        for part in chosen:
            own = part.data.get("routes")
            if isinstance(own, list):
                for index, route in enumerate(own):
                    routes.append(copy.deepcopy(route))
                    self.route_from.append((part, index))
        self.data["routes"] = routes

    def _locate(self, path: Path) -> tuple[_Part, Path] | None:
        """The layer that set `path` (or its nearest set ancestor), and the path inside it."""
        if len(path) >= 2 and path[0] == "routes" and isinstance(path[1], int):
            part, index = self.route_from[path[1]]
            return part, ("routes", index, *path[2:])
        for end in range(len(path), 0, -1):
            setter = self.origins.get(path[:end])
            if setter is not None:
                return setter, path
        return None

    def issue(self, path: Path, message: str, *, at_key: bool = False) -> ConfigIssue:
        found = self._locate(path)
        if found is None:
            return ConfigIssue(BUILTIN_FILE, 0, 0, message)
        part, inner = found
        return part.issue(inner, message, at_key=at_key)

    def source(self, path: Path) -> Source:
        if path[0] == "routes" or path in self.origins:
            found = self._locate(path)
            if found is not None:
                return found[0].source(found[1])
        return _BUILTIN_SOURCE  # a schema default no layer mentions

    def validate(
        self, known_adapters: Collection[str], operator: Operator | None = None
    ) -> AgentsConfig:
        try:
            config = AgentsConfig.model_validate(self.data)
        except ValidationError as exc:
            found = pydantic_issues(exc, data=self.data, model=AgentsConfig)
            raise ConfigError(self.issue(p, m, at_key=k) for p, k, m in found) from None
        issues = [*self._adapter_issues(config, known_adapters), *self._route_issues(config)]
        if operator is not None:
            issues += containment_issues(
                config, operator=operator, layer_of=lambda p: self.source(p).layer,
                issue=self.issue,
            )  # fmt: skip
        if issues:
            raise ConfigError(issues)
        return config

    def _adapter_issues(
        self, config: AgentsConfig, known_adapters: Collection[str]
    ) -> list[ConfigIssue]:
        known = sorted(known_adapters)
        return [
            self.issue(
                ("agents", name, "adapter"),
                f"agent {name!r} uses unknown adapter {agent.adapter!r}"
                f"{_known(agent.adapter, known)}",
            )
            for name, agent in config.agents.items()
            if agent.adapter not in known_adapters
        ]

    def _route_issues(self, config: AgentsConfig) -> list[ConfigIssue]:
        names = sorted(config.agents)
        issues: list[ConfigIssue] = []
        for index, route in enumerate(config.routes):
            if route.agent not in config.agents:
                issues.append(
                    self.issue(
                        ("routes", index, "agent"),
                        f"route {index + 1} uses unknown agent {route.agent!r}"
                        f"{_known(route.agent, names)}",
                    )
                )
            for position, name in enumerate(route.fallback):
                if name not in config.agents:
                    issues.append(
                        self.issue(
                            ("routes", index, "fallback", position),
                            f"route {index + 1} falls back to unknown agent {name!r}"
                            f"{_known(name, names)}",
                        )
                    )
        return issues

    def sources(self, config: AgentsConfig) -> dict[str, Source]:
        found: dict[str, Source] = {}

        def walk(value: object, path: Path) -> None:
            if path == ("routes",) and isinstance(value, list):
                for index in range(len(value)):
                    found[dotted((*path, index))] = self.source((*path, index))
            elif isinstance(value, dict) and value:
                for key, child in value.items():
                    walk(child, (*path, key))
            else:
                found[dotted(path)] = self.source(path)

        walk(config.model_dump(), ())
        return found


def _known(word: str, names: list[str]) -> str:
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (known: {', '.join(names)}){hint}"


def _org_parts(org: Located, repo_name: str) -> tuple[list[_Part], _Part | None]:
    parts: list[_Part] = []
    defaults = org.data.get("defaults")
    if isinstance(defaults, dict):
        parts.append(_Part("org defaults", defaults, org, ("defaults",)))
    repos = org.data.get("repos")
    if isinstance(repos, dict):
        # Several patterns may match: later ones in the file win, like later layers.
        for pattern, values in repos.items():
            if isinstance(values, dict) and repo_matches(pattern, repo_name):
                parts.append(_Part("org repos[pattern]", values, org, ("repos", pattern), pattern))
    enforce = org.data.get("enforce")
    enforce_part = (
        _Part("enforce", enforce, org, ("enforce",)) if isinstance(enforce, dict) else None
    )
    return parts, enforce_part


def effective_config(
    *,
    repo: Located | None,
    org: Located | None,
    repo_name: str,
    known_adapters: Collection[str],
    flags: Mapping[str, object] | None = None,
    label_prefix: str = DEFAULT_LABEL_PREFIX,
    operator: Operator | None = None,
) -> Effective:
    """Merge the layers for `repo_name`, then check agent names and adapters; raises ConfigError.

    `flags` are dotted keys the caller has already allow-listed (`{"agents.claude.model": "x"}`);
    `label_prefix` is the server's, which the built-in route's label follows.
    `operator`: what the server allows configs to reach (None only for checks with no server).
    """
    builtin = builtin_config(label_prefix=label_prefix)
    parts = [_Part("built-in", builtin.data, builtin)]
    enforce: _Part | None = None
    if org is not None:
        org_parts, enforce = _org_parts(org, repo_name)
        parts.extend(org_parts)
    if repo is not None:
        parts.append(_Part("repo", repo.data, repo))
    if flags:
        parts.append(_flag_part(flags))
    locks: dict[Path, object] = {}
    if enforce is not None:
        _lock_values(enforce.data, (), locks)
        parts.append(enforce)
    merger = _Merger(locks=locks, enforce=enforce)
    for part in parts:
        merger.overlay(part)
    merger.merge_routes(parts)
    config = merger.validate(known_adapters, operator)
    return Effective(
        config=config,
        sources=merger.sources(config),
        locked=frozenset(dotted(path) for path in locks),
        warnings=tuple(merger.warnings),
    )
