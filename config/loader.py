"""Load `.agents.yml` and the org's `agents.yml`: parsed with positions, validated, every issue."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from config.issues import (
    ConfigError,
    ConfigIssue,
    Path,
    describe,
    dotted,
    pydantic_issues,
    suggest,
    type_at,
)
from config.schema import PAUSE_KEYS, AgentsConfig, OrgConfig, Pause
from config.yamlpos import MAX_BYTES, Builder, Located, parse

# Re-exported: callers import the config file's vocabulary from here, as before the split.
__all__ = [
    "MAX_BYTES",
    "ConfigError",
    "ConfigIssue",
    "Located",
    "Path",
    "describe",
    "dotted",
    "load_org_file",
    "load_repo_file",
    "pydantic_issues",
    "suggest",
    "type_at",
]


def _top_mapping(data: object, builder: Builder, what: str) -> dict[str, object]:
    if data is None or isinstance(data, dict):
        return data or {}
    position = builder.value_positions.get((), (1, 1))
    builder.issue(
        position, f"the top level of {what} must be a mapping of keys like 'agents:' and 'routes:'"
    )
    return {}


def _validate(
    builder: Builder,
    data: object,
    model: type[BaseModel],
    *,
    prefix: Path = (),
    partial: bool,
) -> None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        located = Located({}, builder.positions, builder.file, builder.value_positions)
        for path, use_key, message in pydantic_issues(
            exc, data=data, model=model, prefix=prefix, partial=partial
        ):
            position = located.key_position(path) if use_key else located.value_position(path)
            builder.issue(position, message)


def _org_only_keys(builder: Builder, data: dict[str, object], prefix: Path) -> None:
    if "max_concurrent_runs" in data:
        builder.issue(
            builder.positions.get((*prefix, "max_concurrent_runs"), (1, 1)),
            "max_concurrent_runs caps the whole org's runs at once: set it in the org's "
            "agents.yml (defaults or enforce), not per repository",
        )
    budget = data.get("budget")
    if isinstance(budget, dict) and "org_monthly_usd" in budget:
        builder.issue(
            builder.positions.get((*prefix, "budget", "org_monthly_usd"), (1, 1)),
            "budget.org_monthly_usd caps the whole org: set it in the org's agents.yml "
            "(defaults or enforce), not per repository",
        )


def _without_pause(builder: Builder, data: dict[str, object], prefix: Path) -> dict[str, object]:
    """`data` without the kill switch's keys, each reported: they belong in `enforce` only."""
    for key in sorted(PAUSE_KEYS & set(data)):
        builder.issue(
            builder.positions.get((*prefix, key), (1, 1)),
            f"{key} is part of the org's kill switch: set it under `enforce` in the org's "
            "agents.yml",
        )
    return {k: v for k, v in data.items() if k not in PAUSE_KEYS}


def _finish(data: dict[str, object], builder: Builder) -> Located:
    if builder.issues:
        raise ConfigError(builder.issues)
    return Located(data, builder.positions, builder.file, builder.value_positions)


def load_repo_file(text: str, *, file: str = ".agents.yml") -> Located:
    """Parse and validate a repository's `.agents.yml`; agents may omit keys the org supplies."""
    raw, builder = parse(text, file)
    data = _top_mapping(raw, builder, file)
    _validate(builder, _without_pause(builder, data, ()), AgentsConfig, partial=True)
    _org_only_keys(builder, data, ())
    if "prices" in data:
        # Prices turn tokens into the dollars budgets count: a repository setting its own
        # could make its runs look free.
        builder.issue(
            builder.positions.get(("prices",), (1, 1)),
            "prices are the org's negotiated rates: set them in the org's agents.yml "
            "(defaults, repos or enforce), not in a repository",
        )
    budget = data.get("budget")
    off = isinstance(budget, dict) and "per_run_usd" in budget and budget["per_run_usd"] is None
    if off and not builder.issues:  # (a value already refused reads as null too)
        # Stopping at the limit is on unless the org turns it off, explicitly.
        builder.issue(
            builder.positions.get(("budget", "per_run_usd"), (1, 1)),
            "budget.per_run_usd: null turns the per-run cap off, which is the org's decision: "
            "set it in the org's agents.yml, or give a number here",
        )
    if "security" in data:
        # What a repository's config may reach of the server is not the repository's to grant.
        builder.issue(
            builder.positions.get(("security",), (1, 1)),
            "security is granted by the org: set it in the org's agents.yml "
            "(defaults, repos or enforce), not in a repository",
        )
    return _finish(data, builder)


def load_org_file(text: str, *, file: str = "agents.yml") -> Located:
    """Parse and validate the org's `agents.yml`: `defaults`, `enforce` and each `repos[pattern]`
    are (partial) `.agents.yml` contents."""
    raw, builder = parse(text, file)
    data = _top_mapping(raw, builder, file)
    _validate(builder, data, OrgConfig, partial=False)
    for section in ("defaults", "enforce"):
        part = data.get(section)
        if isinstance(part, dict):
            if section == "enforce":
                # The kill switch lives beside the locked keys of `enforce`, not in a repo's file.
                switch = {k: v for k, v in part.items() if k in PAUSE_KEYS}
                _validate(builder, switch, Pause, prefix=(section,), partial=False)
                part = {k: v for k, v in part.items() if k not in PAUSE_KEYS}
            else:
                part = _without_pause(builder, part, (section,))
            _validate(builder, part, AgentsConfig, prefix=(section,), partial=True)
    repos = data.get("repos")
    if isinstance(repos, dict):
        for pattern, part in repos.items():
            if isinstance(part, dict):
                prefix: Path = ("repos", pattern)
                rest = _without_pause(builder, part, prefix)
                _validate(builder, rest, AgentsConfig, prefix=prefix, partial=True)
                _org_only_keys(builder, part, prefix)
    return _finish(data, builder)
