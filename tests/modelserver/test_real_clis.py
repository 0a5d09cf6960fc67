"""The real agent CLIs, pinned and installed, edit a repo against the scripted model server.

Each test is the recipe the adapters use: the flags, the environment, and how the CLI's own
usage report relates to the token counts the server sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Usage
from adapters.modelserver import Edit, ModelServer, ReplaceText, Tokens, WriteFile
from adapters.prices import PriceTable
from adapters.process import Completed, minimal_env, run
from adapters.toolchain import install
from tests.e2e.real_agents import PREFIX

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MARKER = "BATON-BRIEF-7f3a"
PROMPT = f"Apply the scripted change. ({MARKER})"
# Distinct counts per turn, so a CLI that drops or repeats a turn cannot match by accident.
TURNS = (
    Tokens(input=1000, output=50, cache_read=200, cache_write=100, reasoning=10),
    Tokens(input=300, output=7, cache_read=20, cache_write=3, reasoning=2),
    Tokens(input=11, output=13, cache_read=17, cache_write=19, reasoning=5),
)
SCENARIO = Edit(
    changes=(
        WriteFile("notes/hello.txt", "hello from the scripted model\n"),
        ReplaceText("app.py", "ANSWER = 41\n", "ANSWER = 42\n"),
    ),
    summary="Wrote notes/hello.txt and fixed ANSWER in app.py.",
    usage=TURNS,
)


async def workspace(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("import os\nANSWER = 41\n")
    await run(["git", "init", "-q"], cwd=repo, env=minimal_env())
    return repo


def assert_edited(repo: Path) -> None:
    assert (repo / "notes" / "hello.txt").read_text() == "hello from the scripted model\n"
    assert (repo / "app.py").read_text() == "import os\nANSWER = 42\n"


def sent(server: ModelServer) -> tuple[Tokens, int]:
    """What the server reported over the run, and how many model turns it answered."""
    replies = [r for r in server.recorder.model_requests() if r.usage is not None]
    total = Tokens()
    for r in replies:
        assert r.usage is not None
        total += r.usage
    return total, len(replies)


def assert_brief_arrived(server: ModelServer) -> None:
    first = server.recorder.model_requests()[0]
    assert MARKER in json.dumps(first.body)


def base_env(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return minimal_env(HOME=str(home), **extra)


async def cli(argv: list[str], repo: Path, env: dict[str, str]) -> Completed:
    done = await run(argv, cwd=repo, env=env, timeout_s=180, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.out[-3000:]}\n{done.err[-3000:]}"
    return done


async def test_claude_code(tmp_path: Path) -> None:
    (found,) = await install(["claude-code"], PREFIX)
    repo = await workspace(tmp_path)
    async with ModelServer() as server:
        key = server.register(SCENARIO)
        env = base_env(
            tmp_path / "home",
            ANTHROPIC_BASE_URL=server.url,
            ANTHROPIC_API_KEY=key,
            # Without it Claude Code makes a side request beside the main loop.
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            IS_SANDBOX="1",  # the bypass flag refuses to run as root otherwise
        )
        argv = [str(found.path), "-p", PROMPT, "--output-format", "stream-json", "--verbose"]
        argv += ["--dangerously-skip-permissions", "--model", "claude-sonnet-4-5"]
        done = await cli(argv, repo, env)
        total, turns = sent(server)
        assert_brief_arrived(server)
    events = [json.loads(line) for line in done.out.splitlines() if line.startswith("{")]
    result = events[-1]
    assert result["type"] == "result"
    assert result["is_error"] is False
    assert result["result"] == SCENARIO.summary
    assert_edited(repo)
    assert turns == 5  # Read, Write, Read, Edit, then the summary
    (model_usage,) = result["modelUsage"].values()
    assert model_usage["inputTokens"] == total.input == result["usage"]["input_tokens"]
    assert model_usage["outputTokens"] == total.output
    assert model_usage["cacheReadInputTokens"] == total.cache_read
    assert model_usage["cacheCreationInputTokens"] == total.cache_write
    usage = Usage(
        model="claude-sonnet-4-5",
        input_tokens=total.input,
        output_tokens=total.output,
        cache_read_tokens=total.cache_read,
        cache_write_tokens=total.cache_write,
    )
    priced = PriceTable.load().price(usage)
    assert priced is not None
    assert priced.cost_usd == round(result["total_cost_usd"], 6)


async def test_codex(tmp_path: Path) -> None:
    (found,) = await install(["codex"], PREFIX)
    repo = await workspace(tmp_path)
    codex_home = tmp_path / "home" / ".codex"
    codex_home.mkdir(parents=True)
    async with ModelServer() as server:
        key = server.register(SCENARIO)
        (codex_home / "config.toml").write_text(
            'model = "gpt-5-codex"\n'
            'model_provider = "scripted"\n'
            "check_for_update_on_startup = false\n"
            "[model_providers.scripted]\n"
            'name = "Scripted"\n'
            f'base_url = "{server.url}/v1"\n'
            'env_key = "SCRIPTED_API_KEY"\n'
            'wire_api = "responses"\n'
            "request_max_retries = 0\n"
            "stream_max_retries = 0\n"
            "[analytics]\n"
            "enabled = false\n"
        )
        env = base_env(tmp_path / "home", CODEX_HOME=str(codex_home), SCRIPTED_API_KEY=key)
        argv = [str(found.path), "exec", "--json", "--dangerously-bypass-approvals-and-sandbox"]
        done = await cli([*argv, PROMPT], repo, env)
        total, turns = sent(server)
        assert_brief_arrived(server)
    events = [json.loads(line) for line in done.out.splitlines() if line.startswith("{")]
    messages = [
        e["item"]["text"] for e in events if e.get("item", {}).get("type") == "agent_message"
    ]
    assert messages == [SCENARIO.summary]
    assert_edited(repo)
    assert turns == 3
    (completed,) = [e for e in events if e["type"] == "turn.completed"]
    # Codex counts cache reads and writes inside input_tokens and reasoning inside output.
    assert completed["usage"] == {
        "input_tokens": total.input + total.cache_read + total.cache_write,
        "cached_input_tokens": total.cache_read,
        "cache_write_input_tokens": total.cache_write,
        "output_tokens": total.output,
        "reasoning_output_tokens": total.reasoning,
    }


async def test_gemini(tmp_path: Path) -> None:
    (found,) = await install(["gemini"], PREFIX)
    repo = await workspace(tmp_path)
    settings: dict[str, Any] = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "telemetry": {"enabled": False},
        "privacy": {"usageStatisticsEnabled": False},
        "general": {"disableAutoUpdate": True},
    }
    (tmp_path / "home" / ".gemini").mkdir(parents=True)
    (tmp_path / "home" / ".gemini" / "settings.json").write_text(json.dumps(settings))
    async with ModelServer() as server:
        key = server.register(SCENARIO)
        env = base_env(
            tmp_path / "home",
            GOOGLE_GEMINI_BASE_URL=server.url,
            GEMINI_API_KEY=key,
            GEMINI_CLI_TRUST_WORKSPACE="true",
        )
        argv = [str(found.path), "-p", PROMPT, "-o", "json", "-m", "gemini-2.5-pro", "--yolo"]
        done = await cli(argv, repo, env)
        total, turns = sent(server)
        assert_brief_arrived(server)
    result = json.loads(done.out)
    assert result["response"] == SCENARIO.summary
    assert_edited(repo)
    assert turns == 3
    tokens = result["stats"]["models"]["gemini-2.5-pro"]["tokens"]
    # Gemini counts cache reads inside the prompt and thoughts apart from the candidates;
    # it has no cache writes, so the server folds them into the prompt.
    prompt = total.input + total.cache_read + total.cache_write
    assert tokens["prompt"] == prompt
    assert tokens["cached"] == total.cache_read
    assert tokens["input"] == prompt - total.cache_read
    assert tokens["candidates"] == total.output - total.reasoning
    assert tokens["thoughts"] == total.reasoning


async def test_aider(tmp_path: Path) -> None:
    (found,) = await install(["aider"], PREFIX)
    repo = await workspace(tmp_path)
    log = tmp_path / "analytics.jsonl"
    async with ModelServer() as server:
        key = server.register(SCENARIO)
        env = base_env(tmp_path / "home", OPENAI_API_KEY=key, LITELLM_LOCAL_MODEL_COST_MAP="True")
        argv = [str(found.path), "--model", "openai/gpt-5", "--openai-api-base", f"{server.url}/v1"]
        argv += ["--message", PROMPT, "--yes-always", "--no-auto-commits", "--no-gitignore"]
        argv += ["--no-analytics", "--analytics-log", str(log), "--no-check-update"]
        argv += ["--no-show-release-notes", "--no-pretty", "--no-stream", "--no-detect-urls"]
        argv += ["--disable-playwright", "app.py", "notes/hello.txt"]
        await cli(argv, repo, env)
        total, turns = sent(server)
        assert_brief_arrived(server)
    assert_edited(repo)
    assert turns == 1  # aider makes one request and applies the edit blocks itself
    events = [json.loads(line) for line in log.read_text().splitlines()]
    (send,) = [e["properties"] for e in events if e["event"] == "message_send"]
    assert send["prompt_tokens"] == total.input + total.cache_read + total.cache_write
    assert send["completion_tokens"] == total.output
