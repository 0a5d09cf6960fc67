"""The `.agents.yml` schema, version 1: typed models for the repo file and the org file."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Permission = Literal["read", "triage", "write", "maintain", "admin"]
PERMISSION_RANK: dict[str, int] = {
    "none": 0,
    "read": 1,
    "triage": 2,
    "write": 3,
    "maintain": 4,
    "admin": 5,
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> object:
    """`30m`, `90s`, `1.5h` or a number of seconds -> seconds as a float."""
    if isinstance(value, bool):
        return value  # let pydantic reject it with its own message
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError("a duration is a number of seconds or like 90s, 30m, 2h")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
# What happens when an agent reaches its cost cap or its timeout (its work is kept either way).
LimitAction = Literal["stop", "handoff"]
AgentName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class _Strict(BaseModel):
    """Unknown keys are errors against the version Baton implements."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OutputSpec(_Strict):
    """How the `command` adapter reads a CLI's result from its stdout.

    `format`: `text` (the whole stdout is the summary), `json` (one JSON object) or `jsonl`
    (one JSON object per line; the last line carrying each field wins). The other keys are
    dotted paths into that JSON, e.g. `usage.input_tokens`.
    """

    format: Literal["text", "json", "jsonl"] = "text"
    summary: str | None = None
    session_id: str | None = None
    cost_usd: str | None = None
    model: str | None = None
    input_tokens: str | None = None
    output_tokens: str | None = None
    cache_read_tokens: str | None = None
    cache_write_tokens: str | None = None
    reasoning_tokens: str | None = None
    turns: str | None = None


class SandboxSpec(_Strict):
    # "none": the agent reaches its model API through Baton's relay and nothing else.
    network: Literal["host", "none"] = "none"


class AgentSpec(_Strict):
    """A named agent: a harness (adapter) plus its model and limits."""

    adapter: str
    model: str = ""
    max_cost_usd: float | None = Field(default=None, ge=0)
    timeout: Duration = 1800.0
    # Vendor gateway overrides: the base URL, and the name of the env var holding the key.
    base_url: str | None = None
    api_key_env: str | None = None
    sandbox: SandboxSpec = SandboxSpec()
    # The `command` adapter only: argv template ({prompt_file}, {prompt}, {model}, {workdir}),
    # extra environment ("${VAR}" takes VAR from the server's environment), and its output.
    command: list[str] | None = None
    # Appended to `command` when a follow-up resumes this agent's last session ({session_id}).
    resume: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    output: OutputSpec = OutputSpec()
    # At its cost cap or its timeout the agent's work is kept in a draft PR; `handoff` then lets
    # the route's next fallback agent continue from it, `stop` ends the run there.
    on_budget: LimitAction = "stop"
    on_timeout: LimitAction = "stop"


class RouteWhen(_Strict):
    """A route matches when every condition given here holds."""

    label: str | None = None
    # Every path the task touches (PR files, or paths named in the issue) matches one of these.
    paths: list[str] | None = None


class Route(_Strict):
    when: RouteWhen = RouteWhen()
    agent: AgentName
    fallback: list[AgentName] = Field(default_factory=list)


class Triggers(_Strict):
    min_permission: Permission = "write"
    allow_bots: list[str] = Field(default_factory=list)


class Budget(_Strict):
    per_run_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)
    per_requester_monthly_usd: float | None = Field(default=None, ge=0)
    # Org file only: caps the whole org's monthly spend.
    org_monthly_usd: float | None = Field(default=None, ge=0)
    # A run starts only if every monthly budget that applies has at least this much left.
    min_run_usd: float = Field(default=0.25, ge=0)
    # A run whose cap is above this waits for `/agent approve` from a maintainer (None: never).
    approve_above_usd: float | None = Field(default=None, ge=0)


class Policy(_Strict):
    protected_paths: list[str] = Field(default_factory=lambda: [".github/workflows/**"])
    max_changed_files: int = Field(default=50, ge=1)
    max_changed_lines: int | None = Field(default=None, ge=1)  # added + removed; None: no cap
    draft: bool = False
    # Delete a `baton/*` branch once its PR is merged or closed, unless someone else pushed to it.
    delete_branch_on_close: bool = True


class Price(_Strict):
    """USD per million tokens for one model (a negotiated or gateway rate)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class Verify(_Strict):
    """The repository's own check of a result (run in the sandbox, in the agent's worktree)."""

    command: list[str] = Field(min_length=1)
    timeout: Duration = 600.0
    # It runs the agent's code: no network unless the org allows the host's (like an agent).
    network: Literal["host", "none"] = "none"


class Security(_Strict):
    """Org file only: what the org lets its repositories' configs reach of the server, always
    within what the operator allows (`BATON_AGENT_ENV_ALLOW`, `BATON_MODEL_ENDPOINTS`)."""

    env_allow: list[str] = Field(default_factory=list)  # `${VAR}` names repos may expand
    model_endpoints: list[str] = Field(default_factory=list)  # base URLs repos may name
    allow_host_network: bool = False  # `sandbox.network: host` may be used


class AgentsConfig(_Strict):
    """The effective configuration of one repository (and the shape of `.agents.yml`)."""

    version: Literal[1] = 1
    agents: dict[AgentName, AgentSpec] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    triggers: Triggers = Triggers()
    budget: Budget = Budget()
    policy: Policy = Policy()
    verify: Verify | None = None
    # Rates that replace the shipped price table's for these models (`enforce` them org-wide).
    prices: dict[str, Price] = Field(default_factory=dict)
    security: Security = Security()
    # The agents a route, fallback or command may use here (None: every agent defined).
    allowed_agents: list[AgentName] | None = None
    # Org file only: runs of the whole org at once, across every worker (None: no cap); more
    # wait in the queue, their status comment saying so.
    max_concurrent_runs: int | None = Field(default=None, ge=1, le=10_000)


class Pause(_Strict):
    """The org's kill switch: keys of `enforce` in the org's agents.yml only. While `paused`, no
    run starts anywhere in the org and every trigger is answered with `reason`."""

    paused: bool = False
    reason: str = Field(default="", max_length=1000)
    # Running runs are stopped too (their work kept in a draft PR, as at a budget stop).
    cancel_running: bool = False
    # Runs asked for while paused start by themselves once the pause is lifted.
    resume_queued: bool = False


PAUSE_KEYS = frozenset(Pause.model_fields)


class OrgConfig(_Strict):
    """`agents.yml` in the org's settings repo."""

    version: Literal[1] = 1
    defaults: dict[str, object] = Field(default_factory=dict)
    repos: dict[str, dict[str, object]] = Field(default_factory=dict)
    enforce: dict[str, object] = Field(default_factory=dict)


def permission_at_least(have: str, need: str) -> bool:
    return PERMISSION_RANK.get(have, 0) >= PERMISSION_RANK[need]
