"""Show an effective config with each value's source, and publish `.agents.yml`'s JSON Schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from config.flowyaml import flow
from config.issues import Path, dotted
from config.schema import AgentsConfig

if TYPE_CHECKING:
    from config.merge import Effective

__all__ = [
    "FIELD_DOCS",
    "SCHEMA_ID",
    "flow",
    "json_schema",
    "layer_schema",
    "render_effective",
]

SCHEMA_ID = "urn:baton:schema:agents-yml:v1"
HIDDEN = "***"


def _shown(path: Path, value: object) -> tuple[object, bool]:
    """What may be shown of a value (the listing can end up in a public PR comment)."""
    is_env = len(path) == 4 and path[0] == "agents" and path[2] == "env"
    if is_env and isinstance(value, str) and "${" not in value:
        return HIDDEN, True  # a literal environment value may be a secret; `${VAR}` is not
    if len(path) == 3 and path[2] == "base_url" and isinstance(value, str):
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            host = parts.netloc.rsplit("@", 1)[-1]
            return urlunsplit(parts._replace(netloc=f"{HIDDEN}@{host}")), True
    return value, False


def _compact_route(route: dict[str, Any]) -> dict[str, Any]:
    when = {key: value for key, value in route["when"].items() if value is not None}
    compact: dict[str, Any] = {"when": when, "agent": route["agent"]}
    if route["fallback"]:
        compact["fallback"] = route["fallback"]
    return compact


def _comment(eff: Effective, key: str, *, hidden: bool = False) -> str:
    source = eff.sources.get(key)
    if source is None:
        return ""
    if source.locked:
        text = f"locked by {source.where}"
    elif source.layer == "built-in":
        text = "built-in"
    else:
        text = f"from {source.where}"
    return f"  # {text}{', value hidden' if hidden else ''}"


def _quiet(eff: Effective, path: Path, value: object) -> bool:
    """An agent key nobody set whose value says nothing (null, empty, plain-text output)."""
    if path[0] != "agents":
        return False
    source = eff.sources.get(dotted(path))
    if source is None or source.layer != "built-in":
        return False
    return value in (None, "", [], {}) or (path[-2:] == ("output", "format") and value == "text")


def _mapping(
    values: dict[str, Any], path: Path, depth: int, eff: Effective, out: list[str]
) -> None:
    pad = "  " * depth
    for key, value in values.items():
        here = (*path, key)
        label = f"{pad}{flow(str(key))}:"
        if here == ("routes",) and value:
            out.append(label)
            for index, route in enumerate(value):
                comment = _comment(eff, dotted((*here, index)))
                out.append(f"{pad}  - {flow(_compact_route(route))}{comment}")
        elif isinstance(value, dict) and value:
            nested: list[str] = []
            _mapping(value, here, depth + 1, eff, nested)
            if nested:
                out.extend([label, *nested])
        elif _quiet(eff, here, value):
            continue
        else:
            shown, hidden = _shown(here, value)
            out.append(f"{label} {flow(shown)}{_comment(eff, dotted(here), hidden=hidden)}")


def render_effective(eff: Effective) -> str:
    """Every effective key, its value and where it came from, as YAML with `#` comments.

    The text is YAML that reads back as the same config, and safe inside a markdown code fence.
    """
    lines: list[str] = []
    _mapping(eff.config.model_dump(), (), 0, eff, lines)
    if eff.pause_source is not None:
        # The org's kill switch is no key of this file: shown as a comment, with its source.
        pause = eff.pause.model_dump()
        lines.append(f"# org kill switch: {flow(pause)}  # locked by {eff.pause_source.where}")
    lines.append("# agent keys that no layer sets and that are empty are not shown")
    return "\n".join(lines) + "\n"


# One line per key, shown by editors as the key's hover text; tests check none is missing.
FIELD_DOCS: dict[str, dict[str, str]] = {
    "AgentsConfig": {
        "version": "Version of this file's format. Baton implements version 1.",
        "agents": "Named agents (a harness plus a model), merged by name with the org's.",
        "routes": "Which agent takes a task; the first match wins, repo routes before org ones.",
        "triggers": "Who may start agents.",
        "budget": "Spending caps in USD.",
        "policy": "What an agent's change may touch before Baton opens a pull request.",
        "verify": "The repository's own check of a result, e.g. its test command "
        "(used by /agent compare).",
        "prices": "Org file only: negotiated rates per model (USD per million tokens) that "
        "replace the shipped price table's.",
        "security": "Org file only: what repositories' configs may reach of the server.",
        "max_concurrent_runs": "Org file only: runs of the whole org at once, across every "
        "worker; more wait in the queue (no cap when unset).",
        "allowed_agents": "The agents routes, fallbacks and commands may use (all when unset); "
        "an org locks it with `enforce`.",
    },
    "Price": {
        "input": "USD per million input tokens (cache reads and writes excluded).",
        "output": "USD per million output tokens (reasoning included).",
        "cache_read": "USD per million tokens read from the prompt cache.",
        "cache_write": "USD per million tokens written to the prompt cache.",
    },
    "Verify": {
        "command": "Argv of the check, run in the agent's worktree inside the sandbox.",
        "timeout": "Time limit of the check: seconds or like 90s, 10m.",
        "network": "`none` (default): no network; `host` needs the org's "
        "`security.allow_host_network`.",
    },
    "AgentSpec": {
        "adapter": "The harness: scripted, command, claude-code, codex, gemini, aider, opencode "
        "or qwen. "
        "Required unless the org or built-in config defines this agent.",
        "model": "The model name passed to the harness.",
        "max_cost_usd": "Stop a run of this agent once it has cost this much.",
        "timeout": "Stop a run after this long: seconds, or like 90s, 30m, 2h.",
        "base_url": "Send the harness's model requests to this gateway URL instead.",
        "api_key_env": "Name of the server environment variable holding the API key.",
        "sandbox": "Isolation of the agent's process.",
        "command": "`command` adapter: argv template with {prompt_file}, {prompt}, {model}, "
        "{workdir}.",
        "resume": "`command` adapter: arguments appended when a follow-up to the same agent "
        "resumes its last session; {session_id} is replaced by that session's id.",
        "env": "Extra environment; `${VAR}` takes VAR from the server's environment, if the "
        "operator (BATON_AGENT_ENV_ALLOW) and, for a repository's file, the org allow it.",
        "output": "`command` adapter: how to read the result from stdout.",
        "on_budget": "At the cost cap the work so far is kept in a draft PR; `stop` (default) "
        "ends the run there, `handoff` lets the route's next fallback agent continue from it.",
        "on_timeout": "The same at the timeout: `stop` (default) or `handoff`.",
    },
    "SandboxSpec": {
        "network": "`none` (default): only the model API, through Baton's relay; `host` shares "
        "the server's network and needs the org's `security.allow_host_network`."
    },
    "Security": {
        "env_allow": "Org file only: server variables repositories' `${VAR}` may expand "
        "(within the operator's BATON_AGENT_ENV_ALLOW).",
        "model_endpoints": "Org file only: base URLs repositories' agents may use, beyond "
        "the operator's.",
        "allow_host_network": "Org file only: let agents use `sandbox.network: host`.",
    },
    "OutputSpec": {
        "format": "`text` (all of stdout is the summary), `json` or `jsonl`.",
        "summary": "Dotted path to the summary in the JSON output.",
        "session_id": "Dotted path to the harness's session id.",
        "cost_usd": "Dotted path to the cost in USD the harness reports.",
        "model": "Dotted path to the model the harness used.",
        "input_tokens": "Dotted path to the input token count (without cache reads/writes).",
        "output_tokens": "Dotted path to the output token count (reasoning included).",
        "cache_read_tokens": "Dotted path to the cache-read token count.",
        "cache_write_tokens": "Dotted path to the cache-write token count.",
        "reasoning_tokens": "Dotted path to the reasoning token count.",
        "turns": "Dotted path to the number of turns.",
    },
    "Route": {
        "when": "Conditions that must all hold; none means always.",
        "agent": "The agent that takes a matching task.",
        "fallback": "Agents tried in order when one fails; after a timeout or budget stop only "
        "with the agent's `on_timeout` / `on_budget: handoff`.",
    },
    "RouteWhen": {
        "label": "The trigger label, e.g. agent:fix.",
        "paths": "Glob patterns; every path the task touches must match one.",
    },
    "Triggers": {
        "min_permission": "Least repository permission a user needs to start an agent.",
        "allow_bots": "Bot accounts allowed to trigger agents.",
    },
    "Budget": {
        "per_run_usd": "Cap for one run.",
        "monthly_usd": "Cap for this repository per calendar month.",
        "per_requester_monthly_usd": "Cap per requesting user per month in this repository.",
        "org_monthly_usd": "Org file only: cap for the whole org per month.",
        "min_run_usd": "A run starts only if every monthly budget that applies has at least "
        "this much left (default 0.25).",
        "approve_above_usd": "A run whose cost cap is above this (a compare: its agents' caps "
        "together) waits until someone with maintain or admin permission comments "
        "`/agent approve` (or `/agent deny`).",
    },
    "Policy": {
        "protected_paths": "Globs an agent's change may not touch.",
        "max_changed_files": "Most files one change may touch.",
        "max_changed_lines": "Most lines one change may add and remove together (no cap by "
        "default).",
        "draft": "Open pull requests as drafts.",
        "delete_branch_on_close": "Delete a baton/* branch when its pull request is merged or "
        "closed, unless someone other than Baton pushed to it.",
    },
}

# Mirrors the duration syntax config/schema.py accepts (tests keep the two equal).
DURATION_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$"


def layer_schema() -> dict[str, Any]:
    """The schema of one layer of configuration, every key documented: what `.agents.yml` holds,
    and the org's keys besides (its `defaults`, `repos` patterns and `enforce` hold them all)."""
    schema = AgentsConfig.model_json_schema()
    definitions: dict[str, Any] = schema.setdefault("$defs", {})
    for name, definition in [("AgentsConfig", schema), *definitions.items()]:
        for key, prop in definition.get("properties", {}).items():
            prop["description"] = FIELD_DOCS[name][key]
    agent = definitions["AgentSpec"]
    # `timeout: 30m` is valid YAML for Baton; the generated schema only knows the parsed float.
    agent["properties"]["timeout"] = {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "string", "pattern": DURATION_PATTERN},
        ],
        "default": 1800,
        "description": FIELD_DOCS["AgentSpec"]["timeout"],
    }
    # A layer may override an agent of a lower one by name without repeating its adapter.
    agent["required"] = [key for key in agent.get("required", []) if key != "adapter"]
    if not agent["required"]:
        del agent["required"]
    # Names that break the agent-name rule are errors, not "other" keys.
    schema["properties"]["agents"]["additionalProperties"] = False
    return schema


def json_schema() -> dict[str, Any]:
    """JSON Schema for `.agents.yml`, for editor completion and validation."""
    schema = layer_schema()
    definitions: dict[str, Any] = schema["$defs"]
    # The org-wide cap is rejected in `.agents.yml`; offering it would mislead.
    definitions["Budget"]["properties"].pop("org_monthly_usd", None)
    schema["properties"]["budget"].get("default", {}).pop("org_monthly_usd", None)
    schema["properties"].pop("prices", None)  # the org's rates, rejected in `.agents.yml` too
    schema["properties"].pop("security", None)  # the org's grants, likewise
    schema["properties"].pop("max_concurrent_runs", None)  # the org's, likewise
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "Baton .agents.yml (version 1)",
        "description": "Per-repository configuration of Baton's coding agents: agents, routes, "
        "triggers, budget and policy. Merged over the org's agents.yml.",
    }
