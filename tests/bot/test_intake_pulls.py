"""Intake of the facts about Baton's own pull requests: GitHub's example payloads, made Baton's,
become one `pull` job each; every other pull request, review and check suite costs no write."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from bot.database import open_database
from bot.intake import Ignore, IntakeContext, Record, decide, intake_router
from bot.pullnote import PULL_TASK, REVERT, PullNote
from bot.queue.sqlite import SQLiteJobQueue
from bot.store.pulls import PullEventKind
from bot.webhooks import WebhookEndpoint
from config.settings import load_settings
from tests.webhook_helpers import all_fixtures, fixture, headers

CTX = IntakeContext(
    delivery_id="d1", label_prefix="agent:", command="/agent", bot_login="baton[bot]"
)
SECRET = b"intake-pulls"


def batons(name: str, *, sender: str = "baton[bot]") -> dict[str, Any]:
    """A stored example made one of Baton's pull requests (its bot, a baton/ branch)."""
    payload = fixture(name)
    pr = payload["pull_request"]
    pr["user"]["login"] = "baton[bot]"
    pr["user"]["type"] = "Bot"
    pr["head"]["ref"] = "baton/1-fix-add"
    pr["head"]["repo"]["full_name"] = payload["repository"]["full_name"]
    payload["sender"]["login"] = sender
    payload["installation"] = {"id": 42}
    return payload


def note_of(event: str, payload: dict[str, Any]) -> PullNote:
    decisions = decide(intake_router(), event, payload, CTX)
    [record] = [d for d in decisions if isinstance(d, Record)]
    assert record.task == PULL_TASK
    return PullNote.model_validate(record.args)


def ignored(event: str, payload: dict[str, Any]) -> list[str]:
    decisions = decide(intake_router(), event, payload, CTX)
    assert all(isinstance(d, Ignore) for d in decisions), decisions
    return [d.reason for d in decisions if isinstance(d, Ignore)]


def test_baton_opening_a_pr_records_its_first_head_and_draft_state() -> None:
    payload = batons("pull_request.opened.0")
    note = note_of("pull_request", payload)
    assert (note.kind, note.key) == (PullEventKind.OPENED, f"opened:{payload['number']}")
    assert note.data["head"] == payload["pull_request"]["head"]["sha"]
    assert note.data["draft"] is False
    assert note.data["branch"] == "baton/1-fix-add"
    assert note.at > 1_500_000_000  # GitHub's created_at, as seconds
    assert note.lock == f"pull:{payload['repository']['full_name']}#{payload['number']}"


def test_a_push_says_who_pushed_from_the_sender() -> None:
    person = note_of("pull_request", batons("pull_request.synchronize.0", sender="octocat"))
    assert person.kind == PullEventKind.PUSHED
    assert (person.data["by_baton"], person.data["pusher"]) == (False, "octocat")
    baton = note_of("pull_request", batons("pull_request.synchronize.0"))
    assert baton.data["by_baton"] is True
    assert baton.data["sha"] == fixture("pull_request.synchronize.0")["after"]


def test_a_merge_records_the_merge_commit_and_the_branch_head() -> None:
    payload = batons("pull_request.closed.0", sender="octocat")
    pr = payload["pull_request"]
    pr |= {"merged": True, "merged_at": pr["closed_at"], "merged_by": payload["sender"]}
    note = note_of("pull_request", payload)
    assert note.kind == PullEventKind.CLOSED
    assert note.data == {"merged": True, "merge_sha": pr["merge_commit_sha"], "by": "octocat"}
    assert (note.branch, note.head_sha) == ("baton/1-fix-add", pr["head"]["sha"])


def test_ready_and_draft_are_facts_too() -> None:
    assert note_of("pull_request", batons("pull_request.ready_for_review.1")).kind == "ready"
    assert note_of("pull_request", batons("pull_request.converted_to_draft.0")).kind == "draft"


def test_a_pr_baton_did_not_open_is_ignored() -> None:
    person = fixture("pull_request.synchronize.0")
    person["installation"] = {"id": 42}
    assert ignored("pull_request", person) == ["not a pull request Baton opened"]
    fork = batons("pull_request.synchronize.0")
    fork["pull_request"]["head"]["repo"]["full_name"] = "someone/fork"
    assert ignored("pull_request", fork) == ["not a pull request Baton opened"]
    other_branch = batons("pull_request.synchronize.0")
    other_branch["pull_request"]["head"]["ref"] = "feature"
    assert ignored("pull_request", other_branch) == ["not a pull request Baton opened"]


def test_a_persons_review_is_a_fact_and_batons_own_is_not() -> None:
    payload = batons("pull_request_review.submitted.1", sender="octocat")
    payload["review"]["user"]["login"] = "octocat"
    note = note_of("pull_request_review", payload)
    assert note.kind == PullEventKind.REVIEWED
    assert note.key == f"review:{payload['review']['id']}"
    assert note.data["commit"] == payload["review"]["commit_id"]
    payload["review"]["user"]["login"] = "baton[bot]"
    assert ignored("pull_request_review", payload) == ["a review by Baton itself"]


def suite(conclusion: str, *, branch: str = "baton/1-fix-add", app: str = "ci") -> dict[str, Any]:
    payload = fixture("check_suite.completed.0")
    payload["check_suite"] |= {"conclusion": conclusion, "head_branch": branch}
    payload["check_suite"]["app"]["slug"] = app
    payload["installation"] = {"id": 42}
    return payload


def test_other_apps_checks_on_a_baton_branch_are_a_pass_or_a_failure() -> None:
    passed = note_of("check_suite", suite("success"))
    assert passed.kind == PullEventKind.CHECKED
    assert passed.data["verdict"] == "pass"
    assert (
        passed.number
        == fixture("check_suite.completed.0")["check_suite"]["pull_requests"][0]["number"]
    )
    assert note_of("check_suite", suite("timed_out")).data["verdict"] == "fail"


def test_checks_that_say_nothing_of_the_agents_change_are_ignored() -> None:
    assert ignored("check_suite", suite("success", app="baton")) == ["Baton's own check suite"]
    assert ignored("check_suite", suite("success", branch="main")) == ["not a baton/ branch"]
    assert "cancelled" in ignored("check_suite", suite("cancelled"))[0]


def revert(body: str, *, merged: bool = True) -> dict[str, Any]:
    payload = fixture("pull_request.closed.0")
    payload["pull_request"] |= {"body": body, "merged": merged, "merged_at": "2026-01-02T03:04:05Z"}
    payload["installation"] = {"id": 42}
    return payload


def test_a_merged_revert_of_anyones_is_looked_into() -> None:
    repo = fixture("pull_request.closed.0")["repository"]["full_name"]
    note = note_of("pull_request", revert(f"Reverts {repo}#12\n\nThis reverts commit abcdef12."))
    assert (note.kind, note.reverts_numbers, note.reverts_shas) == (REVERT, (12,), ("abcdef12",))
    assert note.lock is None


def test_a_revert_closed_unmerged_or_a_pr_reverting_nothing_is_ignored() -> None:
    assert "closed without a merge" in ignored("pull_request", revert("Reverts #12", merged=False))
    assert "reverts nothing" in ignored("pull_request", revert("We may revert this later"))


@pytest.fixture
async def intake() -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    conn = open_database("sqlite:///:memory:")
    queue = SQLiteJobQueue(conn)
    settings = load_settings({"BATON_WEBHOOK_SECRET": SECRET.decode()})
    endpoint = WebhookEndpoint(settings=settings, router=intake_router(), queue=queue)
    app = Starlette(routes=[Route("/webhooks", endpoint.handle, methods=["POST"])])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://baton"
    ) as client:
        yield client, conn
    conn.close()


@pytest.mark.anyio
async def test_pull_requests_reviews_and_suites_that_are_not_batons_cost_no_write(
    intake: tuple[httpx.AsyncClient, Any],
) -> None:
    client, conn = intake
    sent = 0
    for event, stem, payload in all_fixtures():
        if event not in {"pull_request", "pull_request_review", "check_suite"}:
            continue
        payload.setdefault("installation", {"id": 7})
        body = json.dumps(payload).encode()
        resp = await client.post("/webhooks", content=body, headers=headers(SECRET, event, body))
        assert resp.status_code == 202, (stem, resp.text)
        assert "ignored" in resp.json(), stem
        sent += 1
    assert sent >= 20
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone() == (0,)
    assert conn.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (0,)
    # One of Baton's: queued, its delivery recorded with it.
    body = json.dumps(batons("pull_request.synchronize.0", sender="octocat")).encode()
    resp = await client.post(
        "/webhooks", content=body, headers=headers(SECRET, "pull_request", body)
    )
    assert resp.status_code == 202
    assert len(resp.json()["queued"]) == 1
    assert conn.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (1,)
