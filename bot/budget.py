"""Budgets as decisions (no I/O): the monthly budgets that apply to a run, what is left of each,
the run's cost cap and which key set it, and a refusal that says how to raise a spent budget.

The I/O around it (spend from the ledger, reservations held in the store) is `bot/run/budget.py`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from config.layers import Source
    from config.schema import AgentsConfig

BUILTIN_HINT = "Baton's built-in default"
ORG_ONLY = "budget.org_monthly_usd"  # set in the org's file only


@dataclass(frozen=True, slots=True)
class Spend:
    """Dollars this month, as the ledger counts them (`*_month`), and what running runs still
    hold of their caps (`*_held`: their reservations less what they have cost so far)."""

    repo_month: float = 0.0
    owner_month: float = 0.0
    requester_month: float = 0.0
    repo_held: float = 0.0
    owner_held: float = 0.0
    requester_held: float = 0.0


@dataclass(frozen=True, slots=True)
class Cap:
    """One limit on a run's cost: dollars, the config key, and who set it, for messages."""

    usd: float
    key: str  # e.g. `budget.monthly_usd` or `agents.claude.max_cost_usd`
    by: str  # e.g. "`budget.monthly_usd` (repo file .agents.yml:4:3)"


@dataclass(frozen=True, slots=True)
class Monthly:
    """One monthly budget that applies to a run (repository, organization or requester)."""

    scope: str  # "repo" | "org" | "requester"
    name: str  # the repository, the owner, or the requester's login
    title: str  # "this repository's monthly budget"
    key: str
    limit_usd: float
    spent_usd: float
    held_usd: float
    source: Source | None

    @property
    def left_usd(self) -> float:
        return self.limit_usd - self.spent_usd - self.held_usd


def where(key: str, sources: Mapping[str, Source] | None) -> str:
    """Which layer set `key`, and where: for a person deciding whom to ask."""
    source = (sources or {}).get(key)
    if source is None or source.layer == "built-in":
        return BUILTIN_HINT
    if source.layer == "repo":
        return f"repo file {source.where}"
    if source.layer == "org defaults":
        return f"org defaults, {source.where}"
    if source.layer == "org repos[pattern]":
        return f"org `repos` pattern `{source.pattern}`, {source.where}"
    if source.layer == "enforce":
        return f"`enforce`, locked by the org, {source.where}"
    return "a command flag"


def set_by(key: str, sources: Mapping[str, Source] | None) -> str:
    return f"`{key}` ({where(key, sources)})"


def how_to_raise(key: str, sources: Mapping[str, Source] | None) -> str:
    """What the people who may change `key` do to raise it."""
    source = (sources or {}).get(key)
    if source is None or source.layer in {"built-in", "repo", "flag"}:
        return f"raise `{key}` in `.agents.yml` on the default branch"
    if source.layer == "enforce":
        return f"only an org admin can raise it: `enforce.{key}` in {source.where}"
    section = "defaults" if source.layer == "org defaults" else f'repos["{source.pattern}"]'
    if key == ORG_ONLY:
        return f"raise `{section}.{key}` in {source.where}"
    return (
        f"raise `{section}.{key}` in {source.where}, or set `{key}` in this repository's "
        "`.agents.yml`"
    )


def month_end_text(now: float) -> str:
    """When this UTC calendar month's budgets reset: `2027-02-01 00:00 UTC`."""
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return f"{year:04d}-{month:02d}-01 00:00 UTC"


def monthly_budgets(
    *,
    config: AgentsConfig,
    sources: Mapping[str, Source] | None,
    repo: str,
    owner: str,
    requester: str,
    spend: Spend,
) -> list[Monthly]:
    """The monthly budgets the config sets for this run, with what each has spent and holds."""
    b = config.budget
    org_title = f"the {owner} organization's monthly budget"
    named = (
        ("repo", repo, "this repository's monthly budget", "budget.monthly_usd", b.monthly_usd),
        ("org", owner, org_title, "budget.org_monthly_usd", b.org_monthly_usd),
        (
            "requester",
            requester,
            f"@{requester}'s monthly budget",
            "budget.per_requester_monthly_usd",
            b.per_requester_monthly_usd,
        ),
    )
    used = {
        "repo": (spend.repo_month, spend.repo_held),
        "org": (spend.owner_month, spend.owner_held),
        "requester": (spend.requester_month, spend.requester_held),
    }
    return [
        Monthly(
            scope=scope,
            name=name,
            title=title,
            key=key,
            limit_usd=limit,
            spent_usd=used[scope][0],
            held_usd=used[scope][1],
            source=(sources or {}).get(key),
        )
        for scope, name, title, key, limit in named
        if limit is not None
    ]


def _usd(value: float) -> str:
    return f"${value:.4f}"


def too_little_left(
    budget: Monthly, *, min_run_usd: float, sources: Mapping[str, Source] | None, now: float
) -> str:
    """Why a run does not start: the spend so far, the limit, who set it and how to raise it."""
    held = (
        f", and runs going on now hold {_usd(budget.held_usd)} more of it"
        if budget.held_usd > 0
        else ""
    )
    left = max(budget.left_usd, 0.0)
    return (
        f"{budget.title[0].upper()}{budget.title[1:]} has {_usd(left)} left, less than "
        f"`budget.min_run_usd` ({_usd(min_run_usd)}), so no run starts: "
        f"{_usd(budget.spent_usd)} spent this month of its {_usd(budget.limit_usd)} limit"
        f"{held}. The limit is {set_by(budget.key, sources)}. To go on, "
        f"{how_to_raise(budget.key, sources)}; or wait for the next month "
        f"({month_end_text(now)})."
    )


def cost_cap(
    *,
    agent: str,
    agent_cap: float | None,
    config: AgentsConfig,
    sources: Mapping[str, Source] | None,
    budgets: Sequence[Monthly],
) -> Cap | None:
    """The smallest of the agent's `max_cost_usd`, `budget.per_run_usd` and what is left of
    each monthly budget; None when nothing caps the run."""
    key = f"agents.{agent}.max_cost_usd"
    caps: list[Cap] = []
    if agent_cap is not None:
        caps.append(Cap(agent_cap, key, set_by(key, sources)))
    per_run = config.budget.per_run_usd
    if per_run is not None:
        caps.append(Cap(per_run, "budget.per_run_usd", set_by("budget.per_run_usd", sources)))
    caps.extend(
        Cap(b.left_usd, b.key, f"what is left of {b.title} ({set_by(b.key, sources)})")
        for b in budgets
    )
    return min(caps, key=lambda c: c.usd) if caps else None


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `q` of them at or below."""
    ordered = sorted(values)
    rank = math.ceil(q * len(ordered) - 1e-9)  # 0.9 x 10 is 9, not 9.000000000000002
    return ordered[min(max(rank, 1), len(ordered)) - 1]
