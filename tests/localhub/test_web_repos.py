"""The emulator's HTML views of a repository: issues, pull requests (body, commits, checks, diff)
and comments, everything escaped, under a policy that lets no script run."""

from __future__ import annotations

import httpx
import pytest

from tests.localhub.conftest import BASE, OWNER, REPO, Env

pytestmark = pytest.mark.anyio

HOSTILE = '<script>window.pwned=1</script>"><img src=x onerror="window.pwned=2">'


def web(env: Env) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app), base_url=BASE)


def assert_inert(page: httpx.Response) -> None:
    assert page.status_code == 200, page.text
    assert "<script" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy


async def _open(env: Env) -> tuple[int, int]:
    """An issue and a pull request (from `fix`), each with a hostile title, body and comment."""
    async with env.user() as user:
        issue = await user.post(
            f"repos/{OWNER}/{REPO}/issues", json={"title": HOSTILE, "body": HOSTILE}
        )
        pull = await user.post(
            f"repos/{OWNER}/{REPO}/pulls",
            json={"title": HOSTILE, "body": HOSTILE, "head": "fix", "base": "main"},
        )
        for made in (issue, pull):
            assert made.status_code == 201, made.text
            number = made.json()["number"]
            comment = await user.post(
                f"repos/{OWNER}/{REPO}/issues/{number}/comments", json={"body": HOSTILE}
            )
            assert comment.status_code == 201
    return issue.json()["number"], pull.json()["number"]


async def test_an_issue_shows_its_body_and_comments_escaped(env: Env) -> None:
    number, _ = await _open(env)
    async with web(env) as browser:
        page = await browser.get(f"/{OWNER}/{REPO}/issues/{number}")

    assert_inert(page)
    assert page.text.count("&lt;script&gt;window.pwned=1") == 4  # <title>, h1, body, comment


async def test_a_pull_request_shows_body_commits_and_diff(env: Env) -> None:
    _, number = await _open(env)
    async with web(env) as browser:
        page = await browser.get(f"/{OWNER}/{REPO}/pull/{number}")
        as_issue = await browser.get(f"/{OWNER}/{REPO}/issues/{number}")

    assert_inert(page)
    assert "fix → main" in page.text
    assert "<pre>Fix add</pre>" in page.text  # the commit's message
    assert "<span class=add>+    return a + b</span>" in page.text
    assert "<span class=del>-    return a - b</span>" in page.text
    assert as_issue.status_code == 302
    assert as_issue.headers["location"] == f"/{OWNER}/{REPO}/pull/{number}"


async def test_the_repository_lists_its_issues_and_pull_requests(env: Env) -> None:
    issue, pull = await _open(env)
    async with web(env) as browser:
        page = await browser.get(f"/{OWNER}/{REPO}")
        missing = await browser.get(f"/{OWNER}/nope")

    assert_inert(page)
    assert f'href="/{OWNER}/{REPO}/issues/{issue}"' in page.text
    assert f'href="/{OWNER}/{REPO}/pull/{pull}"' in page.text
    assert missing.status_code == 404
