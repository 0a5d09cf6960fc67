"""The scripted model's decisions: which tool each CLI is asked to call, turn by turn."""

from __future__ import annotations

import pytest

from adapters.modelserver.scenarios import (
    DEFAULT_EDIT,
    Edit,
    Hang,
    HttpError,
    Loop,
    ReplaceText,
    ScenarioBook,
    Tokens,
    UnknownScenario,
    WriteFile,
    builtin,
)
from adapters.modelserver.script import (
    Conversation,
    Failure,
    Reply,
    Stall,
    ToolCall,
    apply_patch_text,
    decide,
    find_root,
    plan,
    text_edits,
)

CLAUDE_TOOLS = ("Bash", "Edit", "Read", "Write", "Glob")
GEMINI_TOOLS = ("read_file", "write_file", "replace", "run_shell_command")
CODEX_TOOLS = ("exec_command", "write_stdin", "view_image")
WRITE = WriteFile("src/new.txt", "hello\n")
REPLACE = ReplaceText("app.py", "x = 1\n", "x = 2\n")
FIRST = Tokens(input=10, output=2, cache_read=3, cache_write=4, reasoning=1)
LATER = Tokens(input=20, output=5)


def convo(tools: tuple[str, ...], results: int = 0, text: str = "") -> Conversation:
    return Conversation(model="m", tools=tools, tool_results=results, text=text, stream=False)


def test_claude_reads_before_it_writes_or_edits_with_absolute_paths() -> None:
    calls = plan((WRITE, REPLACE), CLAUDE_TOOLS, "/work")
    assert calls == [
        ToolCall("Read", {"file_path": "/work/src/new.txt"}),
        ToolCall("Write", {"file_path": "/work/src/new.txt", "content": "hello\n"}),
        ToolCall("Read", {"file_path": "/work/app.py"}),
        ToolCall(
            "Edit", {"file_path": "/work/app.py", "old_string": "x = 1\n", "new_string": "x = 2\n"}
        ),
    ]


def test_gemini_uses_write_file_and_replace() -> None:
    write, replace = plan((WRITE, REPLACE), GEMINI_TOOLS, "/w")
    assert write == ToolCall("write_file", {"file_path": "/w/src/new.txt", "content": "hello\n"})
    assert replace.name == "replace"
    assert isinstance(replace.arguments, dict)
    assert replace.arguments["old_string"] == "x = 1\n"
    assert replace.arguments["new_string"] == "x = 2\n"


def test_codex_without_apply_patch_gets_shell_commands_with_relative_paths() -> None:
    write, replace = plan((WRITE, REPLACE), CODEX_TOOLS, "")
    assert write.name == "exec_command"
    assert isinstance(write.arguments, dict)
    assert write.arguments["cmd"] == "mkdir -p src && printf %s 'hello\n' > src/new.txt"
    assert isinstance(replace.arguments, dict)
    assert replace.arguments["cmd"].startswith("python3 -c ")
    assert replace.arguments["cmd"].endswith("app.py 'x = 1\n' 'x = 2\n'")


def test_apply_patch_is_preferred_when_offered() -> None:
    (call,) = plan((REPLACE,), ("apply_patch", "exec_command"), "")
    assert call == ToolCall(
        "apply_patch",
        "*** Begin Patch\n*** Update File: app.py\n@@\n-x = 1\n+x = 2\n*** End Patch\n",
    )
    assert (
        apply_patch_text(WRITE)
        == "*** Begin Patch\n*** Add File: src/new.txt\n+hello\n*** End Patch\n"
    )


def test_a_client_without_any_edit_tool_is_told_so() -> None:
    outcome = decide(Edit(changes=(WRITE,)), convo(("view_image",)))
    assert isinstance(outcome, Failure)
    assert outcome.status == 400
    assert "no tool to edit files" in outcome.message


def test_edit_steps_one_tool_per_turn_then_summary_with_per_turn_usage() -> None:
    scenario = Edit(changes=(WRITE,), summary="All done.", usage=(FIRST, LATER), root="/r")
    first = decide(scenario, convo(GEMINI_TOOLS, results=0))
    second = decide(scenario, convo(GEMINI_TOOLS, results=1))
    again = decide(scenario, convo(GEMINI_TOOLS, results=2))
    assert isinstance(first, Reply)
    assert [c.name for c in first.calls] == ["write_file"]
    assert first.usage == FIRST
    assert second == Reply(text="All done.", usage=LATER)
    assert isinstance(again, Reply)
    assert again.usage == LATER  # the last usage entry repeats


def test_root_comes_from_the_prompt_when_the_scenario_has_none() -> None:
    scenario = Edit(changes=(WRITE,))
    outcome = decide(
        scenario, convo(("write_file",), text="I'm currently working in the directory: /tmp/ws-1")
    )
    assert isinstance(outcome, Reply)
    assert outcome.calls[0].arguments == {
        "file_path": "/tmp/ws-1/src/new.txt",
        "content": "hello\n",
    }


@pytest.mark.parametrize(
    ("text", "root"),
    [
        ("<environment_context>\n  <cwd>/tmp/a b</cwd>\n</environment_context>", "/tmp/a b"),
        (
            "Primary working directory: /tmp/ws-3pebe1xv\nIs a git repository: true",
            "/tmp/ws-3pebe1xv",
        ),
        ("I'm currently working in the directory: /home/x/proj.", "/home/x/proj"),
        ("no directory here", ""),
    ],
)
def test_find_root(text: str, root: str) -> None:
    assert find_root(text) == root


def test_tool_less_clients_get_whole_files_or_search_replace_blocks() -> None:
    whole = text_edits((WRITE,), "reply with the whole file")
    assert whole == "src/new.txt\n```\nhello\n```\n"
    blocks = text_edits((REPLACE, WRITE), "use <<<<<<< SEARCH blocks")
    assert blocks == (
        "app.py\n```\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n\n"
        "src/new.txt\n```\n<<<<<<< SEARCH\n=======\nhello\n>>>>>>> REPLACE\n```\n"
    )


def test_whole_file_replacement_uses_the_content_the_client_sent() -> None:
    prompt = "Files in chat:\n\napp.py\n```\nimport os\nx = 1\n```\n"
    assert text_edits((REPLACE,), prompt) == "app.py\n```\nimport os\nx = 2\n```\n"


def test_failure_hang_and_loop() -> None:
    assert decide(HttpError(status=429, retry_after_s=3), convo(())) == Failure(
        429, "scripted failure", 3
    )
    assert decide(Hang(), convo(CLAUDE_TOOLS)) == Stall()
    looped = decide(Loop(), convo(CLAUDE_TOOLS, results=57))
    assert isinstance(looped, Reply)
    assert looped.calls == (ToolCall("Bash", {"command": "echo baton-loop 58"}),)


def test_book_resolves_header_then_key_then_builtin_name_then_default() -> None:
    custom = Edit(changes=(WRITE,), name="mine")
    book = ScenarioBook(default=Hang())
    key = book.register(custom)
    assert key.startswith("sk-scn-mine-")
    assert book.resolve(key=key, header=None) is custom
    assert book.resolve(key=key, header="loop") == Loop()
    assert book.resolve(key="sk-scn-http_error-401", header=None) == HttpError(status=401)
    assert book.resolve(key="sk-scn-edit", header=None) is DEFAULT_EDIT
    assert book.resolve(key="sk-real-looking", header=None) == Hang()
    assert book.resolve(key=None, header=None) == Hang()
    with pytest.raises(UnknownScenario):
        book.resolve(key="sk-scn-nope", header=None)


@pytest.mark.parametrize("name", ["http_error-99", "http_error-abc", "hang-1", "edit-x", ""])
def test_bad_builtin_names_are_rejected(name: str) -> None:
    with pytest.raises(UnknownScenario):
        builtin(name)


def test_tokens_add_up() -> None:
    total = FIRST + LATER
    assert total == Tokens(input=30, output=7, cache_read=3, cache_write=4, reasoning=1)
