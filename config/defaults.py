"""The built-in configuration layer: what a repo gets with no `.agents.yml` and no org file."""

from __future__ import annotations

from config.schema import Budget, Policy, Triggers
from config.yamlpos import Located

BUILTIN_FILE = "built-in"
# `BATON_LABEL_PREFIX`'s default: the built-in route answers `<prefix>fix` under the server's own.
DEFAULT_LABEL_PREFIX = "agent:"
# The per-run cap when no layer sets one: stopping at a limit is on unless an org turns it off
# (`budget.per_run_usd: null` in its agents.yml).
DEFAULT_PER_RUN_USD = 10.0

# The adapters the CLI validates against until the adapter registry supplies them.
KNOWN_ADAPTERS: frozenset[str] = frozenset(
    {"scripted", "command", "claude-code", "codex", "gemini", "aider", "opencode", "qwen"}
)

# One agent per real harness, named after its adapter, so `/agent codex fix` works out of the box.
HARNESS_MODELS: dict[str, str] = {
    "claude-code": "claude-sonnet-4-5",
    "codex": "gpt-5-codex",
    "gemini": "gemini-2.5-pro",
    "aider": "openai/gpt-5",  # the model family Aider was verified with here
    # Both speak Chat Completions to OPENAI_BASE_URL; verified here with these OpenAI models.
    "opencode": "gpt-5",
    "qwen": "gpt-5-mini",
}


def builtin_config(*, label_prefix: str = DEFAULT_LABEL_PREFIX) -> Located:
    """A fresh copy of the built-in layer (callers may not share its mutable data); its route
    answers the fix label under the server's label prefix, as intake reads labels."""
    agents: dict[str, object] = {"scripted": {"adapter": "scripted"}}
    for adapter, model in HARNESS_MODELS.items():
        agents[adapter] = {"adapter": adapter, "model": model}
    data: dict[str, object] = {
        "version": 1,
        "agents": agents,
        "routes": [{"when": {"label": f"{label_prefix}fix"}, "agent": "claude-code"}],
        "triggers": Triggers().model_dump(),
        "budget": {**Budget().model_dump(), "per_run_usd": DEFAULT_PER_RUN_USD},
        "policy": Policy().model_dump(),
    }
    return Located(data=data, positions={}, file=BUILTIN_FILE)
