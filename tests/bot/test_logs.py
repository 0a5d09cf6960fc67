"""Log lines carry the work they belong to (delivery, run, repository, agent) and no secret."""

from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING

import httpx
import pytest

from adapters.runner import FakeRunner, ProcessJob, completed
from bot.logs import FIELDS, JsonFormatter, _ContextFilter, bound
from bot.stack import Stack
from tests.e2e.repo_files import CALC

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from adapters.process import Completed

pytestmark = pytest.mark.anyio


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Root's JSON lines, from a handler in place before Baton starts (as the CLI makes it)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line]


def test_a_json_line_has_the_bound_ids_it_knows(captured: io.StringIO) -> None:
    log = logging.getLogger("test.logs")
    with bound(delivery="d-1", run="r7"):
        log.info("hello %s", "world")
    log.info("outside")
    first, second = lines(captured)
    assert first["message"] == "hello world"
    assert (first["delivery"], first["run"], first["level"]) == ("d-1", "r7", "INFO")
    assert "repo" not in first  # not known there: left out, not "-"
    assert not set(FIELDS) & set(second)


async def test_every_line_of_a_run_names_it_and_none_holds_a_secret(
    tmp_path: Path, captured: io.StringIO
) -> None:
    def leaky(job: ProcessJob) -> Completed:
        # An adapter logging what its CLI printed: the agent's output may hold anything.
        logging.getLogger("adapters.fake").warning("the CLI said: secret=%s", stack.secret)
        (job.places.worktree / "notes.txt").write_text("ok\n")
        return completed(json.dumps({"summary": f"the secret is {stack.secret}"}) + "\n")

    agent = (
        "  writer: {adapter: command, command: [writer], "
        "output: {format: jsonl, summary: summary}}\n"
    )
    yml = f"version: 1\nagents:\n{agent}routes:\n  - agent: writer\n"
    async with Stack(
        workdir=tmp_path, settings={"job_max_attempts": "1"}, runner=FakeRunner(leaky),
        github_transport=lambda app: httpx.ASGITransport(app=app),
    ) as stack:  # fmt: skip
        await stack.create_repo("octocat", "calc", {"calc.py": CALC, ".agents.yml": yml})
        number = await stack.open_issue("octocat", "octocat/calc", "Fix it", "Please.")
        await stack.label("octocat", "octocat/calc", number, "agent:fix")
        await stack.wait_final("octocat/calc", number)
        text = captured.getvalue()
        assert "the CLI said: secret=***" in text
        assert stack.secret not in text
        assert stack.keys.private_pem.splitlines()[1] not in text
    run_lines = [line for line in lines(captured) if line.get("run") == "r1"]
    assert run_lines
    assert all(line["repo"] == "octocat/calc" for line in run_lines)
    assert any(line.get("agent") == "writer" for line in run_lines)
