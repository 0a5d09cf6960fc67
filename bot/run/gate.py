"""The gate: who asked, under which config, with which flags. A run that may not start is
refused here, with the reason where the user is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.configsource import ConfigError, load_effective
from bot.plan import Refusal, authorize
from bot.run import decide
from bot.run.pause import hold
from bot.run.resume import last_run
from bot.run.status import refuse
from config.schema import AgentsConfig

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.github import RepoGitHub
    from bot.run.state import RunState
    from config.merge import Effective


async def _load(state: RunState, gh: RepoGitHub, flags: Mapping[str, object]) -> Effective:
    s = state.services
    return await load_effective(
        app=s.github,
        gh=gh,
        trigger=state.trigger,
        settings_repo=s.settings.settings_repo,
        flags=flags,
        label_prefix=s.settings.label_prefix,
        operator=s.operator,
    )


def _authorize(state: RunState, permission: str, config: AgentsConfig) -> Refusal | None:
    return authorize(
        trigger=state.trigger,
        permission=permission,
        config=config,
        server_allow_bots=state.services.settings.allow_bots,
    )


async def _continued_agent(state: RunState, gh: RepoGitHub) -> str | None:
    """The agent a `continue` resumes (its flags are that agent's keys)."""
    cmd = state.cmd
    if cmd is None or cmd.verb != "continue" or cmd.agent is not None or not cmd.flags:
        return None
    last = await last_run(state, gh)
    return last.agent if last is not None else None


async def open_gate(state: RunState, gh: RepoGitHub) -> Effective | None:
    """The effective config the run works under, or None when it was refused (and told).

    A bot that is not allow-listed is never answered: Baton does not converse with bots.
    """
    t = state.trigger
    permission = await gh.permission(t.requester)
    flags: dict[str, object] = {}
    try:
        effective = await _load(state, gh, flags)
        # Flags override keys of the agents that will run, so the route is read first.
        flags = decide.flags_for(
            state.command,
            t,
            effective.config,
            label_prefix=state.services.settings.label_prefix,
            continued=await _continued_agent(state, gh),
        )
        if flags:
            effective = await _load(state, gh, flags)
    except ConfigError as exc:
        # The built-in trigger rule decides who hears about a broken config.
        refusal = _authorize(state, permission, AgentsConfig())
        if refusal is None:
            await refuse(state, gh, Refusal(decide.config_error_text(exc)))
        elif not t.requester_is_bot:
            await refuse(state, gh, refusal)
        return None
    refusal = _authorize(state, permission, effective.config)
    if refusal is not None:
        if not t.requester_is_bot:
            await refuse(state, gh, refusal)
        return None
    if effective.pause.paused:
        await hold(state, gh, effective)
        return None
    word = state.services.settings.command
    refusal = (decide.locked_flags(effective) if flags else None) or decide.unknown_agent(
        state.command, effective.config, command_word=word
    )
    if refusal is not None:
        await refuse(state, gh, refusal)
        return None
    return effective
