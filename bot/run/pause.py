"""The org's kill switch (`enforce: {paused: true, reason, cancel_running, resume_queued}` in its
agents.yml): no run starts while it is on and each trigger is answered once with the reason;
with `resume_queued` a run waits (queued again every `BATON_PAUSE_RECHECK_S`) and starts by
itself once the pause is lifted; with `cancel_running` a running agent is stopped and its work
kept in a draft PR, as at a budget stop."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.configsource import ConfigError, load_effective
from bot.github import GitHubError
from bot.plan import Refusal
from bot.queue import NewJob
from bot.run.status import post_status, refuse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.github import RepoGitHub
    from bot.run.state import RunState
    from config.merge import Effective

log = logging.getLogger(__name__)


def paused_text(effective: Effective, *, owner: str, waits: bool) -> str:
    """What every trigger hears while the org has Baton paused."""
    pause, source = effective.pause, effective.pause_source
    why = f": “{pause.reason}”" if pause.reason else ""
    where = f" (`enforce.paused` in {source.where})" if source is not None else ""
    if waits:
        then = "This run starts by itself once the pause is lifted (`enforce.resume_queued: true`)."
    else:
        then = "Nothing starts until the org lifts the pause; ask again then."
    return f"Baton is paused for the {owner} organization{why}{where}. {then}"


def cancelled_text(effective: Effective, *, owner: str) -> str:
    pause, source = effective.pause, effective.pause_source
    why = f": “{pause.reason}”" if pause.reason else ""
    where = f" (`enforce.cancel_running` in {source.where})" if source is not None else ""
    return f"Stopped because the {owner} organization paused Baton{why}{where}."


async def hold(state: RunState, gh: RepoGitHub, effective: Effective) -> None:
    """The run does not start: refused, or (with `resume_queued`) queued again to look later."""
    s, t = state.services, state.trigger
    waits = effective.pause.resume_queued and s.queue is not None
    text = paused_text(effective, owner=t.owner, waits=waits)
    if not waits or s.queue is None:
        await refuse(state, gh, Refusal(text))
        return
    events = await s.store.events(state.rec.id)
    if not events or events[-1].kind != "paused":
        # Said once: later looks while the pause lasts change nothing on GitHub.
        await state.event("paused", reason=effective.pause.reason)
        await post_status(state, gh, detail=text)
        if t.comment_id is not None:
            await gh.react_comment(t.comment_id, "eyes", review=t.comment_kind == "review")
    again = t.model_copy(update={"run_id": state.rec.id})
    await s.queue.submit(
        NewJob(
            task="run",
            args=again.model_dump(mode="json"),
            lock=t.lock,
            dedupe_key=f"paused:{state.rec.id}",
            max_attempts=s.settings.job_max_attempts,
            delay_s=s.settings.pause_recheck_s,
        )
    )


def watch(state: RunState, gh: RepoGitHub) -> Callable[[], Awaitable[str | None]]:
    """A look at the org's kill switch while an agent runs: why to stop it (None: go on)."""
    s, t = state.services, state.trigger

    async def look() -> str | None:
        try:
            effective = await load_effective(
                app=s.github,
                gh=gh,
                trigger=t,
                settings_repo=s.settings.settings_repo,
                label_prefix=s.settings.label_prefix,
                operator=s.operator,
            )
        except (ConfigError, GitHubError) as exc:
            # A config that cannot be read now does not stop a run that started under it.
            log.info("could not look at the org's pause: %s", exc)
            return None
        pause = effective.pause
        if pause.paused and pause.cancel_running:
            return cancelled_text(effective, owner=t.owner)
        return None

    return look
