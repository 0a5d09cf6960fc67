"""`.env` files: the `KEY=VALUE` lines `baton register` writes and the commands that read
settings load from the working directory (a variable already in the environment wins).

The format is the common one: `#` comments, an optional `export `, values bare (a ` #` starts a
comment), in single quotes (literal) or in double quotes (`\\n`, `\\"`, `\\\\` escapes); quoted
values may span lines. Nothing is interpolated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from collections.abc import Iterable, MutableMapping

ENV_FILE = ".env"
_KEY = re.compile(r"(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)", re.DOTALL)
_BARE = re.compile(r"[A-Za-z0-9_./:@%+,=~-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _double_quoted(text: str, where: str) -> tuple[str, str]:
    """The value of a double-quoted string starting after its quote, and what follows it."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), text[i + 1 :]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    raise SettingsError(f"{where}: a double-quoted value is not closed")


def _value(raw: str, where: str) -> tuple[str, str]:
    """The value and the rest of the text after it (a quoted value may take further lines)."""
    if raw.startswith('"'):
        return _double_quoted(raw[1:], where)
    if raw.startswith("'"):
        end = raw.find("'", 1)
        if end < 0:
            raise SettingsError(f"{where}: a single-quoted value is not closed")
        return raw[1:end], raw[end + 1 :]
    line, newline, rest = raw.partition("\n")
    comment = re.search(r"\s#", line)
    value = line[: comment.start()] if comment else line
    return value.strip(), newline + rest


def parse(text: str, *, file: str = ENV_FILE) -> dict[str, str]:
    """Every `KEY=VALUE` of the file, in order; SettingsError with `file:line` otherwise."""
    values: dict[str, str] = {}
    rest = text
    while rest:
        where = f"{file}:{text.count(chr(10), 0, len(text) - len(rest)) + 1}"
        line, _, after = rest.partition("\n")
        if not line.strip() or line.strip().startswith("#"):
            rest = after
            continue
        match = _KEY.fullmatch(rest.lstrip())
        if match is None or "=" not in line:
            raise SettingsError(f"{where}: expected KEY=VALUE")
        key = match.group(1)
        value, rest = _value(match.group(2), where)
        tail, _, rest = rest.partition("\n")
        if tail.strip() and not tail.strip().startswith("#"):
            raise SettingsError(f"{where}: unexpected text after the value of {key}")
        values[key] = value
    return values


def render(values: Iterable[tuple[str, str]], *, header: str = "") -> str:
    """The lines of a `.env` holding `values` (quoted where needed), after `header`'s comments."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key, value in values:
        if _BARE.fullmatch(value):
            lines.append(f"{key}={value}")
        else:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            lines.append(f'{key}="{escaped}"')
    return "\n".join(lines) + "\n"


def load(path: Path, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Put the file's variables into `environ` (the process's by default) where it has none of
    that name: the environment wins. The names taken from the file; none when it is absent."""
    target = os.environ if environ is None else environ
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SettingsError(f"{path} cannot be read: {exc.strerror}") from exc
    taken = []
    for key, value in parse(text, file=str(path)).items():
        if key not in target:
            target[key] = value
            taken.append(key)
    return taken


def read_settings() -> Settings:
    """The settings as `baton serve` reads them: the environment and, for what it lacks,
    ./.env (which also gives the process the model keys it holds)."""
    load(Path(ENV_FILE))
    return load_settings()
