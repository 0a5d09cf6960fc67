"""Config check: a pull request is checked when it is opened or pushed to, so a broken
`.agents.yml` is reported on the PR that breaks it, before it reaches the default branch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.events import PullRequestEvent
from bot.intake.routing import Decision, Enqueue, IntakeContext, Router, where_from
from bot.trigger import Trigger

router = Router()


@router.register("pull_request", "opened")
@router.register("pull_request", "reopened")
@router.register("pull_request", "synchronize")
def pull_request_changed(payload: Mapping[str, Any], ctx: IntakeContext) -> Decision:
    """Every new head of a PR gets a config check job; the job looks whether it changes
    `.agents.yml` (one API call) and, only then, validates it and reports a check run."""
    event = PullRequestEvent.model_validate(payload)
    assert event.installation is not None  # decide() drops payloads without one
    pr, repo = event.pull_request, event.repository
    trigger = Trigger(
        kind="config",
        **where_from(ctx, repo, event.installation.id),
        html_url=pr.html_url,
        number=pr.number,
        is_pull_request=True,
        title=pr.title,
        requester=event.sender.login,
        requester_is_bot=event.sender.is_bot,
        verb="config",
        head_sha=pr.head.sha,
    )
    return Enqueue(
        trigger=trigger,
        dedupe_key=f"config:{repo.full_name}:{pr.head.sha}",
        task="config_check",
        serialize=False,
    )
