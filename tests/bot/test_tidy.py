"""Which closed PR's branch Baton may delete: its own, untouched by anyone else (pure rule)."""

from __future__ import annotations

from bot.store.pulls import PullEvent, PullEventKind
from bot.tidy import keep_reason


def push(pusher: str, *, by_baton: bool) -> PullEvent:
    data = {"sha": "s", "by_baton": by_baton, "pusher": pusher}
    return PullEvent(repo="o/r", number=1, key=pusher, kind=PullEventKind.PUSHED, at=1.0, data=data)


def test_batons_own_untouched_branch_may_go() -> None:
    facts = [push("baton[bot]", by_baton=True)]
    assert keep_reason(branch="baton/1-x", head_sha="a", baton_commits={"a"}, facts=facts) is None


def test_a_branch_someone_else_pushed_to_stays_even_if_baton_pushed_last() -> None:
    facts = [push("octocat", by_baton=False), push("baton[bot]", by_baton=True)]
    reason = keep_reason(branch="baton/1-x", head_sha="a", baton_commits={"a"}, facts=facts)
    assert reason == "someone else pushed to it (@octocat)"


def test_a_head_baton_did_not_make_stays() -> None:
    reason = keep_reason(branch="baton/1-x", head_sha="f00d", baton_commits={"a"}, facts=[])
    assert reason == "its head f00d is not a commit Baton made"


def test_a_branch_outside_batons_namespace_stays() -> None:
    reason = keep_reason(branch="feature", head_sha="a", baton_commits={"a"}, facts=[])
    assert reason == "feature is not a baton/ branch"
