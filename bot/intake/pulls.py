"""Facts about Baton's own pull requests, for the scoreboard and for tidying their branches.

`pull_request` (opened, synchronize, ready_for_review, converted_to_draft, closed, reopened) and
`pull_request_review.submitted` on a PR Baton opened, and `check_suite.completed` on a `baton/`
branch, become a `pull` job that records one fact. A merged PR of anyone's whose text says it
reverts others becomes a job that finds which. Everything else is answered with no durable
write: Baton's PRs are told apart by the payload alone (opened by Baton's bot, from a `baton/`
branch of the repository itself), most of them by a substring before any parsing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from bot.events import Envelope, Installation, Payload, Repository, User, _Tolerant
from bot.intake.routing import Decision, Ignore, IntakeContext, Record, Router, where_from
from bot.pullnote import PULL_TASK, REVERT, PullNote
from bot.scoreboard.reverts import references
from bot.store.pulls import PullEventKind

router = Router()
BRANCH_PREFIX = "baton/"
# Check suite conclusions: a pass, a failure; the others (cancelled, stale, skipped by a
# rerun...) say nothing of the agent's change.
PASSING = frozenset({"success", "neutral", "skipped"})
FAILING = frozenset({"failure", "timed_out", "action_required", "startup_failure"})
_PR_FACTS = {
    "opened": PullEventKind.OPENED,
    "synchronize": PullEventKind.PUSHED,
    "ready_for_review": PullEventKind.READY,
    "converted_to_draft": PullEventKind.DRAFT,
    "closed": PullEventKind.CLOSED,
    "reopened": PullEventKind.REOPENED,
}


class _Struct(_Tolerant, frozen=True):
    """A tolerant model of this module's (bot/events.py reads every delivery through those)."""


class _Named(_Struct, frozen=True):
    full_name: str = ""


class _Ref(_Struct, frozen=True):
    ref: str = ""
    sha: str = ""
    repo: _Named | None = None


class _Pull(_Struct, frozen=True):
    number: int
    user: User
    head: _Ref
    base: _Ref = _Ref()
    title: str = ""
    body: str | None = None
    draft: bool = False
    merged: bool = False
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    created_at: str = ""
    updated_at: str = ""
    closed_at: str | None = None
    merged_at: str | None = None


class _PullEvent(_Struct, frozen=True, kw_only=True):
    repository: Repository
    sender: User
    installation: Installation | None = None
    pull_request: _Pull
    before: str | None = None
    after: str | None = None


class _Review(_Struct, frozen=True):
    id: int
    user: User | None = None
    commit_id: str = ""
    state: str = ""
    submitted_at: str | None = None


class _ReviewEvent(_PullEvent, frozen=True, kw_only=True):
    review: _Review


class _App(_Struct, frozen=True):
    slug: str = ""


class _PullNumber(_Struct, frozen=True):
    number: int


class _Suite(_Struct, frozen=True):
    id: int
    head_sha: str
    head_branch: str | None = None
    conclusion: str | None = None
    updated_at: str = ""
    app: _App = _App()
    pull_requests: list[_PullNumber] = msgspec.field(default_factory=list)


class _SuiteEvent(_Struct, frozen=True, kw_only=True):
    repository: Repository
    installation: Installation | None = None
    check_suite: _Suite


class _SuiteHead(Envelope, frozen=True):
    """The envelope and the suite's branch: enough to see that most suites are not Baton's."""

    check_suite: Any = None


def when(stamp: str | None) -> float:
    """Seconds since the epoch of GitHub's ISO 8601 time (0 when it is missing)."""
    if not stamp:
        return 0.0
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return 0.0


def is_batons(pr: _Pull, repository: Repository, ctx: IntakeContext) -> bool:
    """Opened by Baton's bot from a `baton/` branch of the repository itself (not a fork)."""
    head_repo = pr.head.repo.full_name if pr.head.repo is not None else ""
    return (
        pr.user.login == ctx.bot_login
        and pr.head.ref.startswith(BRANCH_PREFIX)
        and head_repo.lower() == repository.full_name.lower()
    )


def _record(note: PullNote) -> Record:
    return Record(task=PULL_TASK, args=note.model_dump(mode="json"), lock=note.lock)


def _pr_fact(event: _PullEvent, action: str, ctx: IntakeContext) -> dict[str, Any]:
    """The fact's time, key and data for one `pull_request` action."""
    pr, sender = event.pull_request, event.sender.login
    at = when(pr.updated_at)
    key = f"{action}:{ctx.delivery_id}"
    data: dict[str, Any] = {}
    if action == "opened":
        at, key = when(pr.created_at), f"opened:{pr.number}"
        data = {
            "branch": pr.head.ref,
            "base": pr.base.ref,
            "head": pr.head.sha,
            "draft": pr.draft,
            "title": pr.title,
        }
    elif action == "synchronize":
        after = event.after or pr.head.sha
        data = {
            "sha": after,
            "before": event.before or "",
            "by_baton": sender == ctx.bot_login,
            "pusher": sender,
        }
    elif action == "closed":
        at = when(pr.merged_at if pr.merged else pr.closed_at) or at
        by = pr.merged_by.login if pr.merged and pr.merged_by is not None else sender
        data = {"merged": pr.merged, "merge_sha": pr.merge_commit_sha or "", "by": by}
    return {"at": at, "key": key, "data": data}


def baton_pull(payload: Payload, ctx: IntakeContext) -> Decision:
    """Opened, pushed to, marked ready or draft, closed or reopened: one of Baton's PRs."""
    action = str(payload.envelope().action)
    event = payload.read(_PullEvent)
    pr = event.pull_request
    if not is_batons(pr, event.repository, ctx):
        return Ignore("not a pull request Baton opened")
    assert event.installation is not None  # decide() drops payloads without one
    note = PullNote(
        **where_from(ctx, event.repository, event.installation.id),
        number=pr.number,
        kind=_PR_FACTS[action],
        branch=pr.head.ref,
        head_sha=pr.head.sha,
        **_pr_fact(event, action, ctx),
    )
    return _record(note)


# Registered per action, so that the others (labeled, edited, ...) are answered unread.
for _action in _PR_FACTS:
    router.register("pull_request", _action, needs=lambda ctx: ctx.bot_login)(baton_pull)


# "evert" is in both "Reverts owner/repo#N" and "This reverts commit": the rest is not read.
@router.register("pull_request", "closed", needs=lambda _ctx: "evert")
def revert_pull(payload: Payload, ctx: IntakeContext) -> Decision:
    """A merged pull request (anyone's) whose text says it reverts pull requests or commits."""
    event = payload.read(_PullEvent)
    pr = event.pull_request
    if not pr.merged:
        return Ignore("closed without a merge")
    reverting = references(event.repository.full_name, f"{pr.title}\n{pr.body or ''}")
    if not reverting:
        return Ignore("reverts nothing")
    assert event.installation is not None
    note = PullNote(
        **where_from(ctx, event.repository, event.installation.id),
        number=0,
        kind=REVERT,
        at=when(pr.merged_at),
        key=f"revert:{pr.number}",
        data={"by": f"{event.repository.full_name}#{pr.number}", "revert_number": pr.number},
        reverts_numbers=reverting.numbers,
        reverts_shas=reverting.shas,
    )
    return _record(note)


@router.register("pull_request_review", "submitted", needs=lambda ctx: ctx.bot_login)
def baton_review(payload: Payload, ctx: IntakeContext) -> Decision:
    """A person's review of one of Baton's PRs: a review round, if it came before the merge."""
    event = payload.read(_ReviewEvent)
    pr, review = event.pull_request, event.review
    if not is_batons(pr, event.repository, ctx):
        return Ignore("not a pull request Baton opened")
    reviewer = review.user.login if review.user is not None else event.sender.login
    if reviewer == ctx.bot_login:
        return Ignore("a review by Baton itself")
    assert event.installation is not None
    data = {
        "review_id": review.id,
        "commit": review.commit_id,
        "state": review.state.lower(),
        "reviewer": reviewer,
    }
    note = PullNote(
        **where_from(ctx, event.repository, event.installation.id),
        number=pr.number,
        kind=PullEventKind.REVIEWED,
        branch=pr.head.ref,
        at=when(review.submitted_at),
        key=f"review:{review.id}",
        data=data,
    )
    return _record(note)


@router.register("check_suite", "completed", needs=lambda _ctx: BRANCH_PREFIX, head=_SuiteHead)
def baton_checks(payload: Payload, ctx: IntakeContext) -> Decision:
    """Another app's checks of a commit on a `baton/` branch: the first try's CI, if it is the
    agent's first head (the worker does not need to know yet: the fold decides)."""
    event = payload.read(_SuiteEvent)
    suite = event.check_suite
    if not (suite.head_branch or "").startswith(BRANCH_PREFIX):
        return Ignore("not a baton/ branch")
    if suite.app.slug == ctx.bot_login.removesuffix("[bot]"):
        return Ignore("Baton's own check suite")
    conclusion = suite.conclusion or ""
    if conclusion not in PASSING | FAILING:
        return Ignore(f"a {conclusion or 'missing'} conclusion says nothing of the change")
    assert event.installation is not None
    number = suite.pull_requests[0].number if suite.pull_requests else 0
    data = {
        "sha": suite.head_sha,
        "verdict": "pass" if conclusion in PASSING else "fail",
        "app": suite.app.slug,
        "suite": suite.id,
    }
    note = PullNote(
        **where_from(ctx, event.repository, event.installation.id),
        number=number,
        kind=PullEventKind.CHECKED,
        branch=suite.head_branch or "",
        at=when(suite.updated_at),
        key=f"check:{ctx.delivery_id}",
        data=data,
    )
    return _record(note)
