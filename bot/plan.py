"""The decision core of a run (no I/O): who may trigger, which agent runs with which limits,
and whether the agent's diff may be pushed."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.base import Limits
from config.schema import AgentsConfig, AgentSpec, Policy, Route, permission_at_least

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from bot.trigger import Trigger


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
    # Which limit set `limits.max_cost_usd` (a config key or a monthly budget), for messages.
    cost_cap_by: str = ""


@dataclass(frozen=True, slots=True)
class Spend:
    """Dollars spent this month, as the ledger counts them."""

    repo_month: float = 0.0
    owner_month: float = 0.0
    requester_month: float = 0.0


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
    *, trigger: Trigger, config: AgentsConfig, paths: Sequence[str], spend: Spend
) -> RunPlan | Refusal:
    """Which agent runs, with what time and cost limits; or why nothing runs."""
    chosen = choose_agent(trigger=trigger, config=config, paths=paths)
    if isinstance(chosen, Refusal):
        return chosen
    agent, fallback = chosen
    refused = _not_allowed((agent, *fallback), config.allowed_agents)
    if refused is not None:
        return refused
    spec = config.agents[agent]
    budget = config.budget
    named = ((spec.max_cost_usd, f"`agents.{agent}.max_cost_usd`"),
             (budget.per_run_usd, "`budget.per_run_usd`"))  # fmt: skip
    caps = [(c, what) for c, what in named if c is not None]
    left: list[tuple[float, str]] = []
    if budget.monthly_usd is not None:
        left.append((budget.monthly_usd - spend.repo_month, "this repository's monthly budget"))
    if budget.org_monthly_usd is not None:
        left.append(
            (budget.org_monthly_usd - spend.owner_month, "the organization's monthly budget")
        )
    if budget.per_requester_monthly_usd is not None:
        left.append(
            (budget.per_requester_monthly_usd - spend.requester_month,
             f"@{trigger.requester}'s monthly budget")
        )  # fmt: skip
    for remaining, what in left:
        if remaining <= 0:
            return Refusal(
                f"{what[0].upper()}{what[1:]} is spent; no run starts until next month or "
                "until the budget in `.agents.yml` is raised."
            )
        caps.append((remaining, what))
    cap, cap_by = min(caps) if caps else (None, "")
    limits = Limits(timeout_s=spec.timeout, max_cost_usd=cap)
    prices = {model: price.model_dump(exclude_none=True) for model, price in config.prices.items()}
    return RunPlan(
        agent=agent, spec=spec, limits=limits, fallback=fallback, policy=config.policy,
        prices=prices, cost_cap_by=cap_by,
    )  # fmt: skip


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


def policy_violation(changed: Sequence[str], policy: Policy, *, lines: int = 0) -> str | None:
    """Why the diff may not be pushed, or None. Checked before anything leaves the machine.

    `lines`: lines the change adds and removes together (binary files count none)."""
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
    if cap is not None and lines > cap:
        return (
            f"The agent changed {lines} lines, more than `policy.max_changed_lines` ({cap}); "
            "nothing was pushed."
        )
    return None
