"""Baton's own secrets and credential-shaped tokens are found in every form an agent could use."""

from __future__ import annotations

import base64
import functools
import random
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot import secretscan
from bot.secretscan import Finding, SecretScanner

if TYPE_CHECKING:
    from collections.abc import Callable

RNG = random.Random(20261201)
WEBHOOK = RNG.randbytes(32).hex()  # what secrets.token_hex(32) makes
MODEL_KEY = "sk-ant-api03-" + base64.urlsafe_b64encode(RNG.randbytes(69)).decode().rstrip("=")
INSTALLATION_TOKEN = "ghs_" + "".join(
    RNG.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0123456789", k=36)
)
OPENAI_KEY = "sk-proj-" + "".join(RNG.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=48))


@functools.cache
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def known() -> dict[str, str]:
    return {
        "the webhook secret": WEBHOOK,
        "the agent's model key": MODEL_KEY,
        "the App's private key": private_key_pem(),
        "the installation token": INSTALLATION_TOKEN,
        "the OpenAI key": OPENAI_KEY,
    }


@functools.cache
def scanner() -> SecretScanner:
    return SecretScanner(known())


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


# --- how an agent might disguise a value (written here from scratch, not taken from the module)


def in_stream(prefix: int, *, urlsafe: bool = False, padded: bool = True) -> Callable[[str], str]:
    def encode(value: str) -> str:
        around = random.Random(prefix)  # neighbours of the value in the stream
        data = around.randbytes(prefix) + value.encode() + around.randbytes(7)
        encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()
        return encoded if padded else encoded.rstrip("=")

    return encode


FORMS: dict[str, Callable[[str], str]] = {
    "plain": lambda value: value,
    "base64": lambda value: base64.b64encode(value.encode()).decode(),
    "base64 after one byte": in_stream(1),
    "base64 after two bytes": in_stream(2),
    "base64 after three bytes": in_stream(3),
    "base64 unpadded": in_stream(0, padded=False),
    "base64url": lambda value: base64.urlsafe_b64encode(value.encode()).decode(),
    "base64url after one byte unpadded": in_stream(1, urlsafe=True, padded=False),
    "base64url after two bytes": in_stream(2, urlsafe=True),
    "hex": lambda value: value.encode().hex(),
    "HEX": lambda value: value.encode().hex().upper(),
    "reversed": lambda value: value[::-1],
}


def pieces(text: str, size: int = 11) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


SPLITS: dict[str, Callable[[str], str]] = {
    "whole": lambda text: text,
    "over lines": lambda text: "\n".join(pieces(text)),
    "between spaces": lambda text: " ".join(pieces(text)),
    "as python string pieces": lambda text: '"' + '"\n    "'.join(pieces(text)) + '"',
    "as quote-plus-quote": lambda text: "'" + "' + '".join(pieces(text)) + "'",
    "with backslash-newline": lambda text: "\\\n".join(pieces(text)),
    "as a list of strings": lambda text: '["' + '", "'.join(pieces(text)) + '"]',
}

LABELS = ["the webhook secret", "the agent's model key", "the App's private key"]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("label", LABELS)
def test_every_form_of_a_known_secret_is_found_in_text_and_in_a_blob(
    label: str, form: str, split: str
) -> None:
    payload = SPLITS[split](FORMS[form](known()[label].strip()))
    text = f"import os\n\nleak = {payload}\nprint(leak)\n"
    for findings in (
        scanner().scan_text(text, where="PR body"),
        scanner().scan_blob(text.encode(), where="src/leak.py"),
    ):
        mine = [f for f in findings if f.rule.startswith(label)]
        assert mine, (label, form, split)
        assert min(f.line or 0 for f in mine) == 3  # a PEM's body lines are found further down


def test_base64_of_the_webhook_secret_in_the_middle_of_a_stream_is_found() -> None:
    stream = base64.encodebytes(RNG.randbytes(3001) + WEBHOOK.encode() + RNG.randbytes(999))
    findings = scanner().scan_blob(stream, where="assets/blob.b64")
    assert rules(findings) == ["the webhook secret (base64)"]
    assert findings[0].line == 3001 * 4 // 3 // 76 + 1


def test_a_file_starting_with_nul_bytes_still_has_its_secret_found() -> None:
    blob = b"\x00\x00\x00\x01\xff\xfe" + WEBHOOK.encode() + b"\x00\x89PNG"
    assert rules(scanner().scan_blob(blob, where="img.png")) == ["the webhook secret"]


def test_a_secret_interleaved_with_undecodable_bytes_is_found() -> None:
    blob = b"\x00" + b"\xff".join(bytes([c]) for c in MODEL_KEY.encode())
    assert "the agent's model key" in rules(scanner().scan_blob(blob, where="data.bin"))


def test_a_secret_written_as_utf16_is_found() -> None:
    blob = ("key=" + MODEL_KEY).encode("utf-16")
    assert "the agent's model key" in rules(scanner().scan_blob(blob, where="notes.txt"))


def test_a_file_marked_minus_diff_is_scanned_like_any_other() -> None:
    # .gitattributes hides the diff from a reviewer, not the blob from the scanner
    blob = b"binary-ish\n" + base64.b64encode(private_key_pem().encode())
    findings = scanner().scan_blob(blob, where="vendor/lib.min.js", old=b"binary-ish\n")
    assert "the App's private key (base64)" in rules(findings)


def test_a_secret_split_across_two_lines_of_a_python_string_concat_is_found_on_its_first() -> None:
    code = f'import os\nKEY = (\n    "{WEBHOOK[:30]}"\n    "{WEBHOOK[30:]}"\n)\n'
    assert scanner().scan_text(code, where="config.py") == [
        Finding("the webhook secret", "config.py", 3)
    ]


def test_an_upper_cased_hex_secret_is_found() -> None:
    assert rules(scanner().scan_text(WEBHOOK.upper(), where="log")) == ["the webhook secret"]


def test_a_high_entropy_secret_glued_to_other_characters_is_found() -> None:
    text = f"xyz{WEBHOOK}abc"
    assert rules(scanner().scan_text(text, where="comment")) == ["the webhook secret"]


def test_a_secret_that_is_part_of_a_longer_word_is_not_reported() -> None:
    words = SecretScanner({"the dev secret": "development"})
    assert words.scan_text("redevelopments happen; tnempoleveder", where="PR body") == []
    assert rules(words.scan_text("secret = 'development'", where="PR body")) == ["the dev secret"]
    assert rules(words.scan_text("'devel' + 'opment'", where="PR body")) == ["the dev secret"]


def test_the_private_key_body_without_its_header_is_found() -> None:
    body = "".join(line for line in private_key_pem().splitlines() if not line.startswith("---"))
    findings = scanner().scan_text(f"blob = {body!r}", where="check run")
    assert "the App's private key (its base64 body)" in rules(findings)


def test_any_single_line_of_the_private_key_body_is_found() -> None:
    lines = private_key_pem().splitlines()[1:-1]
    for line in (lines[0], lines[7], lines[-2]):
        findings = scanner().scan_text(f"x\nsome = '{line}'\n", where="comment")
        assert findings == [Finding("the App's private key (a line of its body)", "comment", 2)]


def test_a_json_escaped_private_key_is_found() -> None:
    escaped = private_key_pem().replace("\n", "\\n")
    assert "the App's private key (a line of its body)" in rules(
        scanner().scan_text(f'{{"key": "{escaped}"}}', where="issue comment")
    )


def test_the_private_key_bytes_in_hex_are_found() -> None:
    body = "".join(private_key_pem().splitlines()[1:-1])
    text = base64.b64decode(body).hex()
    findings = scanner().scan_text(text, where="commit message")
    assert rules(findings) == ["the App's private key (its key bytes in hex)"]


@pytest.mark.parametrize(
    "rewrap",
    [
        lambda pem: pem,
        lambda pem: pem.replace("\n", "\r\n"),
        lambda pem: pem.rstrip("\n"),
        lambda pem: "\n".join(pieces("".join(pem.splitlines()[1:-1]), 76)),
    ],
    ids=["as generated", "with CRLF", "without the final newline", "re-wrapped at 76"],
)
@pytest.mark.parametrize("encode", ["base64", "base64 after one byte", "hex", "reversed"])
def test_an_encoded_private_key_is_found_however_it_was_wrapped(
    rewrap: Callable[[str], str], encode: str
) -> None:
    payload = FORMS[encode](rewrap(private_key_pem()))
    assert any(
        f.rule.startswith("the App's private key")
        for f in scanner().scan_text(payload, where="PR body")
    )


def test_any_private_key_header_is_reported_as_a_private_key() -> None:
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    assert scanner().scan_text(text, where="PR body") == [Finding("a private key", "PR body", 1)]


TOKENS = {
    "a GitHub token": "ghp_" + "a1B2c3D4e5" * 4,
    "an Anthropic key": "sk-ant-" + "x9" * 20,
    "an OpenAI key": "sk-" + "Q7w" * 12,
    "an AWS access key": "AKIA" + "Z3Y8" * 4,
    "a Google API key": "AIza" + "Sy9" * 11 + "Ab",
}


@pytest.mark.parametrize("rule", TOKENS)
def test_each_token_format_on_an_added_line_is_found(rule: str) -> None:
    new = f"a = 1\nb = '{TOKENS[rule]}'\n".encode()
    assert scanner().scan_blob(new, where="src/x.py", old=b"a = 1\n") == [
        Finding(rule, "src/x.py", 2)
    ]


@pytest.mark.parametrize("rule", TOKENS)
def test_a_token_on_a_line_the_file_already_had_is_not_reported(rule: str) -> None:
    fixture = f"EXAMPLE = '{TOKENS[rule]}'\n".encode()
    assert scanner().scan_blob(fixture + b"more = 2\n", where="tests/f.py", old=fixture) == []


def test_a_pre_existing_example_token_does_not_hide_a_new_one() -> None:
    old = f"EXAMPLE = '{TOKENS['a GitHub token']}'\n".encode()
    new = old + b"OTHER = 'ghu_" + b"Z" * 30 + b"'\n"
    assert scanner().scan_blob(new, where="t.py", old=old) == [Finding("a GitHub token", "t.py", 2)]


def test_a_new_file_has_every_token_checked() -> None:
    new = "\n".join(TOKENS.values()).encode()
    assert sorted(rules(scanner().scan_blob(new, where="n.py"))) == sorted(TOKENS)


def test_token_formats_are_found_anywhere_in_text() -> None:
    text = f"Here you go:\n\n{TOKENS['an AWS access key']}"
    assert scanner().scan_text(text, where="PR title") == [
        Finding("an AWS access key", "PR title", 3)
    ]


@pytest.mark.parametrize("rule", TOKENS)
def test_a_token_glued_to_the_end_of_a_word_is_not_a_token(rule: str) -> None:
    assert scanner().scan_text(f"x{TOKENS[rule]}", where="PR body") == []


def test_an_anthropic_key_is_not_also_reported_as_an_openai_key() -> None:
    assert rules(scanner().scan_text(TOKENS["an Anthropic key"], where="x")) == ["an Anthropic key"]


def test_a_finding_reads_as_what_where_and_line() -> None:
    assert str(Finding("a GitHub token", "src/x.py", 3)) == "a GitHub token in src/x.py line 3"
    assert (
        str(Finding("the webhook secret (hex)", "PR body")) == "the webhook secret (hex) in PR body"
    )


def disguises(value: str) -> list[str]:
    forms = [encode(value) for encode in FORMS.values()]
    return [value, *forms, *(f[8:40] for f in forms if len(f) > 48)]


def test_no_finding_ever_shows_a_secret_or_any_of_its_forms() -> None:
    findings: list[Finding] = []
    for label in LABELS:
        for form in FORMS.values():
            payload = form(known()[label])
            findings += scanner().scan_text(payload, where="PR body")
            findings += scanner().scan_blob(payload.encode(), where=f"leaks/{payload}.txt")
    assert len(findings) >= len(LABELS) * len(FORMS) * 2
    shown = "\n".join(f"{f} {f.rule} {f.where}" for f in findings)
    for label in LABELS:
        for disguise in disguises(known()[label]):
            assert disguise not in shown


def test_a_file_named_after_a_secret_is_reported_under_a_masked_name() -> None:
    findings = scanner().scan_blob(b"", where=f"src/{WEBHOOK}.py")
    assert findings == []
    finding = scanner().scan_text(WEBHOOK, where=f"src/{WEBHOOK}.py")[0]
    assert str(finding) == "the webhook secret in src/***.py line 1"


def test_mask_hides_the_plain_secret_and_keeps_the_rest() -> None:
    line = f"POST /hook secret={WEBHOOK} ok"
    assert scanner().mask(line) == "POST /hook secret=*** ok"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("label", LABELS)
def test_mask_hides_every_form_scanning_finds(label: str, form: str) -> None:
    masked = scanner().mask(f"run 12: {FORMS[form](known()[label])} done")
    assert masked.startswith("run 12: ")
    assert masked.endswith(" done")
    assert "***" in masked
    assert SecretScanner({label: known()[label]}).scan_text(masked, where="log") == []


def test_mask_hides_a_secret_split_across_lines() -> None:
    text = f'token = "{MODEL_KEY[:20]}" \\\n  "{MODEL_KEY[20:]}"\nnext'
    assert scanner().mask(text) == 'token = "***"\nnext'


def test_mask_leaves_clean_text_alone() -> None:
    line = "delivery=1f2e run=9 pushed 3 files to agent/fix-7"
    assert scanner().mask(line) == line


CLEAN_CODE = '''"""A module."""

import base64, hashlib

TOKEN_PREFIX = "ghp_"
def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest() + base64.b64encode(b"hello world").decode()

class Config:
    api_key: str = "set me in the environment"
    model = "claude-sonnet-4-5"  # sk- keys come from the vault
'''


def test_no_finding_on_clean_code_text() -> None:
    assert scanner().scan_text(CLEAN_CODE, where="src/app.py") == []
    source = Path(secretscan.__file__).read_bytes()
    assert scanner().scan_blob(source, where="bot/secretscan.py") == []


def test_no_finding_in_five_mib_of_random_base64_with_five_secrets() -> None:
    stream = base64.encodebytes(random.Random(5).randbytes(5 * 1024 * 1024 * 3 // 4))
    assert len(stream) > 5 * 1024 * 1024
    assert scanner().scan_blob(stream, where="assets/noise.b64") == []


def test_a_secret_deep_inside_five_mib_is_found_on_its_line() -> None:
    noise = base64.encodebytes(random.Random(6).randbytes(4 * 1024 * 1024)).decode()
    cut = noise.index("\n", len(noise) // 2) + 1
    text = noise[:cut] + f"x{MODEL_KEY[::-1]}x\n" + noise[cut:]
    findings = scanner().scan_text(text, where="check run")
    assert findings == [
        Finding("the agent's model key (reversed)", "check run", noise.count("\n", 0, cut) + 1)
    ]


def test_secrets_shorter_than_eight_characters_are_ignored() -> None:
    short = SecretScanner({"a short secret": "hunter2", "an empty one": ""})
    text = "hunter2 " + base64.b64encode(b"hunter2").decode() + " 2retnuh"
    assert short.scan_text(text, where="PR body") == []
    assert short.mask(text) == text
