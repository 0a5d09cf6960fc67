"""A run's page as its reader meets it: why a failed run ended, said once and not as the page's
own error; what the agent and the issue's author wrote shown as text, never as markup; and
query strings nobody's browser would send answered with a 400, never a server error."""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

import httpx
import pytest

from bot.stack import Stack
from tests.e2e.repo_files import CALC

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


pytestmark = pytest.mark.anyio
REPO = "octocat/calc"
YML = "version: 1\nagents:\n  demo: {adapter: scripted}\nroutes:\n  - agent: demo\n"
# Markup in the issue's title and body, and in the name of the file the agent creates (which
# its summary quotes): a browser that ran any of it would show an alert.
TITLE = "<script>alert('title')</script> & \"quotes\""
HOSTILE_FILE = "<svg/onload=alert(1)>.py"
BODY = (
    "Fix it <img src=x onerror=alert('body')>\n\n"
    f"```diff\n--- /dev/null\n+++ b/{HOSTILE_FILE}\n@@ -0,0 +1 @@\n+x = 1\n```\n"
)


@pytest.fixture
async def stack(stack: Stack) -> Stack:
    """The dashboard tests' stack, with the repository these runs work on."""
    await stack.create_repo("octocat", "calc", {"calc.py": CALC, ".agents.yml": YML})
    return stack


async def labeled(stack: Stack, title: str, body: str) -> str:
    number = await stack.open_issue("octocat", REPO, title, body)
    await stack.label("octocat", REPO, number, "agent:fix")
    await stack.wait_final(REPO, number)
    [row] = await stack.runtime.services.store.runs_for_target(REPO, number)
    return row.id


@contextlib.asynccontextmanager
async def operator(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.baton_url, timeout=30) as client:
        signed = await client.post("/login/token", data={"token": stack.dashboard_token})
        assert signed.status_code == 303
        yield client


async def test_a_failed_runs_reason_is_said_once_and_not_as_the_pages_error(stack: Stack) -> None:
    # No ```diff block: the scripted agent fails, saying why.
    run_id = await labeled(stack, "add() subtracts", "Please fix add().")
    async with operator(stack) as client:
        page = (await client.get(f"/runs/{run_id}")).text
    assert 'id="error"' not in page  # the banner is for the page's own trouble
    [reason] = re.findall(r'<dd id="reason">(.*?)</dd>', page, re.DOTALL)
    assert "found no ```diff block" in reason
    assert page.count("found no ```diff block in the task") == 1 + page.count("ended: failed (")
    # The agent's end and the run's end are told apart on the timeline.
    assert "agent ended: failed" in page


async def test_what_the_agent_and_the_issue_wrote_is_shown_as_text(stack: Stack) -> None:
    run_id = await labeled(stack, TITLE, BODY)
    async with operator(stack) as client:
        pages = {p: (await client.get(p)).text for p in ("/runs", f"/runs/{run_id}")}
        events = await client.get(f"/runs/{run_id}/events")
    run_page = pages[f"/runs/{run_id}"]
    assert "&lt;svg/onload=alert(1)&gt;.py" in run_page  # the summary, escaped
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in run_page  # the brief
    for where, html in pages.items():
        assert "<script>alert" not in html, where
        assert "<svg/onload" not in html, where
        assert "<img src=x" not in html, where
    assert events.status_code == 200


async def test_query_strings_no_browser_sends_get_a_400_not_a_server_error(stack: Stack) -> None:
    run_id = await labeled(stack, "add() subtracts", "Please fix add().")
    async with operator(stack) as client:
        for query in ("start=nan", "start=inf", "start=-inf", "after=abc"):
            resp = await client.get(f"/runs/{run_id}/events?{query}")
            assert resp.status_code == 400, (query, resp.status_code)
        huge = await client.get(f"/runs/{run_id}/events", params={"after": "9" * 30})
        assert (huge.status_code, huge.json()["rows"]) == (200, [])
        far = await client.get("/runs", params={"page": "9" * 30})
        assert far.status_code == 200
        assert run_id not in far.text
