"""What Baton sends out (pushed blobs, commit messages, PR text, comments, check runs, logs) must
not carry its own secrets, in any form an agent could smuggle them in, nor credential-like tokens.

The rule: a known secret is found plain, reversed, as hex (either case) or as base64 / base64url at
any alignment inside a longer stream (padded or not), and each of those also when split by
whitespace, quotes, `+`, `,` or a backslash continuation, or interleaved with NULs (UTF-16). A
private key PEM is also found by its body alone and by any one 64-character line of it. Values
under 8 characters are ignored. Token formats (GitHub, PEM header, Anthropic, OpenAI, AWS, Google)
are found anywhere in a text, and in a blob only on lines the old blob did not already have.
No I/O: the caller decides what to block and what to say; a finding never holds the value.
"""

from __future__ import annotations

import base64
import binascii
import re
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

MIN_SECRET_LENGTH = 8
MASK = "***"
PEM_LINE_LENGTH = 64

# What may sit between the pieces of a split secret: whitespace, quotes, the `+` and `,` of a
# concatenation, a backslash continuation, NULs (UTF-16 text) and bytes that do not decode.
_SQUEEZE = re.compile(r"[\s\"'+\\,\x00\ufffd]+")
_HEX = re.compile(r"[0-9a-fA-F]+")
_LETTERS = re.compile(r"[A-Za-z]+")
_URLSAFE = str.maketrans("+/", "-_")


def _token(prefix: str, rest: str) -> re.Pattern[str]:
    # The literal comes first so the engine can jump from one to the next (a leading \b would make
    # it try every position of a 5 MiB blob); the lookbehind right after it is that \b.
    literal = re.escape(prefix)
    return re.compile(rf"{literal}(?<!\w{literal}){rest}")


TOKEN_PATTERNS: Mapping[str, re.Pattern[str]] = {
    "a GitHub token": _token("g", r"(?:h[pousr]_[A-Za-z0-9]{20,}|ithub_pat_[A-Za-z0-9_]{20,})"),
    "a private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "an Anthropic key": _token("sk-", r"ant-[A-Za-z0-9_-]{20,}"),
    "an OpenAI key": _token("sk-", r"(?!ant-)(?:proj-)?[A-Za-z0-9_-]{32,}"),
    "an AWS access key": _token("AKIA", r"[0-9A-Z]{16}\b"),
    "a Google API key": _token("AIza", r"[0-9A-Za-z_-]{35}\b"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret or token found: what it is and where, never its value."""

    rule: str
    where: str
    line: int | None = None

    def __str__(self) -> str:
        at = f" line {self.line}" if self.line is not None else ""
        return f"{self.rule} in {self.where}{at}"


@dataclass(frozen=True, slots=True)
class _Needle:
    rule: str
    text: str  # squeezed
    # A secret of letters only, found plain or reversed, counts only where it is not part of a
    # longer word; encoded forms sit inside longer streams by nature.
    whole_word: bool = False


def squeeze(text: str) -> str:
    """`text` without what may separate the pieces of a split secret."""
    return _SQUEEZE.sub("", text)


def decode_blob(data: bytes) -> str:
    """Bytes as text for scanning: UTF-8 with undecodable bytes as U+FFFD and NULs kept, so no
    binary prefix or stray byte hides the ASCII around it (squeezing then drops both)."""
    return data.decode("utf-8", errors="replace")


def _base64_cores(data: bytes) -> Iterator[str]:
    """For each of the three offsets `data` can start at within a 3-byte group, the characters of
    its base64 that depend on `data` alone (not on the bytes around it, nor on padding)."""
    for pad in range(3):
        encoded = base64.b64encode(bytes(pad) + data).decode()
        yield encoded[(8 * pad + 5) // 6 : 8 * (pad + len(data)) // 6]


def _disguises(label: str, text: str, what: str = "") -> Iterator[_Needle]:
    """`text` plain, reversed, as hex and as base64 / base64url; rules read "label (what, form)"."""

    def rule(form: str) -> str:
        qualifier = ", ".join(part for part in (what, form) if part)
        return f"{label} ({qualifier})" if qualifier else label

    data = text.encode()
    yield _Needle(rule(""), text, whole_word=True)
    yield _Needle(rule("reversed"), text[::-1], whole_word=True)
    yield _Needle(rule("hex"), data.hex())
    yield _Needle(rule("hex"), data.hex().upper())
    for core in _base64_cores(data):
        yield _Needle(rule("base64"), core)
        yield _Needle(rule("base64url"), core.translate(_URLSAFE))


def _pem_forms(label: str, pem: str) -> Iterator[_Needle]:
    """The body alone, and each full line of it on its own in every disguise: a key re-wrapped
    with other line ends or widths is still caught line by line."""
    lines = [line.strip() for line in pem.splitlines()]
    body_lines = [
        line for line in lines if line and not line.startswith("-----") and ":" not in line
    ]
    body = "".join(body_lines)
    yield _Needle(f"{label} (its base64 body)", body)
    yield _Needle(f"{label} (its base64 body, reversed)", body[::-1])
    for line in body_lines:
        if len(line) == PEM_LINE_LENGTH:
            yield from _disguises(label, line, "a line of its body")
    try:
        der = base64.b64decode(body)
    except binascii.Error:
        return  # not a well-formed body: the text forms above still stand
    yield _Needle(f"{label} (its key bytes in hex)", der.hex())
    yield _Needle(f"{label} (its key bytes in hex)", der.hex().upper())


def _forms(label: str, value: str) -> Iterator[_Needle]:
    value = value.strip()  # so an encoding of the value with or without its final newline matches
    yield from _disguises(label, value)
    if _HEX.fullmatch(value):  # a hex secret means the same in either case
        yield from _disguises(label, value.lower())
        yield from _disguises(label, value.upper())
    if "-----BEGIN" in value:
        yield from _pem_forms(label, value)


class _Squeezed:
    """A text and its squeezed copy, with the way back from a squeezed offset to the original."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.flat = squeeze(text)
        self._runs: tuple[array[int], array[int]] | None = None

    def _origin(self, k: int) -> int:
        if self._runs is None:  # built only on a hit: clean text never pays for it
            starts, shifts, removed = array("q"), array("q"), 0
            for run in _SQUEEZE.finditer(self.text):
                removed += run.end() - run.start()
                starts.append(run.end() - removed)
                shifts.append(removed)
            self._runs = (starts, shifts)
        starts, shifts = self._runs
        i = bisect_right(starts, k)
        return k + (shifts[i - 1] if i else 0)

    def spans(self, needle: str) -> Iterator[tuple[int, int]]:
        """Every occurrence of `needle` in the squeezed copy, as (start, end) in the original."""
        k = self.flat.find(needle)
        while k >= 0:
            yield self._origin(k), self._origin(k + len(needle) - 1) + 1
            k = self.flat.find(needle, k + 1)

    def line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def inside_word(self, start: int, end: int) -> bool:
        before = self.text[start - 1 : start]
        return before.isalpha() or self.text[end : end + 1].isalpha()


def _token_findings(text: str, where: str, skip: frozenset[str]) -> list[Finding]:
    """The first line each token format is on, among the lines of `text` not in `skip`."""
    found: list[Finding] = []
    for rule, pattern in TOKEN_PATTERNS.items():
        for match in pattern.finditer(text):
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            if text[start : end if end >= 0 else len(text)] not in skip:
                found.append(Finding(rule, where, text.count("\n", 0, start) + 1))
                break
    return found


class SecretScanner:
    """Finds the given secrets in every form, and token formats; see the module docstring."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        """secrets: label -> value, e.g. {"the webhook secret": "..."}; every form is made once."""
        needles: dict[str, _Needle] = {}
        for label, value in secrets.items():
            if len(value) < MIN_SECRET_LENGTH:
                continue
            for form in _forms(label, value):
                text = squeeze(form.text)
                if len(text) >= MIN_SECRET_LENGTH and text not in needles:
                    whole_word = form.whole_word and _LETTERS.fullmatch(text) is not None
                    needles[text] = _Needle(form.rule, text, whole_word)
        self._needles = tuple(needles.values())

    def scan_text(self, text: str, *, where: str) -> list[Finding]:
        """Known secrets in every form, and token formats, anywhere in `text`."""
        where = self.mask(where)
        return [
            *self._known(_Squeezed(text), where),
            *_token_findings(text, where, frozenset()),
        ]

    def scan_blob(self, new: bytes, *, where: str, old: bytes | None = None) -> list[Finding]:
        """A file as it will be pushed, read with `decode_blob`: known secrets anywhere in it,
        token formats only on lines `old` did not have (so a fixture's example key does not block
        every later change to that file)."""
        where = self.mask(where)
        text = decode_blob(new)
        skip = frozenset(decode_blob(old).split("\n")) if old is not None else frozenset()
        return [
            *self._known(_Squeezed(text), where),
            *_token_findings(text, where, skip),
        ]

    def mask(self, text: str) -> str:
        """`text` with every occurrence of a known secret, in any form scanning finds, as `***`."""
        if not self._needles:
            return text
        squeezed = _Squeezed(text)
        spans = sorted(span for needle in self._needles for span in squeezed.spans(needle.text))
        pieces: list[str] = []
        done = 0
        for start, end in spans:
            if start >= done:
                pieces += [text[done:start], MASK]
            done = max(done, end)
        pieces.append(text[done:])
        return "".join(pieces)

    def _known(self, squeezed: _Squeezed, where: str) -> Iterator[Finding]:
        """One finding per form of a secret, at the line its first occurrence starts on."""
        seen: set[Finding] = set()
        for needle in self._needles:
            for start, end in squeezed.spans(needle.text):
                if needle.whole_word and squeezed.inside_word(start, end):
                    continue
                finding = Finding(needle.rule, where, squeezed.line(start))
                if finding not in seen:
                    seen.add(finding)
                    yield finding
                break
