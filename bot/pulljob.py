"""The queue's `pull` task: record what a webhook said about one of Baton's pull requests, find
the PRs a merged revert reverts, and tidy a closed PR's branch."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot import gitops
from bot.github import GitHubError, GitHubUnavailable
from bot.logs import bound
from bot.pullnote import REVERT, PullNote
from bot.queue import RetryLater
from bot.scoreboard.facts import REVERT_WINDOW_S, PullFacts, fold
from bot.scoreboard.reverts import Reverting, reverted_by
from bot.store.pulls import PullEvent, PullEventKind
from bot.tidy import tidy_branch

if TYPE_CHECKING:
    from bot.queue import JobContext
    from bot.run.services import Services
    from bot.store.base import Store

log = logging.getLogger(__name__)


async def record_reverts(store: Store, note: PullNote) -> list[int]:
    """Mark the merged PRs of Baton the note's revert names; their numbers."""
    reverting = Reverting(numbers=note.reverts_numbers, shas=note.reverts_shas)
    candidates = set(reverting.numbers)
    if reverting.shas:
        # A commit can only name a PR merged within the window: those closed in it.
        recent = await store.pull_events(repo=note.repo, since=note.at - REVERT_WINDOW_S)
        candidates |= {e.number for e in recent if e.kind == PullEventKind.CLOSED}
    pulls: list[PullFacts] = []
    for number in sorted(candidates):
        pulls += fold(await store.pull_events(repo=note.repo, number=number)).values()
    revert_number = int(note.data.get("revert_number", 0))
    found = reverted_by(reverting, pulls, revert_number=revert_number)
    for number in found:
        await store.add_pull_event(
            PullEvent(
                repo=note.repo,
                number=number,
                key=f"revert:{revert_number}:{number}",
                kind=PullEventKind.REVERTED,
                at=note.at,
                data={"by": note.data.get("by", "")},
            )
        )
    return found


async def pull_job(services: Services, ctx: JobContext) -> None:
    note = PullNote.model_validate(ctx.args)
    with bound(delivery=note.delivery_id, repo=note.repo):
        if note.kind == REVERT:
            found = await record_reverts(services.store, note)
            if found:
                log.info("%s reverts %s", note.data.get("by"), ", ".join(f"#{n}" for n in found))
            return
        fact = PullEvent(
            repo=note.repo,
            number=note.number,
            key=note.key,
            kind=PullEventKind(note.kind),
            at=note.at,
            data=note.data,
        )
        await services.store.add_pull_event(fact)
        if note.kind != PullEventKind.CLOSED:
            return
        try:
            log.info("%s#%d closed: %s", note.repo, note.number, await tidy_branch(services, note))
        except (GitHubUnavailable, gitops.GitError) as exc:
            # The fact is kept (written once); only the branch waits for the retry.
            if not ctx.final_attempt:
                raise RetryLater(str(exc)) from exc
            log.warning("could not tidy the branch of %s#%d: %s", note.repo, note.number, exc)
        except GitHubError as exc:
            log.warning("could not tidy the branch of %s#%d: %s", note.repo, note.number, exc)
