"""The agents the org's config routes to: each CLI at its pinned version, each model key set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters import toolchain
from adapters.registry import DRIVERS
from bot.doctor.result import Check, failed, passed
from config.defaults import HARNESS_MODELS, builtin_config

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from config.yamlpos import Located


@dataclass(frozen=True, slots=True)
class ConfiguredAgent:
    name: str
    adapter: str  # also the harness's name in `adapters.toolchain`
    key_env: str


def _layers(located: Located) -> Iterator[dict[str, object]]:
    """The org file's sections that hold `.agents.yml` contents (or the file itself)."""
    data = located.data
    for section in ("defaults", "enforce"):
        part = data.get(section)
        if isinstance(part, dict):
            yield part
    repos = data.get("repos")
    if isinstance(repos, dict):
        yield from (p for p in repos.values() if isinstance(p, dict))


def _named(layer: dict[str, object]) -> Iterator[tuple[str, dict[str, object]]]:
    agents = layer.get("agents")
    if isinstance(agents, dict):
        yield from ((str(n), s if isinstance(s, dict) else {}) for n, s in agents.items())
    routes = layer.get("routes")
    for route in routes if isinstance(routes, list) else []:
        if isinstance(route, dict) and isinstance(route.get("agent"), str):
            yield str(route["agent"]), {}


def _from_layers(layers: list[dict[str, object]]) -> list[ConfiguredAgent]:
    found: dict[str, ConfiguredAgent] = {}
    for layer in layers:
        for name, spec in _named(layer):
            adapter = str(spec.get("adapter") or name)
            if adapter not in DRIVERS or (name in found and not spec):
                continue
            model = str(spec.get("model") or HARNESS_MODELS.get(adapter, ""))
            key_env = spec.get("api_key_env") or DRIVERS[adapter]().vendor(model).key_env
            found[name] = ConfiguredAgent(name, adapter, str(key_env))
    return list(found.values())


def configured_agents(org_files: list[Located]) -> list[ConfiguredAgent]:
    """The real-CLI agents the org files name (in defaults, enforce, repos or routes); when
    they name none, the built-in layer's routed agent, which a repository without config runs."""
    named = _from_layers([layer for f in org_files for layer in _layers(f)])
    if named:
        return named
    return _from_layers([{"routes": builtin_config().data.get("routes")}])


async def agent_check(
    agent: ConfiguredAgent, *, env: Mapping[str, str], prefix: Path | None
) -> Check:
    name = f"agent {agent.name}"
    pinned = toolchain.harness(agent.adapter)
    install = f"`baton agents install {agent.adapter}`"
    found = await toolchain.find(agent.adapter, prefix, env=env)
    problems: list[str] = []
    advice: list[str] = []
    if found.path is None:
        problems.append(f"{pinned.bin} is not installed")
        advice.append(f"install it: {install}")
    elif found.version != pinned.version:
        problems.append(f"{found.path} is {found.version or 'of an unknown version'}")
        advice.append(f"install the pinned {pinned.version}: {install}")
    if not env.get(agent.key_env):
        problems.append(f"{agent.key_env} is not set")
        advice.append(f"set {agent.key_env} in Baton's environment")
    if problems:
        return failed(name, "; ".join(problems), "; ".join(advice))
    return passed(name, f"{found.path} {pinned.version}, {agent.key_env} set")
