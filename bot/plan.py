"""The decision core of a run (no I/O): who may trigger, which agent runs with which limits,
and whether the agent's diff may be pushed."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.base import Limits
from bot.budget import Monthly, Spend, cost_cap, monthly_budgets, set_by, too_little_left
from config.schema import AgentsConfig, AgentSpec, Policy, Route, permission_at_least

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from bot.trigger import Trigger
    from config.layers import Source

__all__ = [
    "Refusal",
    "RunPlan",
    "Spend",
    "authorize",
    "choose_agent",
    "glob_match",
    "paths_in_text",
    "plan_agent",
    "plan_run",
    "policy_violation",
]


@dataclass(frozen=True, slots=True)
class Refusal:
    """The run does not start; `reason` is shown to the user and says what to do."""

    reason: str


@dataclass(frozen=True, slots=True)
class RunPlan:
    agent: str
    spec: AgentSpec
    limits: Limits
    fallback: tuple[str, ...]
    policy: Policy
    # The org's or repo's negotiated rates (USD per million tokens), laid over the price table.
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # Which limit set `limits.max_cost_usd` (a config key or a monthly budget, and the layer
    # that set it), for messages; and that key.
    cost_cap_by: str = ""
    cost_cap_key: str = ""
    timeout_by: str = ""  # `agents.<name>.timeout` and the layer that set it
    # The monthly budgets that apply, as they stood when the run was planned.
    budgets: tuple[Monthly, ...] = ()
    # Which layer set each config key (for messages that say whom to ask).
    sources: Mapping[str, Source] = field(default_factory=dict)


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, path: str) -> bool:
    """Gitignore-like globs: `*` stays within a directory, `**` crosses directories."""
    return _glob_regex(pattern.lstrip("/")).match(path.lstrip("/")) is not None


_PATH_IN_TEXT = re.compile(r"`([\w./-]+\.[\w]+|[\w.-]+/[\w./-]+)`")


def paths_in_text(text: str) -> list[str]:
    """Paths an issue names in backticks: what a route's `paths` condition is matched against."""
    return sorted({m.strip("./") for m in _PATH_IN_TEXT.findall(text)})


def authorize(
    *, trigger: Trigger, permission: str, config: AgentsConfig, server_allow_bots: Sequence[str]
) -> Refusal | None:
    """Only users with the configured permission (checked against GitHub) may start a run;
    bots only when allow-listed."""
    if trigger.requester_is_bot:
        allowed = {*config.triggers.allow_bots, *server_allow_bots}
        if trigger.requester not in allowed:
            return Refusal(
                f"@{trigger.requester} is a bot and not allow-listed; add it to "
                "`triggers.allow_bots` in `.agents.yml` to let it start runs."
            )
        return None
    need = config.triggers.min_permission
    if not permission_at_least(permission, need):
        return Refusal(
            f"Sorry @{trigger.requester}, starting an agent here needs `{need}` permission on "
            f"this repository (you have `{permission}`). A maintainer can add the label instead."
        )
    return None


def _route_matches(route: Route, trigger: Trigger, paths: Sequence[str]) -> bool:
    if route.when.label is not None and route.when.label != trigger.label:
        return False
    if route.when.paths is not None:
        if not paths:
            return False
        return all(any(glob_match(p, path) for p in route.when.paths) for path in paths)
    return True


def _first_route(
    routes: Sequence[Route], trigger: Trigger, paths: Sequence[str]
) -> tuple[str, tuple[str, ...]] | None:
    for route in routes:
        if _route_matches(route, trigger, paths):
            return route.agent, tuple(route.fallback)
    return None


def _names(items: Sequence[str]) -> str:
    return ", ".join(f"`{item}`" for item in items) or "none"


def _unknown_label(trigger: Trigger, config: AgentsConfig, suffix: str) -> Refusal:
    label = trigger.label or suffix
    route_labels = sorted({r.when.label for r in config.routes if r.when.label is not None})
    # The prefix is whatever precedes the suffix: the server's `BATON_LABEL_PREFIX`.
    prefix = label.removesuffix(suffix) if label.endswith(suffix) else ""
    agents = [f"{prefix}{name}" for name in sorted(config.agents)]
    return Refusal(
        f"`{label}` names neither a route nor an agent this repository knows, so nothing ran. "
        f"Route labels: {_names(route_labels)}. Agent labels: {_names(agents)}. Use one of "
        "those, or add a route or an agent to `.agents.yml`:\n\n"
        f'```yaml\nroutes:\n  - when: {{label: "{label}"}}\n    agent: claude-code\n```'
    )


def choose_agent(
    *, trigger: Trigger, config: AgentsConfig, paths: Sequence[str]
) -> tuple[str, tuple[str, ...]] | Refusal:
    """The agent (and fallbacks) for this trigger.

    A command that names an agent runs that agent. A label's own routes (`when.label` equal to
    it) come first; then the agent its suffix names; a label that is neither is refused with the
    labels this repository knows. The fix label, and a command naming no agent, take the first
    route that matches.
    """
    if trigger.agent is not None and trigger.kind == "command":
        if trigger.agent in config.agents:
            return trigger.agent, ()
        return Refusal(
            f"`{trigger.agent}` names no agent this repository knows "
            f"(agents: {', '.join(sorted(config.agents)) or 'none'}). "
            "Define the agent in `.agents.yml`, or name one of these."
        )
    if trigger.agent is not None:
        labelled = [r for r in config.routes if r.when.label is not None]
        routed = _first_route(labelled, trigger, paths)
        if routed is not None:
            return routed
        if trigger.agent in config.agents:
            return trigger.agent, ()
        return _unknown_label(trigger, config, trigger.agent)
    routed = _first_route(config.routes, trigger, paths)
    if routed is not None:
        return routed
    return Refusal(
        f"No route in the configuration matches `{trigger.label}`. Add one to `.agents.yml`:\n\n"
        f'```yaml\nroutes:\n  - when: {{label: "{trigger.label}"}}\n    agent: claude-code\n```'
    )


def plan_run(
    *,
    trigger: Trigger,
    config: AgentsConfig,
    paths: Sequence[str],
    spend: Spend,
    sources: Mapping[str, Source] | None = None,
    now: float = 0.0,
) -> RunPlan | Refusal:
    """Which agent runs, with what time and cost limits; or why nothing runs.

    `sources` say which layer set each key (for messages); `now` is the clock budgets count by.
    """
    chosen = choose_agent(trigger=trigger, config=config, paths=paths)
    if isinstance(chosen, Refusal):
        return chosen
    agent, fallback = chosen
    refused = _not_allowed((agent, *fallback), config.allowed_agents)
    if refused is not None:
        return refused
    return plan_agent(
        agent=agent,
        fallback=fallback,
        trigger=trigger,
        config=config,
        spend=spend,
        sources=sources,
        now=now,
    )


def plan_agent(
    *,
    agent: str,
    fallback: tuple[str, ...],
    trigger: Trigger,
    config: AgentsConfig,
    spend: Spend,
    sources: Mapping[str, Source] | None = None,
    now: float = 0.0,
) -> RunPlan | Refusal:
    """`agent`'s limits: its timeout, and a cost cap that is the smallest of its `max_cost_usd`,
    `budget.per_run_usd` and what is left of each monthly budget. A monthly budget with less
    than `budget.min_run_usd` left refuses the run, saying who set it and how to raise it."""
    spec = config.agents[agent]
    budgets = monthly_budgets(
        config=config,
        sources=sources,
        repo=trigger.repo,
        owner=trigger.owner,
        requester=trigger.requester,
        spend=spend,
    )
    floor = config.budget.min_run_usd
    for budget in budgets:
        if budget.left_usd <= 0 or budget.left_usd < floor:
            return Refusal(too_little_left(budget, min_run_usd=floor, sources=sources, now=now))
    cap = cost_cap(
        agent=agent, agent_cap=spec.max_cost_usd, config=config, sources=sources, budgets=budgets
    )
    limits = Limits(timeout_s=spec.timeout, max_cost_usd=cap.usd if cap is not None else None)
    prices = {model: price.model_dump(exclude_none=True) for model, price in config.prices.items()}
    return RunPlan(
        agent=agent,
        spec=spec,
        limits=limits,
        fallback=fallback,
        policy=config.policy,
        prices=prices,
        cost_cap_by=cap.by if cap else "",
        cost_cap_key=cap.key if cap else "",
        timeout_by=set_by(f"agents.{agent}.timeout", sources),
        budgets=tuple(budgets),
        sources=sources or {},
    )


def _not_allowed(agents: Sequence[str], allowed: Sequence[str] | None) -> Refusal | None:
    """`allowed_agents` (the repository's, or the org's when it locks it): any other agent named
    by a route, a fallback or a command is refused, with the list of the allowed ones."""
    if allowed is None:
        return None
    other = next((a for a in agents if a not in allowed), None)
    if other is None:
        return None
    listed = ", ".join(f"`{a}`" for a in allowed) or "none"
    return Refusal(
        f"`{other}` is not among the agents this repository may use (`allowed_agents`: "
        f"{listed}), so nothing ran. Name one of those, or ask to have `allowed_agents` widened."
    )


def policy_violation(
    changed: Sequence[str], policy: Policy, *, lines: int | Mapping[str, int] = 0
) -> str | None:
    """Why the diff may not be pushed, or None. Checked before anything leaves the machine.

    `lines`: lines the change adds and removes together (binary files count none), in all or
    per file (then the message names the files that changed most)."""
    if not changed:
        return "The agent finished without changing any file, so there is nothing to push."
    protected = sorted(p for p in changed if any(glob_match(g, p) for g in policy.protected_paths))
    if protected:
        listed = ", ".join(f"`{p}`" for p in protected[:10])
        return (
            f"The agent changed protected paths ({listed}); `policy.protected_paths` forbids "
            "it, so nothing was pushed."
        )
    if len(changed) > policy.max_changed_files:
        return (
            f"The agent changed {len(changed)} files, more than `policy.max_changed_files` "
            f"({policy.max_changed_files}); nothing was pushed."
        )
    cap = policy.max_changed_lines
    total = lines if isinstance(lines, int) else sum(lines.values())
    if cap is not None and total > cap:
        most = ""
        if not isinstance(lines, int):
            top = sorted(lines.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            most = ", most in " + ", ".join(f"`{path}` ({n})" for path, n in top)
        return (
            f"The agent changed {total} lines, more than `policy.max_changed_lines` ({cap})"
            f"{most}; nothing was pushed."
        )
    return None
