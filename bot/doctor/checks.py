"""Every check of `baton doctor`, in the order printed, as values; the machine probes injectable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters import toolchain
from adapters.base import Resources
from adapters.runlimits import enforcement
from adapters.sandbox import sandbox_status
from bot.doctor import local
from bot.doctor.agents import agent_check, configured_agents
from bot.doctor.remote import github_checks
from bot.doctor.result import Outcome
from bot.gh.app import GitHubApp

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping
    from pathlib import Path

    import httpx

    from adapters.runlimits import Enforced
    from adapters.sandbox import SandboxStatus
    from bot.doctor.result import Check
    from config.settings import Settings


async def _limits(resources: Resources, sandboxed: bool) -> list[Enforced]:
    return await enforcement(resources, sandboxed=sandboxed)


@dataclass(frozen=True, slots=True, kw_only=True)
class Probes:
    """What is asked of this machine (tests answer for it); the agents' prefix and env."""

    sandbox: Callable[[], Awaitable[SandboxStatus]] = sandbox_status
    limits: Callable[[Resources, bool], Awaitable[list[Enforced]]] = _limits
    agents_prefix: Path | None = None


async def diagnose(
    settings: Settings,
    *,
    env: Mapping[str, str],
    public_url: str,
    probes: Probes | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Check]:
    """Settings, GitHub, database, sandbox and limits, agents: each line a `Check`."""
    probes = probes or Probes()
    checks = [
        local.app_id_check(settings),
        local.private_key_check(settings),
        local.webhook_secret_check(settings),
    ]
    credentials_ok = all(c.outcome is Outcome.PASSED for c in checks[:2])
    app = GitHubApp(
        app_id=(settings.app_id or "0").strip(),
        # Only the anonymous reachability request is made when the key is not usable.
        private_key=settings.private_key_pem() if credentials_ok else "",
        base_url=settings.github_url,
        auto_retry=False,
        timeout_s=10.0,
        transport=transport,
    )
    found = await github_checks(
        app, settings, public_url=public_url or settings.public_url, credentials_ok=credentials_ok
    )
    checks += found.checks
    checks.append(local.database_check(settings.database_url))
    sandboxed = settings.sandbox == "bubblewrap"
    checks.append(
        local.sandbox_check(settings.sandbox, await probes.sandbox() if sandboxed else None)
    )
    resources = Resources(
        processes=settings.run_max_processes,
        memory_bytes=int(settings.run_max_memory),
        disk_bytes=int(settings.run_max_disk),
    )
    checks += local.limit_checks(await probes.limits(resources, sandboxed))
    prefix = probes.agents_prefix or toolchain.default_prefix(env)
    for agent in configured_agents(found.org_files):
        checks.append(await agent_check(agent, env=env, prefix=prefix))
    return checks
