"""Merge built-in, org, repo and flag layers into one effective config with each value's source."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from config.defaults import BUILTIN_FILE, DEFAULT_LABEL_PREFIX
from config.flowyaml import flow
from config.guard import Operator, containment_issues
from config.issues import ConfigError, ConfigIssue, Path, dotted, pydantic_issues
from config.layers import (
    BUILTIN_SOURCE,
    FLAGS_FILE,
    Layer,
    LayerPart,
    Source,
    layer_parts,
    pause_of,
    repo_matches,
)
from config.references import reference_issues
from config.schema import AgentsConfig, Pause, parse_duration
from config.yamlpos import Located

# `FLAGS_FILE`, `Layer`, `Source` and `repo_matches` live in `config.layers`; re-exported.
__all__ = ["FLAGS_FILE", "Effective", "Layer", "Source", "effective_config", "repo_matches"]


@dataclass(frozen=True)
class Effective:
    """The merged config; `sources` maps each dotted leaf key (and `routes[i]`) to its source."""

    config: AgentsConfig
    sources: dict[str, Source]
    locked: frozenset[str]
    warnings: tuple[ConfigIssue, ...]
    # The org's kill switch (`enforce: {paused: ...}`) and where it is set.
    pause: Pause = field(default_factory=Pause)
    pause_source: Source | None = None


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
    enforce: LayerPart | None
    data: dict[str, object] = field(default_factory=dict)
    tightened: set[Path] = field(default_factory=set)  # locked limits a flag lowered
    origins: dict[Path, LayerPart] = field(default_factory=dict)
    route_from: list[tuple[LayerPart, int]] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)

    def overlay(self, part: LayerPart) -> None:
        self._overlay(self.data, part.data, (), part)

    def _overlay(
        self, target: dict[str, object], values: dict[str, object], path: Path, part: LayerPart
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

    def _blocked(self, path: Path, value: object, part: LayerPart) -> bool:
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

    def merge_routes(self, parts: list[LayerPart]) -> None:
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

    def _locate(self, path: Path) -> tuple[LayerPart, Path] | None:
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
        return BUILTIN_SOURCE  # a schema default no layer mentions

    def validate(
        self, known_adapters: Collection[str], operator: Operator | None = None
    ) -> AgentsConfig:
        try:
            config = AgentsConfig.model_validate(self.data)
        except ValidationError as exc:
            found = pydantic_issues(exc, data=self.data, model=AgentsConfig)
            raise ConfigError(self.issue(p, m, at_key=k) for p, k, m in found) from None
        issues = reference_issues(config, known_adapters=known_adapters, issue=self.issue)
        if operator is not None:
            issues += containment_issues(
                config, operator=operator, layer_of=lambda p: self.source(p).layer,
                issue=self.issue,
            )  # fmt: skip
        if issues:
            raise ConfigError(issues)
        return config

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
    parts, enforce = layer_parts(
        repo=repo, org=org, repo_name=repo_name, flags=flags, label_prefix=label_prefix
    )
    locks: dict[Path, object] = {}
    if enforce is not None:
        _lock_values(enforce.data, (), locks)
    merger = _Merger(locks=locks, enforce=enforce)
    for part in parts:
        merger.overlay(part)
    merger.merge_routes(parts)
    config = merger.validate(known_adapters, operator)
    pause, pause_source = pause_of(org)
    return Effective(
        config=config,
        sources=merger.sources(config),
        locked=frozenset(dotted(path) for path in locks),
        warnings=tuple(merger.warnings),
        pause=pause,
        pause_source=pause_source,
    )
