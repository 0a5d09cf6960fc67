"""A small JSON Schema checker for the keywords in our schema (jsonschema is not a dependency)."""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
    "integer": (int,),
}
# Keywords this checker does not enforce; any other unknown keyword fails loudly, so the
# schema cannot grow a constraint these tests silently ignore.
_OBJECT_KEYWORDS = {
    "properties",
    "patternProperties",
    "additionalProperties",
    "required",
    "propertyNames",
}
_ANNOTATIONS = {"title", "description", "default", "$schema", "$id", "$defs", "examples"}


def _is_type(value: object, name: str) -> bool:
    if isinstance(value, bool) and name in {"number", "integer"}:
        return False
    return isinstance(value, _TYPES[name])


def check(
    schema: dict[str, Any], value: object, *, root: dict[str, Any] | None = None, where: str = "$"
) -> list[str]:
    """Every violation of `schema` by `value`, as `path: problem` strings."""
    root = schema if root is None else root
    problems: list[str] = []
    for keyword, rule in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "$ref":
            name = rule.removeprefix("#/$defs/")
            problems += check(root["$defs"][name], value, root=root, where=where)
        elif keyword == "type":
            if not _is_type(value, rule):
                problems.append(f"{where}: not {rule}")
        elif keyword == "anyOf":
            if all(check(arm, value, root=root, where=where) for arm in rule):
                problems.append(f"{where}: matches no alternative")
        elif keyword == "enum":
            if value not in rule:
                problems.append(f"{where}: not one of {rule}")
        elif keyword == "const":
            if value != rule:
                problems.append(f"{where}: not {rule!r}")
        elif keyword == "pattern":
            if isinstance(value, str) and re.search(rule, value) is None:
                problems.append(f"{where}: does not match {rule}")
        elif keyword in {"minimum", "exclusiveMinimum", "maximum", "maxLength", "minLength"}:
            problems += _bound(keyword, rule, value, where)
        elif keyword == "items":
            if isinstance(value, list):
                for index, item in enumerate(value):
                    problems += check(rule, item, root=root, where=f"{where}[{index}]")
        elif keyword not in _OBJECT_KEYWORDS:
            problems.append(f"schema keyword {keyword!r} is not supported by this checker")
    if isinstance(value, dict) and _OBJECT_KEYWORDS & schema.keys():
        problems += _object(schema, value, root, where)
    return problems


def _bound(keyword: str, rule: int, value: object, where: str) -> list[str]:
    if keyword in {"maxLength", "minLength"}:
        if not isinstance(value, str):
            return []
        ok = len(value) <= rule if keyword == "maxLength" else len(value) >= rule
    elif not _is_type(value, "number"):
        return []
    else:
        assert isinstance(value, int | float)
        ok = {"minimum": value >= rule, "maximum": value <= rule}.get(keyword, value > rule)
    return [] if ok else [f"{where}: violates {keyword} {rule}"]


def _object(
    schema: dict[str, Any], value: dict[str, Any], root: dict[str, Any], where: str
) -> list[str]:
    problems = [
        f"{where}: missing {key!r}" for key in schema.get("required", []) if key not in value
    ]
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        here = f"{where}.{key}"
        if "propertyNames" in schema:
            problems += check(schema["propertyNames"], key, root=root, where=here)
        matched = [sub for pattern, sub in patterns.items() if re.search(pattern, key)]
        if key in properties:
            problems += check(properties[key], item, root=root, where=here)
        for sub in matched:
            problems += check(sub, item, root=root, where=here)
        if key not in properties and not matched:
            if extra is False:
                problems.append(f"{here}: unknown key")
            elif isinstance(extra, dict):
                problems += check(extra, item, root=root, where=here)
    return problems


def undocumented(schema: dict[str, Any]) -> list[tuple[object, str]]:
    """(model title, key) of every property, in the schema or its definitions, without a
    description."""
    models = [schema, *schema.get("$defs", {}).values()]
    return [
        (model.get("title"), key)
        for model in models
        for key, prop in model.get("properties", {}).items()
        if not prop.get("description")
    ]
