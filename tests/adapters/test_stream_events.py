"""Every turn and tool call a CLI streams becomes an event, with its outcome, and nothing more:
no tool output, no file contents, every text clipped."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.aider import AiderParser
from adapters.base import EVENT_TEXT_LIMIT, AgentEvent
from adapters.claude_code import ClaudeParser
from adapters.codex import CodexParser
from adapters.gemini import GeminiParser
from adapters.harness import Parser
from adapters.opencode import OpenCodeParser
from adapters.qwen import QwenParser

STREAMS = Path(__file__).parent / "streams"
Row = tuple[str, str, dict[str, object]]


def log_rows(parser: Parser, lines: list[str]) -> list[Row]:
    """What an event log would hold of the stream: its turn, message and tool events."""
    events = [e for line in lines for e in parser.feed(line)]
    return [(e.kind, e.text, dict(e.data)) for e in events if e.kind in {"turn", "message", "tool"}]


def turn(number: int, text: str = "", **more: object) -> Row:
    return ("turn", text, {"turn": number, **more})


def tool(text: str, **data: object) -> Row:
    return ("tool", text, data)


def recorded(name: str) -> list[str]:
    return (STREAMS / f"{name}.jsonl").read_text().splitlines()


def claude_frame(message_id: str, block: dict[str, object], **event: object) -> str:
    # Claude Code streams each content block of a message as an event of its own.
    message = {"id": message_id, "role": "assistant", "content": [block]}
    return json.dumps({"type": "assistant", "message": message, "session_id": "s", **event})


def claude_call(call_id: str, name: str, **args: object) -> dict[str, object]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": args}


def claude_result(call_id: str, *, is_error: bool, content: str) -> str:
    block = {
        "type": "tool_result",
        "tool_use_id": call_id,
        "is_error": is_error,
        "content": content,
    }
    return json.dumps({"type": "user", "message": {"role": "user", "content": [block]}})


def test_claude_two_turns_two_tool_calls_one_failing() -> None:
    bash = claude_call("t1", "Bash", command="pytest -q", description="Run the tests")
    edit = claude_call(
        "t2", "Edit", file_path="/workspace/calc.py", old_string="a - b", new_string="a + b"
    )
    stream = [
        claude_frame("m1", {"type": "text", "text": "Running the tests first."}),
        claude_frame("m1", bash),
        claude_result("t1", is_error=False, content="1 failed"),
        claude_frame("m2", {"type": "text", "text": "Fixing add()."}),
        claude_frame("m2", edit),
        claude_result("t2", is_error=True, content="<tool_use_error>no match</tool_use_error>"),
    ]
    path = "/workspace/calc.py"
    assert log_rows(ClaudeParser("m"), stream) == [
        turn(1, "Running the tests first."),
        tool("Bash pytest -q", tool="Bash", input="pytest -q", call="t1", turn=1),
        tool("Bash pytest -q (ok)", tool="Bash", input="pytest -q", call="t1", turn=1, ok=True),
        turn(2, "Fixing add()."),
        tool(f"Edit {path}", tool="Edit", input=path, call="t2", turn=2),
        tool(f"Edit {path} (failed)", tool="Edit", input=path, call="t2", turn=2, ok=False),
    ]


def test_claude_recorded_stream_gives_each_turn_and_tool_call_with_its_outcome() -> None:
    read, edit = "toolu_0fdde22d9c85c497a906d15c", "toolu_4cf9ba8eeb889c9437d8ab72"
    path = "/workspace/app.py"
    assert log_rows(ClaudeParser("claude-sonnet-4-5"), recorded("claude-code")) == [
        turn(1),
        tool(f"Read {path}", tool="Read", input=path, call=read, turn=1),
        tool(f"Read {path} (ok)", tool="Read", input=path, call=read, turn=1, ok=True),
        turn(2),
        tool(f"Edit {path}", tool="Edit", input=path, call=edit, turn=2),
        tool(f"Edit {path} (failed)", tool="Edit", input=path, call=edit, turn=2, ok=False),
        turn(3, "app.py has no NOT THERE line: nothing to replace."),
    ]


def test_claude_text_after_a_messages_first_block_is_a_message_of_that_turn() -> None:
    stream = [
        claude_frame("m1", {"type": "thinking", "thinking": "Let me see."}),
        claude_frame("m1", {"type": "text", "text": "Looking at calc.py."}),
    ]
    assert log_rows(ClaudeParser("m"), stream) == [
        turn(1),
        ("message", "Looking at calc.py.", {"turn": 1}),
    ]


def test_claude_subagent_turns_and_calls_name_the_task_call_they_run_under() -> None:
    grep = claude_call("t9", "Grep", pattern="def add")
    line = claude_frame("m5", grep, parent_tool_use_id="task1")
    assert log_rows(ClaudeParser("m"), [line]) == [
        turn(1, parent="task1"),
        tool("Grep def add", tool="Grep", input="def add", call="t9", turn=1, parent="task1"),
    ]


def codex_item(kind: str, **item: object) -> str:
    return json.dumps({"type": kind, "item": item})


def codex_command(kind: str, item_id: str, command: str, **fields: object) -> str:
    return codex_item(kind, id=item_id, type="command_execution", command=command, **fields)


def test_codex_two_turns_two_tool_calls_one_failing(tmp_path: Path) -> None:
    change = [{"path": "calc.py", "kind": "update"}]
    stream = [
        codex_item("item.completed", id="i0", type="agent_message", text="Running the tests."),
        codex_command("item.started", "i1", "pytest -q", exit_code=None, status="in_progress"),
        codex_command(
            "item.completed",
            "i1",
            "pytest -q",
            aggregated_output="1 failed",
            exit_code=1,
            status="failed",
        ),
        codex_item(
            "item.completed", id="i2", type="file_change", changes=change, status="completed"
        ),
        codex_item("item.completed", id="i3", type="agent_message", text="Fixed add()."),
    ]
    run = "command_execution"
    assert log_rows(CodexParser("m", tmp_path), stream) == [
        turn(1, "Running the tests."),
        tool(f"{run} pytest -q", tool=run, input="pytest -q", call="i1"),
        tool(
            f"{run} pytest -q (failed)",
            tool=run,
            input="pytest -q",
            call="i1",
            ok=False,
            exit_code=1,
        ),
        # A patch shows only once applied: one event is the call and its outcome.
        tool(
            "file_change update calc.py (ok)",
            tool="file_change",
            input="update calc.py",
            call="i2",
            ok=True,
        ),
        turn(2, "Fixed add()."),
    ]


def test_codex_recorded_stream_gives_each_command_with_its_exit(tmp_path: Path) -> None:
    ok = "/bin/bash -lc \"mkdir -p notes && printf %s 'hello ' > notes/hello.txt\""
    bad = "/bin/bash -lc \"mkdir -p /proc/baton-nope && printf %s 'no ' > /proc/baton-nope/x.txt\""
    run = "command_execution"
    assert log_rows(CodexParser("gpt-5-codex", tmp_path), recorded("codex")) == [
        tool(f"{run} {ok}", tool=run, input=ok, call="item_1"),
        tool(f"{run} {ok} (ok)", tool=run, input=ok, call="item_1", ok=True, exit_code=0),
        tool(f"{run} {bad}", tool=run, input=bad, call="item_2"),
        tool(f"{run} {bad} (failed)", tool=run, input=bad, call="item_2", ok=False, exit_code=1),
        turn(1, "Wrote notes; the second file could not be written."),
    ]


def test_codex_mcp_calls_and_web_searches_are_tool_calls(tmp_path: Path) -> None:
    search = {"server": "docs", "tool": "search", "arguments": {"query": "asyncio.TaskGroup"}}
    stream = [
        codex_item("item.started", id="i1", type="mcp_tool_call", status="in_progress", **search),
        codex_item(
            "item.completed",
            id="i1",
            type="mcp_tool_call",
            status="failed",
            error={"message": "server gone"},
            **search,
        ),
        codex_item("item.completed", id="i2", type="web_search", query="python 3.13 changes"),
        codex_item("item.completed", id="i3", type="reasoning", text="thinking"),
        codex_item("item.completed", id="i4", type="todo_list", items=[]),
    ]
    rows = log_rows(CodexParser("m", tmp_path), stream)
    assert [(text, data.get("ok")) for _, text, data in rows] == [
        ("search asyncio.TaskGroup", None),
        ("search asyncio.TaskGroup (failed)", False),
        ("web_search python 3.13 changes (ok)", True),
    ]
    assert rows[0][2]["server"] == "docs"


def test_gemini_tool_results_are_the_outcomes_of_their_calls(tmp_path: Path) -> None:
    ok, bad = "write_file__write_file_1796164816206_0", "write_file__write_file_1796164816888_0"
    new, outside = "notes/hello.txt", "/proc/baton-nope/x.txt"
    assert log_rows(GeminiParser("gemini-2.5-pro", tmp_path), recorded("gemini")) == [
        tool(f"write_file {new}", tool="write_file", input=new, call=ok),
        tool(f"write_file {new} (ok)", tool="write_file", input=new, call=ok, ok=True),
        tool(f"write_file {outside}", tool="write_file", input=outside, call=bad),
        tool(
            f"write_file {outside} (failed)", tool="write_file", input=outside, call=bad, ok=False
        ),
    ]


def test_opencode_steps_are_turns_and_a_patch_is_named_by_its_files(tmp_path: Path) -> None:
    first, second = "call_5d17ce93afdd12446d16c2ec", "call_ea5c5c73c45d2e500a9339b4"
    new, outside = "notes/hello.txt", "/proc/baton-nope/x.txt"
    assert log_rows(OpenCodeParser("gpt-5", tmp_path, priced=True), recorded("opencode")) == [
        turn(1),
        tool(f"apply_patch {new} (ok)", tool="apply_patch", input=new, call=first, turn=1, ok=True),
        turn(2),
        tool(
            f"apply_patch {outside} (failed)",
            tool="apply_patch",
            input=outside,
            call=second,
            turn=2,
            ok=False,
        ),
    ]


def test_qwen_turns_and_tool_calls_are_read_as_claude_codes(tmp_path: Path) -> None:
    call = claude_call("c1", "run_shell_command", command="ls")
    message = {"id": "q-1", "role": "assistant", "content": [call], "usage": {"input_tokens": 5}}
    stream = [
        json.dumps({"type": "assistant", "message": message}),
        claude_result("c1", is_error=True, content="denied"),
    ]
    shell = "run_shell_command"
    assert log_rows(QwenParser("gpt-5-mini", tmp_path), stream) == [
        turn(1),
        tool(f"{shell} ls", tool=shell, input="ls", call="c1", turn=1),
        tool(f"{shell} ls (failed)", tool=shell, input="ls", call="c1", turn=1, ok=False),
    ]


def test_aider_edits_it_applied_and_those_that_matched_nothing(tmp_path: Path) -> None:
    printed = [
        "# 1 SEARCH/REPLACE block failed to match!",
        "",
        "## SearchReplaceNoExactMatch: This SEARCH block failed to exactly match lines in",
        "app.py",
        "<<<<<<< SEARCH",
        "Applied edit to calc.py",
    ]
    assert log_rows(AiderParser("openai/gpt-5", tmp_path, "aider-1"), printed) == [
        tool("edit app.py (failed)", tool="edit", input="app.py", ok=False),
        tool("Applied edit to calc.py", tool="edit", input="calc.py", ok=True),
    ]


def test_an_input_is_summarised_by_its_command_or_path_never_its_contents() -> None:
    def about(**args: object) -> object:
        return AgentEvent.tool_call("T", args).data["input"]

    assert about(description="Run it", command="make test") == "make test"
    assert about(content="SECRET FILE BODY", file_path="/w/a.py") == "/w/a.py"
    assert about(old_string="x", new_string="y", replace_all=False) == ""
    assert about(todos=[{"content": "step"}]) == ""
    assert about(prompt="Find the bug", subagent_type="general") == "Find the bug"


def test_texts_and_inputs_are_clipped() -> None:
    call = AgentEvent.tool_call("Bash", {"command": "echo " + "x" * 500}, call="t1")
    assert len(call.text) == EVENT_TEXT_LIMIT
    assert call.text.endswith("…")
    assert len(str(call.data["input"])) == EVENT_TEXT_LIMIT
    assert len(call.outcome(ok=True).text) == EVENT_TEXT_LIMIT
    assert len(AgentEvent.turn(1, "word " * 100).text) == EVENT_TEXT_LIMIT


def test_no_tool_output_reaches_an_event(tmp_path: Path) -> None:
    leaked = "sk-ant-LEAKED-0123456789"
    claude = [
        claude_frame("m1", claude_call("t1", "Bash", command="env")),
        claude_result("t1", is_error=True, content=f"ANTHROPIC_API_KEY={leaked}"),
    ]
    output = f"BATON_MODEL_API_KEY={leaked}"
    codex = [
        codex_command(
            "item.completed", "i1", "env", aggregated_output=output, exit_code=0, status="completed"
        ),
    ]
    for parser, stream in ((ClaudeParser("m"), claude), (CodexParser("m", tmp_path), codex)):
        events = [e for line in stream for e in parser.feed(line)]
        assert events
        assert leaked not in repr(events)
