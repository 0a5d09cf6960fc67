"""A `baton/*` branch is deleted once its pull request is merged or closed
(`policy.delete_branch_on_close`, on by default), never a branch someone else pushed to.

Whose branch it is, is judged from what Baton knows, never from the commits' authors (free text):
its head when the PR closed must be a commit one of Baton's runs made (the ledger), no push by
anyone but Baton may be recorded for the PR (the `synchronize` facts), and the deletion itself
holds only while the branch is still at that head (a lease git checks under the ref's lock).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bot import gitops
from bot.configsource import ConfigError, load_effective
from bot.intake.pulls import BRANCH_PREFIX
from bot.store.pulls import PullEventKind
from bot.trigger import Trigger

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from bot.pullnote import PullNote
    from bot.run.services import Services
    from bot.store.pulls import PullEvent

log = logging.getLogger(__name__)


def keep_reason(
    *, branch: str, head_sha: str, baton_commits: Collection[str], facts: Sequence[PullEvent]
) -> str | None:
    """Why the branch of a closed PR stays (None: Baton may delete it)."""
    if not branch.startswith(BRANCH_PREFIX):
        return f"{branch} is not a {BRANCH_PREFIX} branch"
    if not head_sha or head_sha not in baton_commits:
        return f"its head {head_sha[:12] or '(unknown)'} is not a commit Baton made"
    pushers = sorted(
        {
            str(e.data.get("pusher", ""))
            for e in facts
            if e.kind == PullEventKind.PUSHED and not e.data.get("by_baton")
        }
    )
    if pushers:
        return "someone else pushed to it (" + ", ".join(f"@{p}" for p in pushers) + ")"
    return None


def _repo_trigger(note: PullNote) -> Trigger:
    """The repository's coordinates, as the config loader takes them."""
    return Trigger(
        kind="label",
        delivery_id=note.delivery_id,
        installation_id=note.installation_id,
        repo=note.repo,
        owner=note.owner,
        name=note.name,
        clone_url=note.clone_url,
        default_branch=note.default_branch,
        number=note.number,
        requester="",
    )


async def _enabled(services: Services, note: PullNote) -> bool | str:
    """The repository's `policy.delete_branch_on_close`, or why it cannot be known."""
    s = services
    async with await s.github.repo(note.installation_id, note.owner, note.name) as gh:
        try:
            effective = await load_effective(
                app=s.github,
                gh=gh,
                trigger=_repo_trigger(note),
                settings_repo=s.settings.settings_repo,
                label_prefix=s.settings.label_prefix,
                operator=s.operator,
            )
        except ConfigError:
            # Nothing is deleted on a config Baton cannot read: a run reports it where it runs.
            return "the repository's agent configuration does not load"
    return effective.config.policy.delete_branch_on_close


async def tidy_branch(services: Services, note: PullNote) -> str:
    """Delete the closed PR's branch when the rules allow; says what was done, for the log."""
    store = services.store
    runs = await store.runs_for_pull(note.repo, note.number)
    facts = await store.pull_events(repo=note.repo, number=note.number)
    reason = keep_reason(
        branch=note.branch,
        head_sha=note.head_sha,
        baton_commits={r.commit_sha for r in runs if r.commit_sha},
        facts=facts,
    )
    if reason is not None:
        return f"kept {note.branch}: {reason}"
    enabled = await _enabled(services, note)
    if enabled is not True:
        return f"kept {note.branch}: " + (enabled or "policy.delete_branch_on_close is false")
    token = await services.github.token(note.installation_id, (note.name,))
    with tempfile.TemporaryDirectory(prefix="baton-tidy-") as tmp:
        deleted = await gitops.delete_branch(
            clone_url=note.clone_url,
            token=token,
            branch=note.branch,
            expected=note.head_sha,
            scratch=Path(tmp) / "repo",
        )
    if not deleted:
        return f"kept {note.branch}: it moved since the PR closed, or is gone already"
    log.info("deleted branch %s of %s#%d", note.branch, note.repo, note.number)
    return f"deleted {note.branch}"
