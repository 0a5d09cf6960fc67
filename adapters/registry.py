"""Which adapter drives which harness: the names `.agents.yml` may use as `adapter:`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.aider import AiderDriver
from adapters.claude_code import ClaudeCodeDriver
from adapters.codex import CodexDriver
from adapters.command import CommandAdapter
from adapters.gemini import GeminiDriver
from adapters.harness_run import HarnessAdapter
from adapters.opencode import OpenCodeDriver
from adapters.prices import PriceTable
from adapters.qwen import QwenDriver
from adapters.runner import chosen
from adapters.scripted import ScriptedAdapter
from config.errors import BatonError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from adapters.base import AgentAdapter
    from adapters.harness import Driver
    from adapters.runner import Runner
    from adapters.sandbox import SandboxMode
    from config.schema import AgentSpec

# The real CLIs, each driven by the one harness adapter through its own driver.
DRIVERS: dict[str, type[Driver]] = {
    "claude-code": ClaudeCodeDriver,
    "codex": CodexDriver,
    "gemini": GeminiDriver,
    "aider": AiderDriver,
    "opencode": OpenCodeDriver,
    "qwen": QwenDriver,
}
HARNESSES = tuple(DRIVERS)
KNOWN_ADAPTERS = frozenset({"scripted", "command", *HARNESSES})


class AdapterUnavailable(BatonError):
    """The config names an adapter this Baton cannot run (yet, or on this machine)."""


def build_adapter(
    *,
    agent: str,
    spec: AgentSpec,
    server_env: Mapping[str, str],
    runner: Runner | None = None,
    sandbox: SandboxMode | None = None,
    prices: Mapping[str, Mapping[str, float]] | None = None,
) -> AgentAdapter:
    """`runner` starts every process the adapter runs (chosen once from BATON_SANDBOX).

    `sandbox` (BATON_SANDBOX's value) names one instead, for callers not handing one in yet;
    with neither, processes run in the sandbox.
    """
    if spec.adapter == "scripted":
        return ScriptedAdapter(model=spec.model)
    run_with = chosen(runner, sandbox)
    if spec.adapter == "command":
        return CommandAdapter(spec=spec, agent=agent, server_env=server_env, runner=run_with)
    if spec.adapter in DRIVERS:
        return HarnessAdapter(
            driver=DRIVERS[spec.adapter](),
            spec=spec,
            agent=agent,
            server_env=server_env,
            runner=run_with,
            prices=PriceTable.load(prices) if prices else None,
        )
    raise AdapterUnavailable(
        f"unknown adapter {spec.adapter!r} (known: {', '.join(sorted(KNOWN_ADAPTERS))})"
    )
