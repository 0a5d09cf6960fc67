"""Delivery as a plan: a pure function of the run's row, its target and what the remote has."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.base import RunStatus
from bot.github import PullRequest
from bot.ledger import RunRecord
from bot.run.deliver import (
    CreateCheckRun,
    Finish,
    KeepPrevious,
    OpenPull,
    Push,
    Remote,
    UpdatePull,
    plan_delivery,
)
from bot.run.target import Target

REC = RunRecord(
    id="r7",
    job_id=7,
    repo="acme/app",
    number=3,
    trigger="label",
    verb="fix",
    requester="octocat",
    status=RunStatus.RUNNING,
    created_at=1.0,
    agent="claude",
    adapter="claude-code",
    model="m",
    commit_sha="c" * 40,
    summary="Fixed it.",
)
TARGET = Target(branch="baton/3-fix", start="main", pr=None, issue_number=3, title="Fix it")
PR = PullRequest(
    number=9,
    html_url="https://x/pull/9",
    head_ref="baton/3-fix",
    head_sha="b" * 40,
    base_ref="main",
    state="open",
    body="",
    draft=False,
)


def kinds(actions: Sequence[object]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_a_first_delivery_pushes_opens_the_pr_checks_and_finishes() -> None:
    actions = plan_delivery(
        rec=REC,
        target=TARGET,
        remote=Remote(branch_sha=None, pr=None),
        base="main",
        draft=True,
        detail="done",
    )
    assert kinds(actions) == ["Push", "OpenPull", "CreateCheckRun", "Finish"]
    push, pull, check, finish = actions
    assert push == Push(lease=None)
    assert isinstance(pull, OpenPull)
    assert (pull.head, pull.base, pull.draft, pull.title) == ("baton/3-fix", "main", True, "Fix it")
    assert "Fixes #3" in pull.body
    assert "Fixed it." in pull.body
    assert isinstance(check, CreateCheckRun)
    assert check.head_sha == REC.commit_sha
    assert finish == Finish("done")


def test_a_retried_job_does_not_push_again_or_open_a_second_pr() -> None:
    rec = REC.with_(check_run_id=5, pr_number=9)
    remote = Remote(branch_sha=rec.commit_sha, pr=PR)
    actions = plan_delivery(
        rec=rec, target=TARGET, remote=remote, base="main", draft=False, detail=""
    )
    assert kinds(actions) == ["UpdatePull", "Finish"]
    assert isinstance(actions[0], UpdatePull)
    assert actions[0].number == 9


def test_the_push_keeps_the_lease_fixed_when_the_worktree_was_made() -> None:
    rec = REC.with_(lease_sha="a" * 40)
    remote = Remote(branch_sha="d" * 40, pr=PR)  # someone pushed meanwhile: the lease says so
    [push, *_] = plan_delivery(
        rec=rec, target=TARGET, remote=remote, base="main", draft=False, detail=""
    )
    assert push == Push(lease="a" * 40)


def test_a_fresh_retry_tags_the_head_it_replaces_and_the_body_names_it() -> None:
    rec = REC.with_(lease_sha="a" * 40)
    target = Target(
        branch="baton/3-fix", start="main", pr=PR, issue_number=3, title="Fix it", fresh=True
    )
    actions = plan_delivery(
        rec=rec,
        target=target,
        remote=Remote(branch_sha="a" * 40, pr=PR),
        base="main",
        draft=False,
        detail="",
    )
    assert kinds(actions)[:3] == ["KeepPrevious", "Push", "UpdatePull"]
    keep = actions[0]
    assert keep == KeepPrevious("a" * 40, f"baton/previous/3-{'a' * 12}")
    update = actions[2]
    assert isinstance(update, UpdatePull)
    assert f"`baton/previous/3-{'a' * 12}`" in update.body


def test_earlier_runs_of_the_pr_are_in_its_body() -> None:
    earlier = REC.with_(id="r5", agent="codex", status=RunStatus.FAILED, cost_usd=0.5)
    actions = plan_delivery(
        rec=REC,
        target=TARGET,
        remote=Remote(branch_sha=None, pr=None, earlier=(earlier,)),
        base="main",
        draft=False,
        detail="",
    )
    pull = actions[1]
    assert isinstance(pull, OpenPull)
    assert "`r5`" in pull.body
    assert "`r7`" in pull.body
    assert "**Total cost:**" in pull.body
