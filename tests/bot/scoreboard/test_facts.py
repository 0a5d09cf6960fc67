"""What a pull request amounts to, folded from its facts: each rule of bot/scoreboard/facts.py."""

from __future__ import annotations

from bot.scoreboard.facts import PullState, Verdict, fold, openers, run_outcome, verdicts
from bot.store.pulls import PullEvent, PullEventKind
from tests.bot.scoreboard.helpers import (
    DAY,
    REPO,
    checked,
    closed,
    fact,
    merged,
    opened,
    pushed,
    run,
)


def test_a_pr_merged_with_only_baton_pushing_is_a_zero_touch_merge() -> None:
    [pull] = fold([opened(1), pushed(1, 5.0, "h2", by_baton=True), merged(1, 9.0)]).values()
    assert pull.state == PullState.MERGED
    assert pull.zero_touch
    assert pull.time_to_merge_s == 9.0


def test_a_persons_push_before_the_merge_makes_it_touched() -> None:
    [pull] = fold([opened(1), pushed(1, 5.0, "p1", by_baton=False), merged(1, 9.0)]).values()
    assert pull.merged
    assert pull.person_pushed
    assert not pull.zero_touch


def test_a_push_after_the_merge_is_not_part_of_the_pr() -> None:
    [pull] = fold([opened(1), merged(1, 9.0), pushed(1, 10.0, "p1", by_baton=False)]).values()
    assert pull.zero_touch


def test_a_closed_pr_is_not_merged_and_a_reopened_one_is_open_again() -> None:
    [pull] = fold([opened(1), closed(1, 3.0)]).values()
    assert (pull.state, pull.zero_touch) == (PullState.CLOSED, False)
    reopened = fact(PullEventKind.REOPENED, 1, 4.0)
    [pull] = fold([opened(1), closed(1, 3.0), reopened]).values()
    assert pull.state == PullState.OPEN


def test_first_try_ci_reads_the_first_head_and_a_failure_sticks() -> None:
    events = [opened(1, head="a"), checked("a", 1.0, "fail"), checked("a", 2.0, "pass")]
    [pull] = fold(events).values()
    assert pull.first_ci == Verdict.FAIL  # a rerun that passed is not a first try
    [pull] = fold([opened(1, head="a"), checked("a", 1.0, "pass")]).values()
    assert pull.first_ci == Verdict.PASS
    # Checks of a later head, or none at all, say nothing of the first try.
    [pull] = fold([opened(1, head="a"), checked("b", 1.0, "pass")]).values()
    assert pull.first_ci is None


def test_a_check_recorded_before_the_pr_opened_counts_for_its_first_head() -> None:
    [pull] = fold([checked("a", 0.5, "pass"), opened(1, 1.0, head="a")]).values()
    assert pull.first_ci == Verdict.PASS


def test_review_rounds_are_the_heads_people_reviewed_before_the_merge() -> None:
    def review(at: float, commit: str) -> PullEvent:
        return fact(PullEventKind.REVIEWED, 1, at, commit=commit, state="changes_requested")

    events = [opened(1, head="a"), review(1.0, "a"), review(2.0, "a"), review(3.0, "b")]
    [pull] = fold([*events, merged(1, 4.0), review(5.0, "c")]).values()
    assert pull.review_rounds == 2


def test_a_revert_counts_within_fourteen_days_of_the_merge() -> None:
    def reverted(at: float) -> PullEvent:
        return fact(PullEventKind.REVERTED, 1, at, by=f"{REPO}#9")

    [pull] = fold([opened(1), merged(1, 10.0), reverted(10.0 + 14 * DAY)]).values()
    assert pull.reverted
    assert pull.reverted_by == f"{REPO}#9"
    [pull] = fold([opened(1), merged(1, 10.0), reverted(11.0 + 14 * DAY)]).values()
    assert not pull.reverted


def test_drafts_are_ready_from_when_they_are_marked_ready() -> None:
    [pull] = fold([opened(1, 1.0, draft=True)]).values()
    assert (pull.draft, pull.ready_at) == (True, None)
    [pull] = fold([opened(1, 1.0, draft=True), fact(PullEventKind.READY, 1, 5.0)]).values()
    assert (pull.draft, pull.ready_at) == (False, 5.0)
    [pull] = fold([opened(1, 1.0), fact(PullEventKind.DRAFT, 1, 2.0)]).values()
    assert (pull.draft, pull.ready_at) == (True, None)


def test_a_pr_baton_never_saw_open_has_no_facts() -> None:
    assert fold([pushed(1, 5.0, "p", by_baton=False), merged(1, 9.0)]) == {}


def test_verdicts_are_per_commit_and_repository() -> None:
    got = verdicts([checked("a", 1.0, "pass"), checked("b", 1.0, "pass"), checked("b", 2, "fail")])
    assert got == {(REPO, "a"): Verdict.PASS, (REPO, "b"): Verdict.FAIL}


def test_the_run_that_opened_a_pr_is_the_first_that_delivered_to_it() -> None:
    runs = [
        run("r2", pr_number=1, created_at=5.0),  # a retry on the PR
        run("r1", pr_number=1, created_at=1.0, status="stopped_at_budget"),  # kept as a draft
        run("r0", created_at=0.5, status="failed"),
        run("r3", pr_number=7, branch="fix-typo"),  # worked on a person's PR
    ]
    assert openers(runs) == {(REPO, 1): "r1"}


def test_each_run_sees_the_pr_from_its_own_commit() -> None:
    events = [
        opened(1, head="a"),
        checked("a", 1.0, "fail"),
        pushed(1, 2.0, "p", by_baton=False),
        pushed(1, 3.0, "b", by_baton=True),
        checked("b", 4.0, "pass"),
        merged(1, 5.0),
    ]
    pulls = fold(events)
    first, retry = run("r1", pr_number=1, commit_sha="a"), run("r2", pr_number=1, commit_sha="b")
    opened_by = openers([first, retry])
    one = run_outcome(first, pulls, verdicts(events), opened_by)
    two = run_outcome(retry, pulls, verdicts(events), opened_by)
    assert (one.opened_pr, one.pr_state, one.zero_touch, one.ci_pass) == (
        True,
        "merged",
        False,
        False,
    )
    # The retry's commit came after the person's: nothing of a person's followed it.
    assert (two.opened_pr, two.zero_touch, two.ci_pass) == (False, True, True)
    assert (one.review_rounds, two.review_rounds) == (0, 0)
    lone = run_outcome(run("r3"), pulls, {}, opened_by)
    assert (lone.pr_state, lone.zero_touch, lone.reverted) == (None, None, None)
    assert lone.review_rounds is None
    # A retry asked for on the PR that failed before delivering still belongs to it.
    failed = run("r4", number=1, is_pull_request=True, status="failed")
    assert run_outcome(failed, pulls, {}, opened_by).pr_state == "merged"
