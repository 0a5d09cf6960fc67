"""The pure core of the scripted model: given a scenario and what a request says, the next answer.

Dialect modules turn a request into a `Conversation` and an `Outcome` back into wire format; this
module does no I/O and knows each CLI only by the tool names it offers.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Any

from adapters.modelserver.scenarios import (
    Change,
    Edit,
    Hang,
    HttpError,
    Loop,
    ReplaceText,
    Scenario,
    Tokens,
    WriteFile,
)


@dataclass(frozen=True, slots=True)
class Conversation:
    """A request reduced to what the script needs, whatever the wire format."""

    model: str
    tools: tuple[str, ...]  # names of the tools the client offers
    tool_results: int  # tool results already in the history: the turn number
    text: str  # every piece of prompt text, to find the working directory and file contents
    stream: bool


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] | str  # a str is the raw input of a free-form (custom) tool


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    usage: Tokens
    calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    status: int
    message: str
    retry_after_s: int | None = None


@dataclass(frozen=True, slots=True)
class Stall:
    """Never answer."""


Outcome = Reply | Failure | Stall

# Shell tools by name, and how each takes its command. Codex's `shell` takes an argv list.
_SHELL_TOOLS = {
    "Bash": "command",
    "run_shell_command": "command",
    "exec_command": "cmd",
    "bash": "command",
    "shell": "command",
}
_CWD_PATTERNS = (
    re.compile(r"<cwd>([^<\n]+)</cwd>"),  # Codex environment context
    re.compile(r"(?i)working directory:\s*(/[^\s`'\"]+)"),  # Claude Code
    re.compile(r"(?i)working in the directory:\s*(/[^\s`'\"]+)"),  # Gemini CLI
)


def find_root(text: str) -> str:
    """The agent's working directory as its prompt states it ("" when it does not)."""
    for pattern in _CWD_PATTERNS:
        found = pattern.search(text)
        if found:
            return found.group(1).strip().rstrip(".")
    return ""


def _abs(root: str, path: str) -> str:
    return path if not root or posixpath.isabs(path) else posixpath.join(root, path)


def _shell_call(tools: tuple[str, ...], command: str) -> ToolCall | None:
    for name, arg in _SHELL_TOOLS.items():
        if name in tools:
            if name == "shell":
                return ToolCall(name, {arg: ["bash", "-lc", command]})
            args: dict[str, Any] = {arg: command}
            if name == "bash":
                args["description"] = "scripted step"
            return ToolCall(name, args)
    return None


def _shell_command(change: Change) -> str:
    if isinstance(change, WriteFile):
        folder = posixpath.dirname(change.path)
        mkdir = f"mkdir -p {shlex.quote(folder)} && " if folder else ""
        return f"{mkdir}printf %s {shlex.quote(change.content)} > {shlex.quote(change.path)}"
    script = (
        "import sys, pathlib; p = pathlib.Path(sys.argv[1]); "
        "p.write_text(p.read_text().replace(sys.argv[2], sys.argv[3], 1))"
    )
    return shlex.join(["python3", "-c", script, change.path, change.old, change.new])


def _patch_lines(text: str, mark: str) -> list[str]:
    return [mark + line for line in text.removesuffix("\n").split("\n")]


def apply_patch_text(change: Change) -> str:
    """The change in Codex's apply_patch envelope (a replacement must be whole lines)."""
    if isinstance(change, WriteFile):
        # Delete-then-add is not atomic in the grammar; Add File overwrites in Codex.
        body = [f"*** Add File: {change.path}", *_patch_lines(change.content, "+")]
    else:
        body = [
            f"*** Update File: {change.path}",
            "@@",
            *_patch_lines(change.old, "-"),
            *_patch_lines(change.new, "+"),
        ]
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n"


def plan(changes: tuple[Change, ...], tools: tuple[str, ...], root: str) -> list[ToolCall]:
    """The tool calls, in order, that make `changes` with the tools this client offers."""
    calls: list[ToolCall] = []
    for change in changes:
        path = _abs(root, change.path)
        if isinstance(change, WriteFile) and "Write" in tools:
            # Claude Code refuses to overwrite a file it has not read in this session.
            if "Read" in tools:
                calls.append(ToolCall("Read", {"file_path": path}))
            calls.append(ToolCall("Write", {"file_path": path, "content": change.content}))
        elif isinstance(change, ReplaceText) and "Edit" in tools:
            if "Read" in tools:
                calls.append(ToolCall("Read", {"file_path": path}))
            calls.append(
                ToolCall(
                    "Edit", {"file_path": path, "old_string": change.old, "new_string": change.new}
                )
            )
        elif isinstance(change, WriteFile) and "write_file" in tools:
            calls.append(ToolCall("write_file", {"file_path": path, "content": change.content}))
        elif isinstance(change, ReplaceText) and "replace" in tools:
            args = {"file_path": path, "old_string": change.old, "new_string": change.new}
            calls.append(ToolCall("replace", {**args, "instruction": "Apply the scripted change."}))
        elif "apply_patch" in tools:
            calls.append(ToolCall("apply_patch", apply_patch_text(change)))
        else:
            shell = _shell_call(tools, _shell_command(change))
            if shell is None:
                raise ValueError(f"the client offers no tool to edit files with: {tools}")
            calls.append(shell)
    return calls


def _line_end(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _whole_file(path: str, content: str) -> str:
    return f"{path}\n```\n{_line_end(content)}```\n"


def _current_content(text: str, path: str) -> str | None:
    found = re.search(rf"^{re.escape(path)}\n```[^\n]*\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    return found.group(1) if found else None


def text_edits(changes: tuple[Change, ...], text: str) -> str:
    """The changes as a tool-less client (Aider) applies them: whole files or SEARCH/REPLACE."""
    search_replace = "<<<<<<< SEARCH" in text
    blocks = []
    for change in changes:
        if isinstance(change, WriteFile) and not search_replace:
            blocks.append(_whole_file(change.path, change.content))
            continue
        if isinstance(change, ReplaceText) and not search_replace:
            current = _current_content(text, change.path)
            if current is not None and change.old in current:
                blocks.append(_whole_file(change.path, current.replace(change.old, change.new, 1)))
                continue
        old, new = (
            ("", change.content) if isinstance(change, WriteFile) else (change.old, change.new)
        )
        blocks.append(
            f"{change.path}\n```\n<<<<<<< SEARCH\n{_line_end(old)}"
            f"=======\n{_line_end(new)}>>>>>>> REPLACE\n```\n"
        )
    return "\n".join(blocks)


def decide(scenario: Scenario, convo: Conversation) -> Outcome:
    """The scripted answer to this request."""
    if isinstance(scenario, HttpError):
        return Failure(scenario.status, scenario.message, scenario.retry_after_s)
    if isinstance(scenario, Hang):
        return Stall()
    if isinstance(scenario, Loop):
        call = _shell_call(
            convo.tools, scenario.command.replace("{turn}", str(convo.tool_results + 1))
        )
        text = "" if call else f"Still working (turn {convo.tool_results + 1})."
        return Reply(text=text, usage=scenario.usage, calls=(call,) if call else ())
    return _edit(scenario, convo)


def _edit(scenario: Edit, convo: Conversation) -> Outcome:
    turn = convo.tool_results
    usage = scenario.tokens(turn)
    if not convo.tools:
        return Reply(
            text=text_edits(scenario.changes, convo.text) + "\n" + scenario.summary, usage=usage
        )
    try:
        steps = plan(scenario.changes, convo.tools, scenario.root or find_root(convo.text))
    except ValueError as exc:
        return Failure(400, str(exc))
    if turn < len(steps):
        return Reply(text="", usage=usage, calls=(steps[turn],))
    return Reply(text=scenario.summary, usage=usage)
