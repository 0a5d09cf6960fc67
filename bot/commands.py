"""Comment commands: `/agent [AGENT] VERB [--key=value ...] ["instruction"]`, parsed without I/O."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from config.schema import parse_duration

VERBS: dict[str, str] = {
    "fix": "do the task (on an issue) or a follow-up change (on a PR)",
    "retry": "another attempt on this PR, with everything earlier runs left as context",
    "continue": "pick up a run stopped at its cost limit or timeout: the same agent resumes "
    "where it stopped, on the same draft PR (`--max-cost=X` gives it more room)",
    "cancel": "stop the running job; nothing more is pushed",
    "status": "queued and running runs here, with elapsed time and cost so far",
    "compare": "race agents A B [C]: one draft PR each and a comparison table",
    "config": "the effective configuration with each key's source and locks",
    "budget": "spend this month and what is left",
    "approve": "start a run that waits for approval (maintain or admin permission)",
    "deny": "end a run that waits for approval without running it",
    "stats": "the agent scoreboard of this repository: merges, zero-touch, CI, cost per merged PR",
    "help": "this help",
}
# Verbs that start agent work (and so need an agent, a route or a PR to continue).
RUN_VERBS = frozenset({"fix", "retry", "continue", "compare"})


@dataclass(frozen=True, slots=True)
class FlagSpec:
    """A flag a command may set, tied to the config key it overrides (for lock checks)."""

    name: str
    config_key: str  # `{agent}` is replaced by the agent the run uses
    kind: str  # "float" | "duration" | "str" | "bool"
    help: str


FLAGS: dict[str, FlagSpec] = {
    f.name: f
    for f in (
        FlagSpec("model", "agents.{agent}.model", "str", "model for this run"),
        FlagSpec("max-cost", "agents.{agent}.max_cost_usd", "float", "dollar cap for this run"),
        FlagSpec("timeout", "agents.{agent}.timeout", "duration", "time limit, e.g. 20m"),
        FlagSpec("fresh", "", "bool", "retry: start again from the base branch"),
    )
}


@dataclass(frozen=True, slots=True)
class Command:
    verb: str
    agent: str | None = None
    flags: dict[str, str | float | bool] = field(default_factory=dict)
    agents: tuple[str, ...] = ()  # compare's contestants
    instruction: str = ""

    def overrides(self, agent: str) -> dict[str, object]:
        """Flags as dotted config keys for the agent that runs (locks are checked on these)."""
        out: dict[str, object] = {}
        for name, value in self.flags.items():
            spec = FLAGS[name]
            if spec.config_key:
                out[spec.config_key.format(agent=agent)] = value
        return out


@dataclass(frozen=True, slots=True)
class CommandError:
    """Not a valid command: `message` says what is wrong; the reply adds the usage."""

    message: str


_AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def find_command_line(body: str, prefix: str) -> str | None:
    """The first line of a comment that starts with the command prefix (outside quotes)."""
    for raw in body.splitlines():
        line = raw.strip()
        if line == prefix or line.startswith(prefix + " "):
            return line[len(prefix) :].strip()
    return None


def _flag(token: str) -> tuple[str, str | float | bool] | CommandError:
    name, eq, raw = token[2:].partition("=")
    spec = FLAGS.get(name)
    if spec is None:
        return CommandError(f"`--{name}` is not a flag Baton accepts")
    if spec.kind == "bool":
        if eq and raw.lower() not in {"true", "false"}:
            return CommandError(f"`--{name}` takes no value")
        return name, (raw.lower() != "false") if eq else True
    if not eq or not raw:
        return CommandError(f"`--{name}` needs a value: `--{name}=...`")
    if spec.kind == "float":
        try:
            value = float(raw)
        except ValueError:
            return CommandError(f"`--{name}={raw}` is not a number")
        if value < 0:
            return CommandError(f"`--{name}` cannot be negative")
        return name, value
    if spec.kind == "duration":
        try:
            seconds = parse_duration(raw)
        except ValueError:
            return CommandError(f"`--{name}={raw}` is not a duration like 90s, 20m or 1h")
        assert isinstance(seconds, float)
        return name, seconds
    return name, raw


def parse(text: str) -> Command | CommandError:
    """Parse what follows the prefix: `[AGENT] VERB [--key=value ...] [instruction ...]`."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        return CommandError(f"the command could not be read ({exc}); check its quotes")
    if not tokens:
        return Command(verb="help")
    agent: str | None = None
    if tokens[0] not in VERBS:
        if len(tokens) < 2 or tokens[1] not in VERBS:
            word = tokens[1] if len(tokens) > 1 and not tokens[0].startswith("-") else tokens[0]
            return CommandError(f"`{word}` is not a verb Baton knows")
        if not _AGENT_NAME.match(tokens[0]):
            return CommandError(f"`{tokens[0]}` is not a valid agent name")
        agent, tokens = tokens[0], tokens[1:]
    verb, rest = tokens[0], tokens[1:]
    flags: dict[str, str | float | bool] = {}
    words: list[str] = []
    for token in rest:
        if token.startswith("--"):
            parsed = _flag(token)
            if isinstance(parsed, CommandError):
                return parsed
            flags[parsed[0]] = parsed[1]
        else:
            words.append(token)
    if "fresh" in flags and verb != "retry":
        return CommandError("`--fresh` only goes with `retry`")
    if verb == "compare":
        if agent is not None:
            return CommandError("`compare` takes its agents after the verb: `compare A B [C]`")
        if not 2 <= len(words) <= 3 or len(set(words)) != len(words):
            return CommandError("`compare` needs two or three different agents")
        bad = [w for w in words if not _AGENT_NAME.match(w)]
        if bad:
            return CommandError(f"`{bad[0]}` is not a valid agent name")
        return Command(verb=verb, flags=flags, agents=tuple(words))
    if verb not in RUN_VERBS and (words or flags):
        return CommandError(f"`{verb}` takes no arguments")
    return Command(verb=verb, agent=agent, flags=flags, instruction=" ".join(words))


def usage(prefix: str, agents: list[str]) -> str:
    """The grammar, the verbs, the flags and the agents this repository may use."""
    verbs = "\n".join(f"- `{verb}`: {text}" for verb, text in VERBS.items())
    flags = "\n".join(f"- `--{f.name}`: {f.help}" for f in FLAGS.values())
    listed = ", ".join(f"`{a}`" for a in agents) or "none configured"
    return (
        f'Usage: `{prefix} [AGENT] VERB [--key=value ...] ["instruction"]`\n\n'
        f"Verbs:\n{verbs}\n\nFlags:\n{flags}\n\nAgents here: {listed}\n\n"
        f'Examples: `{prefix} codex retry`, `{prefix} claude fix "also update the docs"`, '
        f"`{prefix} compare claude codex`, `{prefix} retry --fresh --max-cost=2`"
    )
