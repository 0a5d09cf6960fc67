"""Parse `.agents.yml` and the org's `agents.yml` into data, key positions and errors."""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from config.schema import AgentsConfig, OrgConfig

Path = tuple[str | int, ...]
Position = tuple[int, int]

__all__ = [
    "MAX_BYTES",
    "ConfigError",
    "ConfigIssue",
    "Located",
    "describe",
    "dotted",
    "load_org_file",
    "load_repo_file",
    "pydantic_issues",
    "suggest",
    "type_at",
]

# A config file is a page of YAML; these bound what a hostile file (an alias bomb, a giant or
# deeply nested document) can cost the server that parses it.
MAX_BYTES = 256 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 48

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Plain lists and mappings only: `!!set`, `!!omap` and application tags are not config.
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file; `line`/`col` are 1-based, 0 when there is no position."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ConfigError(Exception):
    """A config that cannot be used; `issues` holds every problem found, in file order."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = sorted(issues, key=lambda i: (i.file, i.line, i.col))
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass(frozen=True)
class Located:
    """Parsed data plus positions: `positions[path]` is where that key (or list item) starts,
    `value_positions[path]` where its value starts. Paths are tuples of keys and list indexes."""

    data: dict[str, object]
    positions: dict[Path, Position]
    file: str
    value_positions: dict[Path, Position] = field(default_factory=dict)

    def key_position(self, path: Path) -> Position:
        """The key at `path`, or the nearest enclosing key that has a position."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end]) or self.value_positions.get(path[:end])
            if found is not None:
                return found
        return (0, 0)

    def value_position(self, path: Path) -> Position:
        found = self.value_positions.get(path)
        return found if found is not None else self.key_position(path)


class _Stop(Exception):
    """Parsing cannot go on (a limit was hit); carries the issue to report."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.position = _position(node)
        self.message = message


def _position(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed YAML node tree into plain data, recording positions and structure errors."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[ConfigIssue] = []
        self.positions: dict[Path, Position] = {}
        self.value_positions: dict[Path, Position] = {}
        self._constructor = yaml.constructor.SafeConstructor()
        self._nodes = 0
        self._active: set[int] = set()

    def issue(self, position: Position, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, position[0], position[1], message))

    def value(self, node: yaml.Node, path: Path, depth: int) -> object:
        # Aliases make a small text expand into a huge tree: count nodes as they are expanded.
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Stop(node, f"too many values (more than {MAX_NODES}, counting alias expansion)")
        if depth > MAX_DEPTH:
            raise _Stop(node, f"nested too deeply (more than {MAX_DEPTH} levels)")
        if id(node) in self._active:
            raise _Stop(node, "this anchored value contains an alias to itself")
        self.value_positions[path] = _position(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if node.tag not in _COLLECTION_TAGS:
            self.issue(_position(node), f"unsupported YAML tag {node.tag!r}")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items: list[object] = []
                for index, child in enumerate(node.value):
                    self.positions[(*path, index)] = _position(child)
                    items.append(self.value(child, (*path, index), depth + 1))
                return items
            return self._mapping(node, path, depth)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode) -> object:
        try:
            return self._constructor.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            self.issue(_position(node), f"unsupported YAML value: {exc.problem}")
            return None

    def _mapping(self, node: yaml.Node, path: Path, depth: int) -> dict[str, object]:
        result: dict[str, object] = {}
        explicit: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._merge_into(result, value_node, path, depth)
            else:
                explicit.append((key_node, value_node))
        # `<<: *base` entries never win over keys written in the mapping itself.
        first_line: dict[str, int] = {}
        for key_node, value_node in explicit:
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(_position(key_node), "a key must be plain text, not a list or mapping")
                continue
            key = str(key_node.value)
            if key in first_line:
                self.issue(
                    _position(key_node), f"duplicate key {key!r} (first at line {first_line[key]})"
                )
                continue
            first_line[key] = _position(key_node)[0]
            self.positions[(*path, key)] = _position(key_node)
            result[key] = self.value(value_node, (*path, key), depth + 1)
        self.value_positions[path] = _position(node)
        return result

    def _merge_into(
        self, result: dict[str, object], value_node: yaml.Node, path: Path, depth: int
    ) -> None:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        # In a list of merged mappings the earlier ones win, so apply them last.
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self.issue(_position(source), "'<<' merges a mapping or a list of mappings")
                continue
            merged = self.value(source, path, depth)
            if isinstance(merged, dict):
                result.update(merged)


def _parse(text: str, file: str) -> tuple[object, _Builder]:
    """YAML text -> (plain data or None for an empty document, builder holding positions/issues)."""
    builder = _Builder(file)
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        builder.issue((1, 1), f"the file is {size} bytes; the limit is {MAX_BYTES}")
        return None, builder
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = f"invalid YAML: {exc.problem or 'cannot parse'}"
        if exc.context and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        builder.issue(position, message)
        return None, builder
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        builder.issue((line, col), f"invalid YAML: {exc.reason} (character {exc.character!r})")
        return None, builder
    except RecursionError:
        builder.issue((1, 1), f"nested too deeply (more than {MAX_DEPTH} levels)")
        return None, builder
    if root is None:
        return None, builder
    try:
        return builder.value(root, (), 0), builder
    except _Stop as stop:
        builder.issue(stop.position, stop.message)
        return None, builder


def _top_mapping(data: object, builder: _Builder, what: str) -> dict[str, object]:
    if data is None or isinstance(data, dict):
        return data or {}
    position = builder.value_positions.get((), (1, 1))
    builder.issue(
        position, f"the top level of {what} must be a mapping of keys like 'agents:' and 'routes:'"
    )
    return {}


# Pydantic errors -> messages that say where, what was expected, and the likely fix.

_AGENT_NAME_RULE = (
    "use letters, digits, '.', '_' and '-', starting with a letter or digit (64 at most)"
)


def dotted(path: Path) -> str:
    """`("agents", "claude", "model")` -> `agents.claude.model`; list indexes as `routes[1]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _unwrap(annotation: object) -> object:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            arms = [arm for arm in get_args(annotation) if arm is not type(None)]
            if len(arms) == 1:
                annotation = arms[0]
                continue
        return annotation


def type_at(model: type[BaseModel], path: Path) -> object | None:
    """The annotation the schema expects at `path` (None when the path leaves the schema)."""
    annotation: object = model
    for part in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = annotation.model_fields
            if not isinstance(part, str) or part not in fields:
                return None
            annotation = fields[part].annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        else:
            return None
    return _unwrap(annotation)


def _keys_of(annotation: object) -> list[str]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def suggest(word: str, options: Iterable[str], *, list_all: bool = True) -> str:
    """` (did you mean 'model'?)`, else the list of valid options when `list_all`."""
    choices = list(options)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(choices)})" if list_all and choices else ""


def describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _data_path(data: object, loc: tuple[str | int, ...]) -> tuple[Path, bool]:
    """The part of a pydantic `loc` that exists in the data, and whether it names a mapping key.

    Parts absent from the data are union tags or a missing key: they have no position.
    """
    path: list[str | int] = []
    current = data
    for part in loc:
        if part == "[key]":
            return tuple(path), True
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if not (in_dict or in_list):
            continue
        current = current[part]  # type: ignore[index]
        path.append(part)
    return tuple(path), False


def _message(
    kind: str,
    *,
    error_msg: str,
    loc: tuple[str | int, ...],
    value: object,
    model: type[BaseModel],
    path: Path,
    prefix: Path,
) -> str:
    where = dotted((*prefix, *path)) or "the top level"
    if kind == "extra_forbidden":
        parent = path[:-1]
        inside = f" in {dotted((*prefix, *parent))}" if (*prefix, *parent) else ""
        known = _keys_of(type_at(model, parent))
        return f"unknown key {path[-1]!r}{inside}{suggest(str(path[-1]), known)}"
    if kind == "missing":
        return f"{where} is missing the required key {loc[-1]!r}"
    if kind in {"string_pattern_mismatch", "string_too_long"}:
        return f"{value!r} is not a valid agent name: {_AGENT_NAME_RULE}"
    if kind == "literal_error":
        if path == ("version",):
            return f"version: Baton implements version 1 of this file, got {describe(value)}"
        options = [str(arg) for arg in get_args(type_at(model, path))]
        return f"{where}: {describe(value)} is not one of {', '.join(options)}" + suggest(
            str(value), options, list_all=False
        )
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        hint = "; remove the key or add entries under it" if value is None else ""
        return f"{where}: expected a mapping (key: value), got {describe(value)}{hint}"
    if kind == "list_type":
        return f"{where}: expected a list, got {describe(value)}"
    if kind == "string_type":
        hint = "; put it in quotes to keep it as text" if isinstance(value, int | float) else ""
        return f"{where}: expected text, got {describe(value)}{hint}"
    if kind in {"bool_type", "bool_parsing"}:
        return f"{where}: expected true or false, got {describe(value)}"
    if kind in {"float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"}:
        whole = "a whole number" if kind.startswith("int") else "a number"
        return f"{where}: expected {whole}, got {describe(value)}"
    text = error_msg.removeprefix("Value error, ")
    return f"{where}: {text[:1].lower()}{text[1:]} (got {describe(value)})"


def pydantic_issues(
    exc: ValidationError,
    *,
    data: object,
    model: type[BaseModel],
    prefix: Path = (),
    partial: bool = False,
) -> list[tuple[Path, bool, str]]:
    """Each validation error as (full path, whether to point at the key, message).

    `partial`: the file is one layer of a merge, so an agent may leave `adapter` to another layer.
    """
    found: list[tuple[Path, bool, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        if partial and kind == "missing" and len(loc) == 3 and loc[::2] == ("agents", "adapter"):
            continue
        path, names_key = _data_path(data, loc)
        use_key = names_key or kind in {"extra_forbidden", "missing"}
        message = _message(
            kind,
            error_msg=error["msg"],
            loc=loc,
            value=error.get("input"),
            model=model,
            path=path,
            prefix=prefix,
        )
        found.append(((*prefix, *path), use_key, message))
    return found


def _validate(
    builder: _Builder,
    data: object,
    model: type[BaseModel],
    *,
    prefix: Path = (),
    partial: bool,
) -> None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        located = Located({}, builder.positions, builder.file, builder.value_positions)
        for path, use_key, message in pydantic_issues(
            exc, data=data, model=model, prefix=prefix, partial=partial
        ):
            position = located.key_position(path) if use_key else located.value_position(path)
            builder.issue(position, message)


def _org_only_keys(builder: _Builder, data: dict[str, object], prefix: Path) -> None:
    budget = data.get("budget")
    if isinstance(budget, dict) and "org_monthly_usd" in budget:
        builder.issue(
            builder.positions.get((*prefix, "budget", "org_monthly_usd"), (1, 1)),
            "budget.org_monthly_usd caps the whole org: set it in the org's agents.yml "
            "(defaults or enforce), not per repository",
        )


def _finish(data: dict[str, object], builder: _Builder) -> Located:
    if builder.issues:
        raise ConfigError(builder.issues)
    return Located(data, builder.positions, builder.file, builder.value_positions)


def load_repo_file(text: str, *, file: str = ".agents.yml") -> Located:
    """Parse and validate a repository's `.agents.yml`; agents may omit keys the org supplies."""
    raw, builder = _parse(text, file)
    data = _top_mapping(raw, builder, file)
    _validate(builder, data, AgentsConfig, partial=True)
    _org_only_keys(builder, data, ())
    if "prices" in data:
        # Prices turn tokens into the dollars budgets count: a repository setting its own
        # could make its runs look free.
        builder.issue(
            builder.positions.get(("prices",), (1, 1)),
            "prices are the org's negotiated rates: set them in the org's agents.yml "
            "(defaults, repos or enforce), not in a repository",
        )
    if "security" in data:
        # What a repository's config may reach of the server is not the repository's to grant.
        builder.issue(
            builder.positions.get(("security",), (1, 1)),
            "security is granted by the org: set it in the org's agents.yml "
            "(defaults, repos or enforce), not in a repository",
        )
    return _finish(data, builder)


def load_org_file(text: str, *, file: str = "agents.yml") -> Located:
    """Parse and validate the org's `agents.yml`: `defaults`, `enforce` and each `repos[pattern]`
    are (partial) `.agents.yml` contents."""
    raw, builder = _parse(text, file)
    data = _top_mapping(raw, builder, file)
    _validate(builder, data, OrgConfig, partial=False)
    for section in ("defaults", "enforce"):
        part = data.get(section)
        if isinstance(part, dict):
            _validate(builder, part, AgentsConfig, prefix=(section,), partial=True)
    repos = data.get("repos")
    if isinstance(repos, dict):
        for pattern, part in repos.items():
            if isinstance(part, dict):
                prefix: Path = ("repos", pattern)
                _validate(builder, part, AgentsConfig, prefix=prefix, partial=True)
                _org_only_keys(builder, part, prefix)
    return _finish(data, builder)
