"""Values as one line of flow-style YAML, for effective-config listings and config messages."""

from __future__ import annotations

import math
from decimal import Decimal

import yaml

__all__ = ["flow"]

_PLAIN_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./")
_PLAIN_REST = _PLAIN_FIRST | frozenset("-+@")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def _needs_escape(char: str) -> bool:
    # Control characters, YAML line separators and the backtick (it could close the caller's
    # markdown code fence) are written as \u escapes.
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or char in "\u2028\u2029\ufeff`"


def _quoted(text: str) -> str:
    out = ['"']
    for char in text:
        if char in {'"', "\\"}:
            out.append("\\" + char)
        elif _needs_escape(char):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _text(value: str) -> str:
    """A string as YAML: plain when it reads back as the same string, else double-quoted."""
    plain_chars = value[:1] in _PLAIN_FIRST and all(char in _PLAIN_REST for char in value[1:])
    # Within these characters a plain scalar is text unless YAML resolves it to another type
    # (`yes`, `1.5`, `null`, `2024-01-01`): ask the resolver PyYAML reads with.
    if not plain_chars:
        return _quoted(value)
    # types-PyYAML leaves Resolver.resolve unannotated.
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return value if tag == _STR_TAG else _quoted(value)


def _number(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    # YAML 1.1 reads `1e-05` as text: write floats out positionally.
    text = format(Decimal(repr(value)), "f")
    return text if "." in text else f"{text}.0"


def flow(value: object) -> str:
    """A value as one line of flow-style YAML, e.g. `{when: {label: "agent:fix"}, agent: x}`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_text(str(k))}: {flow(v)}" for k, v in value.items()) + "}"
    return _text(str(value))
