"""The agent scoreboard: per agent, and per agent x label x repository (pure: values in, values
out).

Who counts for what:
- a pull request counts for the agent, label and repository of the run that opened it;
- a run's cost counts for its own agent, label and repository, whatever it ended as (failed,
  timed out, stopped at budget, cancelled, refused after it started): cost per merged PR is all
  of it over the merged PRs;
- **rates count only pull requests old enough to have an outcome**: merged or closed, or open
  and ready for review for longer than the window; drafts are left out until they are ready
  (a draft closed unready never counts), and so are the costs of the runs on PRs left out;
- the revert rate counts merged PRs once their 14 days are over, or once reverted.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.base import RunStatus
from bot.scoreboard.facts import (
    REVERT_WINDOW_S,
    PullFacts,
    PullKey,
    PullState,
    openers,
    pull_of,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from bot.store.base import RunRecord

DEFAULT_WINDOW_S = 7 * 24 * 3600.0
Group = tuple[str, ...]  # (agent,) or (agent, label, repository)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class Figures:
    """One row of the scoreboard. Counts of PRs are of all PRs opened; rates of those counted."""

    runs: int = 0
    opened: int = 0
    merged: int = 0
    closed_unmerged: int = 0
    still_open: int = 0
    drafts: int = 0  # open drafts: in `still_open`, out of every rate
    counted: int = 0  # PRs old enough to have an outcome: the rates' denominator
    counted_merged: int = 0
    zero_touch: int = 0  # of the merged PRs counted
    ci_first_pass: int = 0
    ci_first_known: int = 0  # counted PRs whose first head other apps checked
    review_rounds: tuple[int, ...] = ()  # per merged PR counted
    reverted: int = 0
    revert_known: int = 0  # merged PRs whose 14 days are over, or that were reverted
    times_to_merge_s: tuple[float, ...] = ()
    cost_usd: float = 0.0  # of the runs counted
    cost_runs: int = 0
    unknown_cost_runs: int = 0  # counted runs whose cost nobody reported or priced

    @property
    def merge_rate(self) -> float | None:
        return _rate(self.counted_merged, self.counted)

    @property
    def zero_touch_rate(self) -> float | None:
        return _rate(self.zero_touch, self.counted_merged)

    @property
    def ci_first_rate(self) -> float | None:
        return _rate(self.ci_first_pass, self.ci_first_known)

    @property
    def revert_rate(self) -> float | None:
        return _rate(self.reverted, self.revert_known)

    @property
    def mean_review_rounds(self) -> float | None:
        return statistics.fmean(self.review_rounds) if self.review_rounds else None

    @property
    def median_time_to_merge_s(self) -> float | None:
        return statistics.median(self.times_to_merge_s) if self.times_to_merge_s else None

    @property
    def cost_per_merged_usd(self) -> float | None:
        return self.cost_usd / self.counted_merged if self.counted_merged else None


@dataclass(frozen=True, slots=True)
class Row:
    agent: str
    label: str
    repo: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class Scoreboard:
    now: float
    window_s: float
    by_agent: tuple[Row, ...]
    by_agent_label_repo: tuple[Row, ...]
    # PRs Baton opened before it heard their outcomes (no facts): in no figure.
    untracked_prs: int = 0


@dataclass
class _Tally:
    runs: int = 0
    opened: int = 0
    merged: int = 0
    closed_unmerged: int = 0
    still_open: int = 0
    drafts: int = 0
    counted: int = 0
    counted_merged: int = 0
    zero_touch: int = 0
    ci_first_pass: int = 0
    ci_first_known: int = 0
    review_rounds: list[int] = field(default_factory=list)
    reverted: int = 0
    revert_known: int = 0
    times_to_merge_s: list[float] = field(default_factory=list)
    cost_usd: float = 0.0
    cost_runs: int = 0
    unknown_cost_runs: int = 0

    def figures(self) -> Figures:
        return Figures(
            **{
                **vars(self),
                "review_rounds": tuple(self.review_rounds),
                "times_to_merge_s": tuple(self.times_to_merge_s),
            }
        )


def counted(pull: PullFacts, *, now: float, window_s: float) -> bool:
    """Old enough to have an outcome: merged or closed once ready, or open and ready for
    longer than the window. Drafts are left out until they are ready."""
    if pull.state == PullState.MERGED:
        return True
    if pull.draft or pull.ready_at is None:
        return False
    return pull.state == PullState.CLOSED or now - pull.ready_at >= window_s


def _add_pull(t: _Tally, pull: PullFacts, *, now: float, window_s: float) -> None:
    t.opened += 1
    if pull.state == PullState.MERGED:
        t.merged += 1
    elif pull.state == PullState.CLOSED:
        t.closed_unmerged += 1
    else:
        t.still_open += 1
        t.drafts += int(pull.draft)
    if not counted(pull, now=now, window_s=window_s):
        return
    t.counted += 1
    if pull.first_ci is not None:
        t.ci_first_known += 1
        t.ci_first_pass += int(pull.first_ci == "pass")
    if not pull.merged:
        return
    t.counted_merged += 1
    t.zero_touch += int(pull.zero_touch)
    t.review_rounds.append(pull.review_rounds)
    if pull.time_to_merge_s is not None:
        t.times_to_merge_s.append(pull.time_to_merge_s)
    assert pull.merged_at is not None
    if pull.reverted or now - pull.merged_at > REVERT_WINDOW_S:
        t.revert_known += 1
        t.reverted += int(pull.reverted)


def _add_run(
    t: _Tally, run: RunRecord, pull: PullFacts | None, *, waits: bool, now: float, w: float
) -> None:
    """A run, and its cost unless it `waits` (with a PR of Baton's whose outcome is unheard)."""
    t.runs += 1
    if not RunStatus(run.status).final or waits:
        return
    if pull is not None and not counted(pull, now=now, window_s=w):
        return
    t.cost_runs += 1
    if run.cost_usd is None:
        t.unknown_cost_runs += 1
    else:
        t.cost_usd += run.cost_usd


def _groups(agent: str, label: str, repo: str) -> tuple[Group, Group]:
    return (agent,), (agent, label, repo)


def scoreboard(
    runs: Sequence[RunRecord],
    pulls: Mapping[PullKey, PullFacts],
    *,
    now: float,
    window_s: float = DEFAULT_WINDOW_S,
) -> Scoreboard:
    """The scoreboard of `runs` (those an agent took up) and the facts of their PRs."""
    worked = [r for r in runs if r.agent]
    by_id = {r.id: r for r in worked}
    tallies: dict[Group, _Tally] = defaultdict(_Tally)
    opened = openers(worked)
    for key, run_id in opened.items():
        pull = pulls.get(key)
        if pull is None:
            continue
        run = by_id[run_id]
        for group in _groups(run.agent, run.label, run.repo):
            _add_pull(tallies[group], pull, now=now, window_s=window_s)
    for run in worked:
        worked_on = pull_of(run)
        pull = pulls.get(worked_on) if worked_on is not None else None
        # A PR Baton opened but whose facts it never heard is in no figure: its runs wait.
        waits = pull is None and worked_on in opened
        for group in _groups(run.agent, run.label, run.repo):
            _add_run(tallies[group], run, pull, waits=waits, now=now, w=window_s)
    return Scoreboard(
        now=now,
        window_s=window_s,
        by_agent=_rows(tallies, 1),
        by_agent_label_repo=_rows(tallies, 3),
        untracked_prs=sum(1 for key in opened if key not in pulls),
    )


def _rows(tallies: Mapping[Group, _Tally], size: int) -> tuple[Row, ...]:
    rows = []
    for group in sorted(g for g in tallies if len(g) == size):
        agent, label, repo = (*group, "", "")[:3]
        rows.append(Row(agent=agent, label=label, repo=repo, figures=tallies[group].figures()))
    return tuple(rows)


def pulls_of(pulls: Iterable[PullFacts]) -> dict[PullKey, PullFacts]:
    return {(p.repo, p.number): p for p in pulls}
