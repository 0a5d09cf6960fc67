"""Config problems as `file:line:col` issues, and pydantic's errors turned into their messages."""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from config.errors import BatonError

Path = tuple[str | int, ...]
Position = tuple[int, int]

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "IssueAt",
    "Path",
    "Position",
    "describe",
    "dotted",
    "pydantic_issues",
    "suggest",
    "type_at",
]


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


class ConfigError(BatonError):
    """A config that cannot be used; `issues` holds every problem found, in file order."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = sorted(issues, key=lambda i: (i.file, i.line, i.col))
        super().__init__("\n".join(str(issue) for issue in self.issues))


# Builds the issue for a path of the merged config, at the layer and position that set it.
IssueAt = Callable[[Path, str], ConfigIssue]


def dotted(path: Path) -> str:
    """`("agents", "claude", "model")` -> `agents.claude.model`; list indexes as `routes[1]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# Pydantic errors -> messages that say where, what was expected, and the likely fix.

_AGENT_NAME_RULE = (
    "use letters, digits, '.', '_' and '-', starting with a letter or digit (64 at most)"
)


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
