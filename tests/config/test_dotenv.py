"""`.env` files: what `baton register` writes reads back the same, the usual forms are understood,
a malformed line is named by file and line, and the environment wins over the file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from config.dotenv import load, parse, render
from config.settings import SettingsError

if TYPE_CHECKING:
    from pathlib import Path


def test_what_is_rendered_parses_back_to_the_same_values() -> None:
    values = [
        ("BATON_APP_ID", "123456"),
        ("BATON_PRIVATE_KEY_PATH", "baton.private-key.pem"),
        ("BATON_PUBLIC_URL", "https://baton.example.com"),
        ("ODD", 'a b"c\\d\nnext line # not a comment'),
        ("EMPTY", ""),
    ]
    text = render(values, header="written by a test\nsecond line")
    assert text.startswith("# written by a test\n# second line\nBATON_APP_ID=123456\n")
    assert parse(text) == dict(values)


def test_the_usual_forms_are_understood() -> None:
    text = (
        "# a comment\n"
        "\n"
        "export A=1\n"
        "B = two words   # trailing comment\n"
        'C="x\\ny \\"q\\""\n'
        "D='literal \\n $HOME'\n"
        'E="first\n'
        'second"\n'
        "F=\n"
        "G=a#b\n"
    )
    assert parse(text) == {
        "A": "1",
        "B": "two words",
        "C": 'x\ny "q"',
        "D": "literal \\n $HOME",
        "E": "first\nsecond",
        "F": "",
        "G": "a#b",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\nnot an assignment\n", ".env:2: expected KEY=VALUE"),
        ("A=1\n\n1A=2\n", ".env:3: expected KEY=VALUE"),
        ('A="open\nB=2\n', ".env:1: a double-quoted value is not closed"),
        ("A='open\n", ".env:1: a single-quoted value is not closed"),
        ('A=1\nB="x" y\n', ".env:2: unexpected text after the value of B"),
    ],
)
def test_a_malformed_line_is_named_by_file_and_line(text: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BATON_APP_ID=1\nBATON_APP_SLUG=from-file\nANTHROPIC_API_KEY=k\n")
    environ = {"BATON_APP_ID": "2"}

    taken = load(env_file, environ)

    assert taken == ["BATON_APP_SLUG", "ANTHROPIC_API_KEY"]
    assert environ == {"BATON_APP_ID": "2", "BATON_APP_SLUG": "from-file", "ANTHROPIC_API_KEY": "k"}


def test_no_file_is_nothing_to_load(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert load(tmp_path / ".env", environ) == []
    assert environ == {}
