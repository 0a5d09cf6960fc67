"""The budget decisions, without I/O: which layer set a cap and how to raise it, what is left
of each monthly budget (spend and running runs' holds), the run's cap, and percentiles."""

from __future__ import annotations

import pytest

from bot.budget import (
    Spend,
    cost_cap,
    how_to_raise,
    month_end_text,
    monthly_budgets,
    percentile,
    too_little_left,
    where,
)
from config.defaults import KNOWN_ADAPTERS
from config.loader import load_org_file, load_repo_file
from config.merge import Effective, effective_config
from tests.store.conftest import utc

ORG = (
    "version: 1\n"
    "defaults:\n  budget: {org_monthly_usd: 100}\n"
    'repos:\n  "calc*": {budget: {per_run_usd: 2}}\n'
    "enforce:\n  budget: {per_requester_monthly_usd: 5}\n"
)


def effective() -> Effective:
    return effective_config(
        repo=load_repo_file("version: 1\nbudget: {monthly_usd: 10}\n"),
        org=load_org_file(ORG, file="acme/.github:agents.yml"),
        repo_name="calc",
        known_adapters=KNOWN_ADAPTERS,
    )


@pytest.mark.parametrize(
    ("key", "said", "how"),
    [
        (
            "budget.monthly_usd",
            "repo file .agents.yml:2:10",
            "raise `budget.monthly_usd` in `.agents.yml` on the default branch",
        ),
        (
            "budget.org_monthly_usd",
            "org defaults, acme/.github:agents.yml:3:",
            "raise `defaults.budget.org_monthly_usd` in acme/.github:agents.yml:3:",
        ),
        (
            "budget.per_run_usd",
            "org `repos` pattern `calc*`, acme/.github:agents.yml:5:",
            'raise `repos["calc*"].budget.per_run_usd` in acme/.github:agents.yml:5:',
        ),
        (
            "budget.per_requester_monthly_usd",
            "`enforce`, locked by the org, acme/.github",
            "only an org admin can raise it: `enforce.budget.per_requester_monthly_usd` in ",
        ),
        (
            "budget.min_run_usd",
            "Baton's built-in default",
            "raise `budget.min_run_usd` in `.agents.yml` on the default branch",
        ),
    ],
)
def test_each_layer_is_named_with_how_to_raise_it(key: str, said: str, how: str) -> None:
    eff = effective()
    assert where(key, eff.sources).startswith(said)
    assert how_to_raise(key, eff.sources).startswith(how)


def test_what_is_left_counts_spend_and_what_running_runs_hold() -> None:
    eff = effective()
    spend = Spend(
        repo_month=6.0, repo_held=3.5, owner_month=10.0, requester_month=1.0, requester_held=0.5
    )
    budgets = monthly_budgets(
        config=eff.config,
        sources=eff.sources,
        repo="acme/calc",
        owner="acme",
        requester="ann",
        spend=spend,
    )
    assert [(b.scope, b.left_usd) for b in budgets] == [
        ("repo", 0.5),
        ("org", 90.0),
        ("requester", 3.5),
    ]
    cap = cost_cap(
        agent="claude", agent_cap=4.0, config=eff.config, sources=eff.sources, budgets=budgets
    )
    assert cap is not None
    assert (cap.usd, cap.key) == (0.5, "budget.monthly_usd")
    assert cap.by.startswith("what is left of this repository's monthly budget (`budget.")
    text = too_little_left(budgets[0], min_run_usd=1.0, sources=eff.sources, now=utc(2027, 12, 5))
    assert text.startswith(
        "This repository's monthly budget has $0.5000 left, less than `budget.min_run_usd` "
        "($1.0000), so no run starts: $6.0000 spent this month of its $10.0000 limit, and runs "
        "going on now hold $3.5000 more of it."
    )
    assert text.endswith("or wait for the next month (2028-01-01 00:00 UTC).")


def test_the_months_reset_at_the_next_utc_calendar_month() -> None:
    assert month_end_text(utc(2027, 1, 31, 23, 59, 59)) == "2027-02-01 00:00 UTC"
    assert month_end_text(utc(2027, 12, 1)) == "2028-01-01 00:00 UTC"


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([5.0], 0.9) == 5.0
    values = [float(v) for v in range(1, 11)]
    assert (percentile(values, 0.5), percentile(values, 0.9)) == (5.0, 9.0)
    assert percentile([3.0, 1.0, 2.0, 4.0, 6.0, 5.0], 0.9) == 6.0
