"""Each CLI's output read into Baton's terms, and what each CLI is launched with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.aider import (
    ANALYTICS_FILE,
    CHAT_FILE,
    AiderDriver,
    AiderParser,
    analytics_usage,
    chat_summary,
    vendor_of,
)
from adapters.base import Usage
from adapters.claude_code import ClaudeCodeDriver, ClaudeParser
from adapters.codex import BASELINE_FILE, CodexDriver, CodexParser
from adapters.gemini import GeminiDriver, GeminiParser
from adapters.harness import (
    ANTHROPIC,
    OPENAI,
    ConfigProblem,
    Endpoint,
    GiveUp,
    Invocation,
    Parser,
    api_base,
    install_mounts,
    resolve_endpoint,
)
from adapters.opencode import CONFIG_FILE, LOGS, OpenCodeDriver, OpenCodeParser
from adapters.prices import PriceTable
from adapters.process import Completed
from adapters.qwen import BASELINE_FILE as QWEN_BASELINE
from adapters.qwen import DEBUG_LOGS, QwenDriver, QwenParser
from adapters.sessions import SessionStore
from config.schema import AgentSpec

OK = Completed(returncode=0, stdout=b"", stderr=b"", duration_s=1.0)


def lines(*events: dict[str, object]) -> list[str]:
    return [json.dumps(e) for e in events]


def feed(parser: Parser, raw: list[str]) -> None:
    for line in ["a banner, not JSON", *raw]:
        parser.feed(line)


def test_claude_api_error_with_subtype_success_is_a_failure() -> None:
    parser = ClaudeParser("claude-sonnet-4-5")
    feed(
        parser,
        lines(
            {
                "type": "result",
                "subtype": "success",
                "is_error": True,
                "api_error_status": 500,
                "result": "API Error: 500 overloaded",
                "session_id": "s1",
                "total_cost_usd": 0,
            }
        ),
    )
    final = parser.finish(OK)
    assert "API Error: 500 overloaded" in final.error
    assert "HTTP 500" in final.error
    assert final.session_id == "s1"


def test_claude_tokens_are_summed_over_models_and_cost_is_its_own() -> None:
    parser = ClaudeParser("claude-sonnet-4-5")
    model_usage = {
        "claude-sonnet-4-5": {
            "inputTokens": 10,
            "outputTokens": 2,
            "cacheReadInputTokens": 3,
            "cacheCreationInputTokens": 4,
        },
        "claude-haiku-4-5": {
            "inputTokens": 100,
            "outputTokens": 20,
            "cacheReadInputTokens": 30,
            "cacheCreationInputTokens": 40,
        },
    }
    feed(
        parser,
        lines(
            {"type": "system", "subtype": "init", "session_id": "s2"},
            {
                "type": "assistant",
                "message": {
                    "content": [{"type": "text", "text": "hi"}],
                    "usage": {"input_tokens": 999, "output_tokens": 0},
                },
            },
            {
                "type": "result",
                "subtype": "success",
                "is_error": False,
                "result": "Fixed it.",
                "num_turns": 3,
                "total_cost_usd": 0.0123,
                "modelUsage": model_usage,
                "usage": {"input_tokens": 10},
            },
        ),
    )
    final = parser.finish(OK)
    assert final.error == ""
    assert final.summary == "Fixed it."
    assert final.usage == Usage(
        model="claude-sonnet-4-5",
        input_tokens=110,
        output_tokens=22,
        cache_read_tokens=33,
        cache_write_tokens=44,
        turns=3,
    )
    assert final.cost_usd == 0.0123


def test_claude_budget_stop_is_recognised() -> None:
    parser = ClaudeParser("m")
    feed(
        parser,
        lines(
            {
                "type": "result",
                "subtype": "error_max_budget_usd",
                "is_error": False,
                "errors": ["Reached maximum budget ($0.001)"],
                "total_cost_usd": 0.002,
            }
        ),
    )
    final = parser.finish(OK)
    assert final.budget
    assert "Reached maximum budget" in final.error


def test_claude_without_a_result_says_why() -> None:
    parser = ClaudeParser("m")
    done = Completed(returncode=1, stdout=b"", stderr=b"Error: bad flag\n", duration_s=0.1)
    assert "bad flag" in parser.finish(done).error


def test_codex_usage_is_split_out_of_its_inclusive_counts(tmp_path: Path) -> None:
    parser = CodexParser("gpt-5-codex", tmp_path)
    usage = {
        "input_tokens": 1300,
        "cached_input_tokens": 200,
        "cache_write_input_tokens": 100,
        "output_tokens": 50,
        "reasoning_output_tokens": 10,
    }
    feed(
        parser,
        lines(
            {"type": "thread.started", "thread_id": "t-1"},
            {"type": "item.completed", "item": {"type": "agent_message", "text": "Done."}},
            {"type": "turn.completed", "usage": usage},
        ),
    )
    final = parser.finish(OK)
    assert final.usage == Usage(
        model="gpt-5-codex",
        input_tokens=1000,
        output_tokens=50,
        cache_read_tokens=200,
        cache_write_tokens=100,
        reasoning_tokens=10,
        turns=1,
    )
    assert (final.summary, final.session_id, final.cost_usd) == ("Done.", "t-1", None)

    # A resumed thread reports its whole history: the next run counts only what it added.
    resumed = CodexParser("gpt-5-codex", tmp_path)
    total = {
        "input_tokens": 1400,
        "cached_input_tokens": 250,
        "cache_write_input_tokens": 100,
        "output_tokens": 57,
        "reasoning_output_tokens": 10,
    }
    feed(resumed, lines({"type": "turn.completed", "usage": total}))
    assert resumed.finish(OK).usage == Usage(
        model="gpt-5-codex", input_tokens=50, output_tokens=7, cache_read_tokens=50, turns=1
    )


def test_codex_failed_turn_is_an_error(tmp_path: Path) -> None:
    parser = CodexParser("m", tmp_path)
    feed(
        parser,
        lines(
            {"type": "error", "message": "unexpected status 401"},
            {"type": "turn.failed", "error": {"message": "unexpected status 401"}},
        ),
    )
    assert "401" in parser.finish(OK).error


def test_gemini_thoughts_are_what_the_total_has_beyond_prompt_and_candidates(
    tmp_path: Path,
) -> None:
    parser = GeminiParser("gemini-2.5-pro", tmp_path)
    stats = {
        "models": {
            "gemini-2.5-pro": {
                "total_tokens": 1380,
                "input_tokens": 1300,
                "output_tokens": 50,
                "cached": 200,
            }
        }
    }
    feed(
        parser,
        lines(
            {"type": "init", "session_id": "g-1", "model": "gemini-2.5-pro"},
            {"type": "message", "role": "assistant", "content": "Fix", "delta": True},
            {"type": "message", "role": "assistant", "content": "ed.", "delta": True},
            {"type": "result", "status": "success", "stats": stats},
        ),
    )
    final = parser.finish(OK)
    assert final.usage == Usage(
        model="gemini-2.5-pro",
        input_tokens=1100,
        output_tokens=80,
        cache_read_tokens=200,
        reasoning_tokens=30,
        turns=1,
    )
    assert (final.summary, final.session_id, final.error) == ("Fixed.", "g-1", "")


def test_gemini_error_result_fails_the_run(tmp_path: Path) -> None:
    parser = GeminiParser("gemini-2.5-pro", tmp_path)
    feed(
        parser,
        lines(
            {
                "type": "result",
                "status": "error",
                "error": {"message": "[API Error: 401 UNAUTHENTICATED]"},
                "stats": {},
            }
        ),
    )
    assert "401" in parser.finish(OK).error


def test_aider_analytics_and_chat_history() -> None:
    log = "\n".join(
        [
            json.dumps({"event": "launched", "properties": {}}),
            json.dumps(
                {
                    "event": "message_send",
                    "properties": {"prompt_tokens": 1300, "completion_tokens": 50, "cost": 0.0019},
                }
            ),
            json.dumps(
                {
                    "event": "message_send",
                    "properties": {"prompt_tokens": 10, "completion_tokens": 5, "cost": 0.0001},
                }
            ),
        ]
    )
    usage, cost = analytics_usage(log, "openai/gpt-5")
    assert usage == Usage(model="openai/gpt-5", input_tokens=1310, output_tokens=55, turns=2)
    assert cost == 0.002
    history = (
        "> Aider v0.86.2\n\n#### fix it  \n\ncalc.py\n```\n<<<<<<< SEARCH\na\n=======\nb\n"
        ">>>>>>> REPLACE\n```\n\nFixed add().\n\n> Tokens: 1.3k sent\n> Applied edit to calc.py\n"
    )
    assert chat_summary(history) == "Fixed add()."


def test_aider_vendor_follows_the_model_name() -> None:
    assert vendor_of("openai/gpt-5") is OPENAI
    assert vendor_of("gpt-5") is OPENAI
    assert vendor_of("claude-sonnet-4-5") is ANTHROPIC
    assert vendor_of("deepseek/deepseek-chat").key_env == "DEEPSEEK_API_KEY"


def test_base_urls_take_the_form_each_client_appends_to() -> None:
    assert api_base("http://127.0.0.1:9", "openai") == "http://127.0.0.1:9/v1"
    assert api_base("https://gw.example/openai/v1/", "openai") == "https://gw.example/openai/v1"
    assert api_base("http://127.0.0.1:9/v1", "anthropic") == "http://127.0.0.1:9"
    assert api_base("https://gw.example/google", "gemini") == "https://gw.example/google"


def test_endpoint_comes_from_the_agent_then_the_vendor_variables() -> None:
    env = {"ANTHROPIC_API_KEY": "k1", "ANTHROPIC_BASE_URL": "http://proxy", "GW": "k2"}
    spec = AgentSpec(adapter="claude-code")
    assert resolve_endpoint(vendor=ANTHROPIC, spec=spec, server_env=env) == Endpoint(
        api_key="k1", key_env="ANTHROPIC_API_KEY", base_url="http://proxy"
    )
    own = AgentSpec(adapter="claude-code", api_key_env="GW", base_url="http://gw")
    assert resolve_endpoint(vendor=ANTHROPIC, spec=own, server_env=env) == Endpoint(
        api_key="k2", key_env="GW", base_url="http://gw"
    )
    with pytest.raises(ConfigProblem, match="set OPENAI_API_KEY"):
        resolve_endpoint(vendor=OPENAI, spec=AgentSpec(adapter="codex"), server_env=env)


def invocation(tmp_path: Path, **extra: object) -> Invocation:
    fields: dict[str, object] = {
        "prompt": "fix it",
        "model": "m",
        "workdir": Path("/workspace"),
        "home": Path("/home/agent"),
        "host_home": tmp_path,
        "endpoint": Endpoint(api_key="sk-1", key_env="X", base_url="http://127.0.0.1:9"),
    }
    return Invocation(**{**fields, **extra})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("driver", "expected"),
    [
        (ClaudeCodeDriver(), {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"}),
        (CodexDriver(), {"BATON_MODEL_API_KEY", "CODEX_HOME"}),
        (GeminiDriver(), {"GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"}),
        (AiderDriver(), {"OPENAI_API_KEY", "OPENAI_API_BASE"}),
        (OpenCodeDriver(), {"BATON_MODEL_API_KEY", "BATON_MODEL_BASE_URL"}),
        (QwenDriver(), {"OPENAI_API_KEY", "OPENAI_BASE_URL"}),
    ],
)
def test_the_key_is_in_the_environment_only(
    driver: ClaudeCodeDriver
    | CodexDriver
    | GeminiDriver
    | AiderDriver
    | OpenCodeDriver
    | QwenDriver,
    expected: set[str],
    tmp_path: Path,
) -> None:
    launch = driver.launch(invocation(tmp_path, model="openai/gpt-5"))
    assert "sk-1" not in " ".join(launch.argv)
    assert [k for k, v in launch.env.items() if v == "sk-1"] != []
    keys = {k for k in launch.env if "KEY" in k or "BASE" in k or k == "CODEX_HOME"}
    assert keys == expected


def test_agents_md_reaches_each_cli_its_own_way(tmp_path: Path) -> None:
    inv = invocation(tmp_path, agents_md=True)
    claude = ClaudeCodeDriver().launch(inv)
    assert claude.home_files[".claude/CLAUDE.md"] == "@/workspace/AGENTS.md\n"
    gemini = json.loads(GeminiDriver().launch(inv).home_files[".gemini/settings.json"])
    assert gemini["context"]["fileName"][0] == "AGENTS.md"
    assert AiderDriver().launch(inv).argv.count("--read") == 1
    assert not ClaudeCodeDriver().launch(invocation(tmp_path)).home_files


def test_resume_flags(tmp_path: Path) -> None:
    inv = invocation(tmp_path, resume="abc")
    assert ClaudeCodeDriver().launch(inv).argv[-2:] == ["--resume", "abc"]
    assert CodexDriver().launch(inv).argv[:3] == ["exec", "resume", "abc"]
    assert GeminiDriver().launch(inv).argv[-2:] == ["--resume", "abc"]
    assert "--restore-chat-history" in AiderDriver().launch(inv).argv
    assert OpenCodeDriver().launch(inv).argv[-4:] == ["--session", "abc", "--", "fix it"]
    assert QwenDriver().launch(inv).argv[-2:] == ["--resume", "abc"]


def test_sessions_are_copied_back_and_never_escape_their_folder(tmp_path: Path) -> None:
    store = SessionStore(root=tmp_path / "sessions", harness="codex")
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "state").write_text("thread")
    store.save("t-1", home)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert store.restore("t-1", fresh)
    assert (fresh / ".codex" / "state").read_text() == "thread"
    assert not store.restore("t-2", fresh)
    store.save("../escape", home)
    assert not (tmp_path / "sessions" / "escape").exists()
    assert not store.restore("../codex", fresh)


def test_a_home_the_agent_filled_up_is_not_kept_out_of_its_disk_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.sessions.MAX_SESSION_BYTES", 64 * 1024)
    store = SessionStore(root=tmp_path / "sessions", harness="codex")
    home = tmp_path / "home"
    home.mkdir()
    (home / "filler.bin").write_bytes(b"\1" * 256 * 1024)
    store.save("t-1", home)
    assert not store.restore("t-1", tmp_path)


def test_a_venv_cli_needs_its_venv_and_base_python(tmp_path: Path) -> None:
    venv = tmp_path / "aider"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "aider").write_text("#!/bin/sh\n")
    (venv / "pyvenv.cfg").write_text(f"home = {tmp_path / 'py' / 'bin'}\n")
    assert install_mounts(venv / "bin" / "aider") == (venv, tmp_path / "py")
    npm = tmp_path / "npm" / "node_modules"
    (npm / ".bin").mkdir(parents=True)
    (npm / ".bin" / "claude").write_text("")
    assert install_mounts(npm / ".bin" / "claude") == (npm,)


def test_aider_resumed_counts_only_this_runs_messages(tmp_path: Path) -> None:
    def send(prompt: int, completion: int, cost: float) -> str:
        props = {"prompt_tokens": prompt, "completion_tokens": completion, "cost": cost}
        return json.dumps({"event": "message_send", "properties": props}) + "\n"

    log = tmp_path / ANALYTICS_FILE
    log.write_text(send(1300, 50, 0.0019))  # the earlier run, copied back with its home
    parser = AiderParser("openai/gpt-5", tmp_path, "aider-s1")
    with log.open("a") as appended:
        appended.write(send(10, 5, 0.0001))
    (tmp_path / CHAT_FILE).write_text("#### fix it\n\nDone.\n")
    final = parser.finish(OK)
    assert final.usage == Usage(model="openai/gpt-5", input_tokens=10, output_tokens=5, turns=1)
    assert final.cost_usd == 0.0001


def token_count(inp: int, cached: int, out: int) -> str:
    totals = {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out}
    payload = {"type": "token_count", "info": {"total_token_usage": totals}}
    return json.dumps({"type": "event_msg", "payload": payload}) + "\n"


def test_codex_usage_comes_from_its_rollout_while_the_turn_runs(tmp_path: Path) -> None:
    (tmp_path / BASELINE_FILE).write_text(json.dumps({"input_tokens": 100, "output_tokens": 5}))
    parser = CodexParser("gpt-5-codex", tmp_path)
    assert parser.poll() == []  # no thread yet: no rollout to read
    feed(parser, lines({"type": "thread.started", "thread_id": "t-1"}))
    rollout = tmp_path / ".codex" / "sessions" / "2026" / "11" / "28" / "rollout-x-t-1.jsonl"
    rollout.parent.mkdir(parents=True)
    # The resumed thread's earlier run, this run's first call, and half a line still being written.
    second = token_count(400, 40, 20)
    rollout.write_text(token_count(100, 0, 5) + token_count(250, 20, 12) + second[:9])
    [event] = parser.poll()
    assert event.usage == Usage(
        model="gpt-5-codex", input_tokens=130, output_tokens=7, cache_read_tokens=20
    )
    assert parser.poll() == []  # nothing new
    with rollout.open("a") as log:
        log.write(second[9:])
    [event] = parser.poll()
    assert event.usage is not None
    assert (event.usage.input_tokens, event.usage.output_tokens) == (260, 15)
    # Killed before `turn.completed`: the rollout's figures are the run's, and the next resume's.
    final = parser.finish(Completed(returncode=None, stdout=b"", stderr=b"", duration_s=9.0))
    assert (final.usage.input_tokens, final.usage.cache_read_tokens) == (260, 40)
    assert json.loads((tmp_path / BASELINE_FILE).read_text())["input_tokens"] == 360


def gemini_message(mid: str, inp: int, cached: int, out: int, total: int) -> dict[str, object]:
    tokens = {"input": inp, "cached": cached, "output": out, "thoughts": 0, "total": total}
    return {"id": mid, "type": "gemini", "content": "", "tokens": tokens, "model": "m"}


def test_gemini_usage_comes_from_its_chat_recording_while_it_runs(tmp_path: Path) -> None:
    chat = tmp_path / ".gemini" / "tmp" / "workspace" / "chats" / "session-1.jsonl"
    chat.parent.mkdir(parents=True)
    earlier = gemini_message("a", 1000, 0, 10, 1010)  # a resumed session's earlier run
    chat.write_text(json.dumps(earlier) + "\n")
    parser = GeminiParser("gemini-2.5-pro", tmp_path)
    assert parser.poll() == []
    first = gemini_message("b", 1300, 200, 50, 1357)  # 7 thought tokens
    with chat.open("a") as log:
        # A message is written, then again with its tool calls; a `$set` rewrites them all.
        log.write(json.dumps({"id": "u1", "type": "user", "content": []}) + "\n")
        log.write(json.dumps(first) + "\n" + json.dumps({**first, "toolCalls": []}) + "\n")
        log.write(json.dumps({"$set": {"messages": [earlier, first]}}) + "\n")
    [event] = parser.poll()
    assert event.usage == Usage(
        model="gemini-2.5-pro",
        input_tokens=1100,
        output_tokens=57,
        cache_read_tokens=200,
        reasoning_tokens=7,
        turns=1,
    )
    with chat.open("a") as log:
        log.write(json.dumps(gemini_message("c", 100, 0, 5, 105)) + "\n")
    [event] = parser.poll()
    assert event.usage is not None
    assert (event.usage.input_tokens, event.usage.output_tokens) == (1200, 62)
    # Killed before its `result`: what the recording shows is the run's usage.
    final = parser.finish(Completed(returncode=None, stdout=b"", stderr=b"", duration_s=9.0))
    assert final.usage == event.usage


def test_aider_usage_and_cost_come_from_its_log_after_each_message(tmp_path: Path) -> None:
    log = tmp_path / ANALYTICS_FILE
    parser = AiderParser("openai/gpt-5", tmp_path, "aider-s1")
    assert parser.poll() == []
    props = {"prompt_tokens": 1300, "completion_tokens": 50, "cost": 0.0019}
    log.write_text(json.dumps({"event": "message_send", "properties": props}) + "\n")
    [event] = parser.poll()
    assert event.usage == Usage(model="openai/gpt-5", input_tokens=1300, output_tokens=50, turns=1)
    assert event.cost_usd == 0.0019
    assert parser.poll() == []


def opencode_step(inp: int, out: int, reasoning: int, read: int, cost: float) -> dict[str, object]:
    tokens = {"input": inp, "output": out, "reasoning": reasoning,
              "cache": {"read": read, "write": 0}}  # fmt: skip
    part = {"type": "step-finish", "reason": "stop", "tokens": tokens, "cost": cost}
    return {"type": "step_finish", "sessionID": "ses_1", "part": part}


def test_opencode_steps_are_summed_with_reasoning_in_the_output(tmp_path: Path) -> None:
    parser = OpenCodeParser("gpt-5", tmp_path, priced=True)
    tool = {"type": "tool", "tool": "apply_patch", "state": {"input": {"patchText": "x"}}}
    feed(
        parser,
        lines(
            {"type": "step_start", "sessionID": "ses_1", "part": {"type": "step-start"}},
            {"type": "tool_use", "sessionID": "ses_1", "part": tool},
            opencode_step(1100, 40, 10, 200, 0.0019),
            {"type": "text", "sessionID": "ses_1", "part": {"type": "text", "text": "Fixed."}},
            opencode_step(303, 5, 2, 20, 0.00045125),
        ),
    )
    final = parser.finish(OK)
    assert (final.error, final.summary, final.session_id) == ("", "Fixed.", "ses_1")
    assert final.usage == Usage(model="gpt-5", input_tokens=1403, output_tokens=57,
                                cache_read_tokens=220, reasoning_tokens=12, turns=2)  # fmt: skip
    assert final.cost_usd == pytest.approx(0.00235125)
    # Without Baton's rates in its config OpenCode says $0: that is no cost at all.
    unpriced = OpenCodeParser("gpt-5", tmp_path, priced=False)
    unpriced.feed(json.dumps(opencode_step(1, 1, 0, 0, 0)))
    assert unpriced.finish(OK).cost_usd is None


def test_opencode_error_event_fails_the_run(tmp_path: Path) -> None:
    parser = OpenCodeParser("gpt-5", tmp_path, priced=True)
    data = {"message": "scripted failure", "statusCode": 401, "isRetryable": False}
    error = {"name": "APIError", "data": data}
    parser.feed(json.dumps({"type": "error", "sessionID": "s", "error": error}))
    final = parser.finish(Completed(returncode=1, stdout=b"", stderr=b"", duration_s=1.0))
    assert final.error == "scripted failure (HTTP 401)"
    assert final.cost_usd is None
    assert "without a model step" in OpenCodeParser("m", tmp_path, priced=True).finish(OK).error


def test_opencode_gives_up_on_a_model_api_it_keeps_retrying(tmp_path: Path) -> None:
    log = tmp_path / LOGS.replace("*", "run1")
    log.parent.mkdir(parents=True)
    line = 'level=ERROR message="stream error" providerID=baton error.error="AI_APICallError: {}"\n'
    log.write_text(line.format("from an earlier run") * 3)  # a resumed home's old log
    parser = OpenCodeParser("gpt-5", tmp_path, priced=True)
    with log.open("a") as appended:
        appended.write(line.format("boom") * 2)
    assert parser.poll() == []
    (log.parent / "run2.log").write_text(line.format("boom"))
    with pytest.raises(GiveUp, match="failed 3 times in a row: AI_APICallError: boom"):
        parser.poll()


def test_opencode_config_has_the_provider_and_prices_but_no_key(tmp_path: Path) -> None:
    price = PriceTable.load().lookup("gpt-5")
    inv = invocation(tmp_path, model="openai/gpt-5", price=price)
    launch = OpenCodeDriver().launch(inv)
    assert launch.env["OPENCODE_CONFIG"] == f"/home/agent/{CONFIG_FILE}"
    assert launch.env["OPENCODE_DISABLE_MODELS_FETCH"] == "1"
    assert launch.argv[:6] == ["run", "--format", "json", "-m", "baton/gpt-5", "--title"]
    text = launch.home_files[CONFIG_FILE]
    assert "sk-1" not in text
    provider = json.loads(text)["provider"]["baton"]
    # Both only by name: the relay of a network-less sandbox rewrites the URL in the env.
    env_vars = {"baseURL": "{env:BATON_MODEL_BASE_URL}", "apiKey": "{env:BATON_MODEL_API_KEY}"}
    assert provider["options"] == env_vars
    assert launch.env["BATON_MODEL_BASE_URL"] == "http://127.0.0.1:9/v1"
    rates = {"input": 1.25, "output": 10.0, "cache_read": 0.125, "cache_write": 1.25}
    assert provider["models"]["gpt-5"]["cost"] == rates
    bare = json.loads(OpenCodeDriver().launch(invocation(tmp_path)).home_files[CONFIG_FILE])
    assert "cost" not in bare["provider"]["baton"]["models"]["m"]
    # A rate the table lacks would be $0 to OpenCode: then Baton prices the tokens itself.
    partial = PriceTable.load().lookup("gemini-2.5-flash")
    assert partial is not None
    assert partial.cache_read is None
    launch = OpenCodeDriver().launch(invocation(tmp_path, model="gemini-2.5-flash", price=partial))
    data = json.loads(launch.home_files[CONFIG_FILE])
    assert "cost" not in data["provider"]["baton"]["models"]["gemini-2.5-flash"]


def qwen_assistant(
    content: list[dict[str, object]], inp: int, out: int, read: int
) -> dict[str, object]:
    usage = {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read}
    message = {"role": "assistant", "model": "gpt-5-mini", "content": content, "usage": usage}
    return {"type": "assistant", "session_id": "q1", "message": message}


def test_qwen_usage_per_call_then_the_results_totals(tmp_path: Path) -> None:
    parser = QwenParser("gpt-5-mini", tmp_path)
    init = {"type": "system", "subtype": "init", "session_id": "q1", "model": "gpt-5-mini"}
    assert parser.feed(json.dumps(init)) == []
    call: dict[str, object] = {
        "type": "tool_use",
        "name": "run_shell_command",
        "input": {"command": "ls"},
    }
    events = parser.feed(json.dumps(qwen_assistant([call], 1300, 50, 200)))
    assert [e.kind for e in events] == ["turn", "tool", "usage"]
    assert events[2].usage == Usage(model="gpt-5-mini", input_tokens=1100, output_tokens=50,
                                    cache_read_tokens=200, turns=1)  # fmt: skip
    feed(parser, lines(
        qwen_assistant([{"type": "text", "text": "Fixed."}], 323, 7, 20),
        {"type": "result", "subtype": "success", "is_error": False, "session_id": "q1",
         "result": "Fixed.", "usage": {"input_tokens": 1700, "output_tokens": 60,
                                       "cache_read_input_tokens": 220}},
    ))  # fmt: skip
    final = parser.finish(OK)
    assert (final.error, final.summary, final.session_id, final.cost_usd) == (
        "",
        "Fixed.",
        "q1",
        None,
    )
    # The result's totals win: they count a background call after the turn, too.
    assert final.usage == Usage(model="gpt-5-mini", input_tokens=1480, output_tokens=60,
                                cache_read_tokens=220, turns=2)  # fmt: skip


def test_qwen_api_error_with_exit_0_and_success_subtype_is_a_failure(tmp_path: Path) -> None:
    parser = QwenParser("gpt-5-mini", tmp_path)
    text = "[API Error: 401 scripted failure]"
    result = {"type": "result", "subtype": "success", "is_error": False, "result": text}
    parser.feed(json.dumps(result))
    assert parser.finish(OK).error == "[API Error: 401 scripted failure]"
    assert "without a result" in QwenParser("m", tmp_path).finish(OK).error


def test_qwen_gives_up_on_a_model_api_it_keeps_retrying(tmp_path: Path) -> None:
    log = tmp_path / DEBUG_LOGS.replace("*", "q1")
    log.parent.mkdir(parents=True)
    line = "2026 [ERROR] [RETRY] Attempt {} failed with status 500. Retrying... Error: 500 boom\n"
    log.write_text(line.format(5))  # an earlier run's, in a resumed home
    parser = QwenParser("gpt-5-mini", tmp_path)
    with log.open("a") as appended:
        appended.write(line.format(1) + "    at APIError.generate (cli.js:1:2)\n" + line.format(2))
    assert parser.poll() == []
    with log.open("a") as appended:
        appended.write(line.format(3))
    with pytest.raises(GiveUp, match=r"failed 3 times \(HTTP 500\): 500 boom"):
        parser.poll()


def test_qwen_settings_turn_telemetry_off_and_the_key_stays_out(tmp_path: Path) -> None:
    launch = QwenDriver().launch(invocation(tmp_path))
    assert launch.env["OPENAI_BASE_URL"] == "http://127.0.0.1:9/v1"
    assert launch.argv[:8] == ["-p", "fix it", "-o", "stream-json", "--auth-type", "openai",
                               "-m", "m"]  # fmt: skip
    settings = json.loads(launch.home_files[".qwen/settings.json"])
    assert settings["telemetry"]["enabled"] is False
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    assert settings["model"]["generationConfig"]["maxRetries"] == 0
    assert "sk-1" not in json.dumps(launch.home_files)


def test_qwen_resumed_session_counts_only_this_runs_part(tmp_path: Path) -> None:
    # Qwen Code's result.usage covers the whole session: the first run's totals are kept.
    def result(inp: int, out: int, read: int) -> str:
        usage = {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read}
        return json.dumps({"type": "result", "subtype": "success", "result": "ok", "usage": usage})

    first = QwenParser("gpt-5-mini", tmp_path)
    first.feed(result(2600, 100, 400))
    assert first.finish(OK).usage.input_tokens == 2200
    assert (tmp_path / QWEN_BASELINE).is_file()
    resumed = QwenParser("gpt-5-mini", tmp_path)
    resumed.feed(result(5200, 200, 800))
    usage = resumed.finish(OK).usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (2200, 100, 400)
