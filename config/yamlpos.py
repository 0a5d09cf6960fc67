"""YAML to plain data with each key's and value's position, within limits for a hostile file."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from config.issues import ConfigIssue, Path, Position

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "Builder", "Located", "parse"]

# A config file is a page of YAML; these bound what a hostile file (an alias bomb, a giant or
# deeply nested document) can cost the server that parses it.
MAX_BYTES = 256 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 48

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Plain lists and mappings only: `!!set`, `!!omap` and application tags are not config.
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


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


class Builder:
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


def parse(text: str, file: str) -> tuple[object, Builder]:
    """YAML text -> (plain data or None for an empty document, builder holding positions/issues)."""
    builder = Builder(file)
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
