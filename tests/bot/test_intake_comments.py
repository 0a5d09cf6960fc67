"""Comment commands at intake: what queues behind a run, what is answered at once, what is noise."""

from __future__ import annotations

import pytest

from bot.intake import Enqueue, Ignore, IntakeContext, decide, intake_router
from tests.webhook_helpers import comment_payload, review_comment_payload

CTX = IntakeContext(delivery_id="d", label_prefix="agent:", command="/agent",
                    bot_login="baton[bot]")  # fmt: skip


def one(event: str, payload: dict[str, object]) -> Enqueue | Ignore:
    decisions = decide(intake_router(), event, payload, CTX)
    assert len(decisions) == 1
    assert isinstance(decisions[0], Enqueue | Ignore)
    return decisions[0]


def test_retry_on_a_pr_queues_behind_the_issue_lock() -> None:
    d = one("issue_comment", comment_payload("/agent codex retry", on_pull_request=True))
    assert isinstance(d, Enqueue)
    assert d.task == "run"
    assert d.lock == "Codertocat/Hello-World#1"
    assert d.trigger.agent == "codex"
    assert d.trigger.verb == "retry"
    assert d.trigger.is_pull_request
    assert d.trigger.comment_kind == "issue"


@pytest.mark.parametrize(
    "text",
    [
        "/agent cancel",
        "/agent status",
        "/agent help",
        "/agent config",
        "/agent budget",
        "/agent frobnicate",
    ],
)
def test_control_verbs_and_errors_are_answered_without_the_lock(text: str) -> None:
    d = one("issue_comment", comment_payload(text))
    assert isinstance(d, Enqueue)
    assert d.task == "control"
    assert d.lock is None


def test_two_comments_are_two_jobs_one_comment_is_one() -> None:
    first = one("issue_comment", comment_payload("/agent retry", comment_id=1))
    second = one("issue_comment", comment_payload("/agent retry", comment_id=2))
    assert isinstance(first, Enqueue)
    assert isinstance(second, Enqueue)
    assert first.dedupe_key != second.dedupe_key
    assert first.lock == second.lock


def test_baton_never_reacts_to_its_own_comments() -> None:
    assert isinstance(one("issue_comment", comment_payload("/agent retry", sender="baton[bot]")),
                      Ignore)  # fmt: skip
    payload = comment_payload("Usage: `/agent [AGENT] VERB`\n/agent retry")
    payload["comment"]["performed_via_github_app"] = {"id": 1, "slug": "baton"}
    assert isinstance(one("issue_comment", payload), Ignore)


def test_comments_without_a_command_are_ignored() -> None:
    assert isinstance(one("issue_comment", comment_payload("LGTM, see /agent docs")), Ignore)


def test_edited_comments_are_ignored() -> None:
    payload = comment_payload("/agent retry")
    payload["action"] = "edited"
    assert isinstance(one("issue_comment", payload), Ignore)


def test_review_thread_command() -> None:
    d = one("pull_request_review_comment", review_comment_payload("/agent claude fix 'rename it'"))
    assert isinstance(d, Enqueue)
    assert d.trigger.comment_kind == "review"
    assert d.trigger.is_pull_request
    assert d.trigger.agent == "claude"
    assert d.trigger.command_text == "claude fix 'rename it'"


def test_a_command_on_batons_pr_queues_behind_its_issue() -> None:
    """The issue's runs and the PR's runs work on one branch: they share one lock."""
    from bot.ledger import RunRecord  # noqa: PLC0415
    from bot.render import pr_body  # noqa: PLC0415

    rec = RunRecord(id="r1", job_id=1, repo="Codertocat/Hello-World", number=7, trigger="label",
                    verb="fix", requester="octocat", status="success", created_at=0.0)  # fmt: skip
    payload = comment_payload("/agent codex retry", on_pull_request=True)
    payload["issue"]["body"] = pr_body(summary="Fixed.", issue_number=7, runs=[rec])
    d = one("issue_comment", payload)
    assert isinstance(d, Enqueue)
    assert d.lock == "Codertocat/Hello-World#7"
    # A PR written by a person keeps its own lock, whatever its body says.
    payload["issue"]["body"] = "Fixes #7"
    d = one("issue_comment", payload)
    assert isinstance(d, Enqueue)
    assert d.lock == "Codertocat/Hello-World#1"
