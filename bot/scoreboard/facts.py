"""What each of Baton's pull requests amounts to, folded from the facts its webhooks left (pure).

The rules, each decided here once:
- **a person's commit**: a push whose `synchronize` GitHub sent with someone other than Baton as
  the sender. The sender is who GitHub authenticated for the push; a commit's author and
  committer are free text anyone can set (a rebase keeps them), so they cannot tell who pushed.
- **zero-touch merge**: merged, and no person pushed to the PR before its merge (the PR begins
  with the agent's commit, so any person's push comes after it).
- **first-try CI**: the check suites of other apps on the agent's first head: a pass when they
  all passed, a failure when any failed at least once (a rerun that passes later does not
  make it a first try); no verdict when no other app checked that commit.
- **review rounds**: the heads people reviewed (any state) before the merge.
- **reverted within 14 days**: a revert of it was merged within 14 days of its merge (the
  revert rule is `bot.scoreboard.reverts`).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.store.pulls import PullEvent, PullEventKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from bot.store.base import RunRecord

REVERT_WINDOW_S = 14 * 24 * 3600.0


class PullState(enum.StrEnum):
    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"  # closed without a merge


class Verdict(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a check verdict, not a password
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Head:
    """A push to the PR's branch after it opened."""

    sha: str
    by_baton: bool
    pusher: str
    at: float


@dataclass(frozen=True, slots=True)
class PullFacts:
    repo: str
    number: int
    branch: str = ""
    opened_at: float | None = None
    first_head: str = ""
    draft: bool = False
    # Since when it is ready for review (its age for the scoreboard); None while a draft.
    ready_at: float | None = None
    state: PullState = PullState.OPEN
    merged_at: float | None = None
    closed_at: float | None = None
    merge_sha: str = ""
    heads: tuple[Head, ...] = ()
    reviewed_heads: frozenset[str] = frozenset()
    first_ci: Verdict | None = None
    reverted_at: float | None = None
    reverted_by: str = ""

    @property
    def merged(self) -> bool:
        return self.state == PullState.MERGED

    @property
    def person_pushed(self) -> bool:
        return any(not h.by_baton for h in self.heads)

    @property
    def zero_touch(self) -> bool:
        return self.merged and not self.person_pushed

    @property
    def review_rounds(self) -> int:
        return len(self.reviewed_heads)

    @property
    def time_to_merge_s(self) -> float | None:
        if self.merged_at is None or self.opened_at is None:
            return None
        return max(0.0, self.merged_at - self.opened_at)

    @property
    def reverted(self) -> bool:
        """Reverted within the 14 days after its merge."""
        return (
            self.merged_at is not None
            and self.reverted_at is not None
            and self.reverted_at - self.merged_at <= REVERT_WINDOW_S
        )

    def touched_after(self, sha: str) -> bool:
        """Whether a person pushed after `sha` (a head of the PR; its first head if unknown)."""
        shas = [h.sha for h in self.heads]
        start = shas.index(sha) + 1 if sha in shas else 0
        return any(not h.by_baton for h in self.heads[start:])


PullKey = tuple[str, int]


def verdicts(events: Iterable[PullEvent]) -> dict[tuple[str, str], Verdict]:
    """Per (repository, commit): FAIL if any other app's check suite failed on it, else PASS if
    one passed."""
    out: dict[tuple[str, str], Verdict] = {}
    for e in events:
        if e.kind != PullEventKind.CHECKED:
            continue
        key = (e.repo, str(e.data.get("sha", "")))
        if out.get(key) != Verdict.FAIL:
            out[key] = Verdict(str(e.data["verdict"]))
    return out


def _apply(pull: PullFacts, e: PullEvent) -> PullFacts:
    d = e.data
    change = dataclasses.replace
    match e.kind:
        case PullEventKind.OPENED:
            draft = bool(d.get("draft", False))
            return change(
                pull,
                branch=str(d.get("branch", "")),
                opened_at=e.at,
                first_head=str(d.get("head", "")),
                draft=draft,
                ready_at=None if draft else e.at,
            )
        case PullEventKind.PUSHED:
            head = Head(str(d["sha"]), bool(d.get("by_baton")), str(d.get("pusher", "")), e.at)
            if pull.merged_at is not None:
                return pull  # a push after the merge is no longer part of this PR
            return change(pull, heads=(*pull.heads, head))
        case PullEventKind.DRAFT:
            return change(pull, draft=True, ready_at=None)
        case PullEventKind.READY:
            return change(pull, draft=False, ready_at=e.at)
        case PullEventKind.REVIEWED:
            if pull.merged_at is not None and e.at > pull.merged_at:
                return pull
            return change(pull, reviewed_heads=pull.reviewed_heads | {str(d.get("commit", ""))})
        case PullEventKind.CLOSED:
            if d.get("merged"):
                return change(
                    pull,
                    state=PullState.MERGED,
                    merged_at=e.at,
                    closed_at=e.at,
                    merge_sha=str(d.get("merge_sha") or ""),
                )
            return change(pull, state=PullState.CLOSED, closed_at=e.at)
        case PullEventKind.REOPENED:
            return change(pull, state=PullState.OPEN, closed_at=None)
        case PullEventKind.REVERTED:
            if pull.reverted_at is not None:
                return pull
            return change(pull, reverted_at=e.at, reverted_by=str(d.get("by", "")))
        case _:
            return pull


def fold(events: Iterable[PullEvent]) -> dict[PullKey, PullFacts]:
    """Each pull request's facts from its events (taken oldest first, as the store gives them).

    Only pull requests Baton saw open are kept: facts of others are never recorded, and a PR
    without its `opened` fact has no first head to judge.
    """
    ordered = list(events)
    checked = verdicts(ordered)
    pulls: dict[PullKey, PullFacts] = {}
    for e in ordered:
        if e.kind == PullEventKind.CHECKED:
            continue
        key = (e.repo, e.number)
        pulls[key] = _apply(pulls.get(key) or PullFacts(repo=e.repo, number=e.number), e)
    return {
        key: dataclasses.replace(pull, first_ci=checked.get((pull.repo, pull.first_head)))
        for key, pull in pulls.items()
        if pull.opened_at is not None
    }


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """One run's figures: what became of the PR it worked on, seen from its own commit."""

    run_id: str
    pr_number: int | None
    opened_pr: bool  # this run opened the PR (the PR counts for its agent)
    pr_state: str | None  # open, draft, merged, closed; None without a PR Baton tracks
    zero_touch: bool | None  # merged with no person's push after this run's commit
    ci_pass: bool | None  # other apps' checks on this run's commit
    review_rounds: int | None  # the heads people reviewed before the PR's merge
    reverted: bool | None
    time_to_merge_s: float | None


BRANCH_PREFIX = "baton/"


def pull_of(run: RunRecord) -> PullKey | None:
    """The pull request a run worked on: the one it delivered to, or, for a run asked for on a
    pull request that ended before delivering anything (a failed retry), that one."""
    if run.pr_number is not None:
        return (run.repo, run.pr_number)
    return (run.repo, run.number) if run.is_pull_request else None


def openers(runs: Iterable[RunRecord]) -> dict[PullKey, str]:
    """The run that opened each of Baton's PRs: the first that delivered to it (a PR number is
    recorded only once a run opened or updated it) from a `baton/` branch. It may have ended at
    its limit, its work kept in a draft PR; a run on a person's PR (their branch) opened none."""
    out: dict[PullKey, str] = {}
    for run in sorted(runs, key=lambda r: (r.created_at, r.id)):
        if run.pr_number is not None and run.branch.startswith(BRANCH_PREFIX):
            out.setdefault((run.repo, run.pr_number), run.id)
    return out


def run_outcome(
    run: RunRecord,
    pulls: Mapping[PullKey, PullFacts],
    checks: Mapping[tuple[str, str], Verdict],
    opened: Mapping[PullKey, str],
) -> RunOutcome:
    key = pull_of(run)
    pull = pulls.get(key) if key is not None else None
    verdict = checks.get((run.repo, run.commit_sha)) if run.commit_sha else None
    if pull is None:
        state = None
    else:
        state = "draft" if pull.state == PullState.OPEN and pull.draft else pull.state.value
    merged = pull is not None and pull.merged
    return RunOutcome(
        run_id=run.id,
        pr_number=key[1] if pull is not None and key is not None else run.pr_number,
        opened_pr=run.pr_number is not None and opened.get((run.repo, run.pr_number)) == run.id,
        pr_state=state,
        zero_touch=(pull.merged and not pull.touched_after(run.commit_sha)) if pull else None,
        ci_pass=None if verdict is None else verdict == Verdict.PASS,
        review_rounds=pull.review_rounds if pull is not None and merged else None,
        reverted=pull.reverted if pull is not None and merged else None,
        time_to_merge_s=pull.time_to_merge_s if pull is not None else None,
    )
