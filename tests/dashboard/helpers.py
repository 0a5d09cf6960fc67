"""Signing in to a Stack's dashboard as a browser would: through the emulator's authorize page."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bot.stack import Stack

OWNER, REPO, SECRET_REPO = "octocat", "octocat/calc", "octocat/vault"


@contextlib.asynccontextmanager
async def sign_in(stack: Stack, login: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding `login`'s dashboard session."""
    async with httpx.AsyncClient(base_url=stack.baton_url, timeout=30) as browser:
        await _sign_in(browser, stack, login)
        yield browser


async def _sign_in(browser: httpx.AsyncClient, stack: Stack, login: str) -> None:
    start = await browser.get("/login/github?next=/runs")
    assert start.status_code == 302, start.text
    authorize = urlsplit(start.headers["location"])
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    async with httpx.AsyncClient(base_url=stack.hub_server.url, timeout=30) as hub:
        page = await hub.get(authorize.path, params=query)
        assert page.status_code == 200
        back = await hub.post(
            "/login/oauth/authorize",
            data={
                "client_id": query["client_id"],
                "redirect_uri": query["redirect_uri"],
                "state": query["state"],
                "login": login,
            },
        )
    callback = urlsplit(back.headers["location"])
    done = await browser.get(f"{callback.path}?{callback.query}")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/runs"


async def two_repos_with_runs(stack: Stack, yml: str) -> dict[str, str]:
    """`octocat/calc` (which ann may read) and the private `octocat/vault` (which she may not),
    each with one finished run; the run id of each."""
    from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE  # noqa: PLC0415

    runs = {}
    for repo in (REPO, SECRET_REPO):
        name = repo.split("/")[1]
        await stack.create_repo(OWNER, name, {"calc.py": CALC, ".agents.yml": yml})
        number = await stack.open_issue(OWNER, repo, ISSUE_TITLE, ISSUE_BODY)
        await stack.label(OWNER, repo, number, "agent:fix")
        await stack.wait_final(repo, number)
        [row] = await stack.runtime.services.store.runs_for_target(repo, number)
        runs[repo] = row.id
    stack.hub.repos[SECRET_REPO].private = True
    stack.hub.set_permission(REPO, "ann", "read")
    return runs
