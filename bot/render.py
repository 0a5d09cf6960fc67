"""Pure builders of everything Baton writes on GitHub: status comments, PR bodies, trailers,
check-run output. Hidden markers let Baton find and edit its own text."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.ledger import RunRecord

STATUS_MARKER = "<!-- baton:status run={run_id} -->"
PROVENANCE_MARKER = "<!-- baton:provenance {payload} -->"
CHECK_NAME = "Baton"

_PHASE_ICON = {
    "queued": "⏳",
    "running": "🏃",
    "success": "✅",
    "failed": "❌",
    "timed_out": "⏱️",
    "stopped_at_budget": "💸",
    "cancelled": "🛑",
    "refused": "🚫",
    "awaiting_approval": "⏸️",
}


def format_cost(cost: float | None, source: str, price_date: str | None = None) -> str:
    """`$0.0134 (reported)`: four decimals and always where the figure came from."""
    if cost is None:
        return "unknown"
    where = f"priced, table of {price_date}" if source == "priced" and price_date else source
    return f"${cost:.4f} ({where})"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def format_tokens(rec: RunRecord) -> str:
    parts = [f"{rec.input_tokens:,} in", f"{rec.output_tokens:,} out"]
    if rec.cache_read_tokens or rec.cache_write_tokens:
        parts.append(f"{rec.cache_read_tokens:,} cache read")
        parts.append(f"{rec.cache_write_tokens:,} cache write")
    return " / ".join(parts)


def status_marker(run_id: str) -> str:
    return STATUS_MARKER.format(run_id=run_id)


def _kept_in(pr_url: str) -> str:
    return f"; its work so far is in draft {pr_url}" if pr_url else ""


def status_comment(rec: RunRecord, *, detail: str = "", pr_url: str = "") -> str:
    """The one comment per run, edited in place from queued to done or failed."""
    icon = _PHASE_ICON.get(rec.status, "•")
    # A comparison's own row names no agent: its agents have rows of their own.
    agent = f"`{rec.agent}`" + (f" ({rec.adapter}, {rec.model})" if rec.model else "")
    agent = agent if rec.agent else ""
    headline = {
        "queued": f"{icon} Queued: {agent or 'an agent'} will work on this.",
        "running": f"{icon} Running: {agent} is working on this.",
        "success": (
            f"{icon} Done: {agent} opened {pr_url or 'a pull request'}."
            if agent
            else f"{icon} Done."
        ),
        "failed": f"{icon} Failed: {agent or 'the run'} did not produce a pull request.",
        "timed_out": f"{icon} Timed out: {agent} ran out of time{_kept_in(pr_url)}.",
        "stopped_at_budget": (
            f"{icon} Stopped at budget: {agent} reached its cost limit{_kept_in(pr_url)}."
        ),
        "cancelled": f"{icon} Cancelled{_kept_in(pr_url)}.",
        "refused": f"{icon} Not started.",
        "awaiting_approval": f"{icon} Awaiting approval: {agent or 'the agents'} will work on "
        "this once someone approves it.",
    }.get(rec.status, f"{icon} {rec.status}")
    lines = [status_marker(rec.id), f"**Baton** · {headline}"]
    if detail:
        lines += ["", detail]
    if rec.status not in {"queued", "refused", "awaiting_approval"} and rec.agent:
        lines += [
            "",
            "| agent | model | cost | tokens | duration | run |",
            "|---|---|---|---|---|---|",
            (
                f"| {rec.agent} | {rec.model or '-'} | "
                f"{format_cost(rec.cost_usd, rec.cost_source, rec.price_date)} | "
                f"{format_tokens(rec)} | {format_duration(rec.duration_s)} | `{rec.id}` |"
            ),
        ]
    return "\n".join(lines)


def _provenance_payload(runs: Sequence[RunRecord]) -> str:
    data = [
        {
            "run": r.id,
            "agent": r.agent,
            "adapter": r.adapter,
            "model": r.model,
            "status": r.status,
            "cost_usd": r.cost_usd,
            "cost_source": r.cost_source,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "duration_s": r.duration_s,
            "network": r.network,
        }
        for r in runs
    ]
    # `--` cannot appear inside an HTML comment; JSON never needs it unescaped.
    return json.dumps({"runs": data}, separators=(",", ":")).replace("--", "\\u002d\\u002d")


_FIXES = re.compile(r"^Fixes #(\d+)$", re.MULTILINE)


def issue_of_pr_body(body: str) -> int | None:
    """The issue a PR body Baton wrote fixes (None for any other PR)."""
    if "<!-- baton:provenance " not in body:
        return None
    match = _FIXES.search(body)
    return int(match.group(1)) if match else None


def previous_tag(number: int, sha: str) -> str:
    """The tag that keeps a head a fresh retry replaced: `baton/previous/<n>-<sha12>`."""
    return f"baton/previous/{number}-{sha[:12]}"


def pr_body(
    *, summary: str, issue_number: int | None, runs: Sequence[RunRecord], note: str = ""
) -> str:
    """The PR description: `note` (why the PR is a draft now), the agent's summary, `Fixes #N`,
    and one provenance row per run."""
    lines = [note, ""] if note else []
    lines += [summary.strip() or "_The agent gave no summary._", ""]
    if issue_number is not None:
        lines += [f"Fixes #{issue_number}", ""]
    lines += [
        "### Provenance",
        "",
        "| run | agent | harness | model | cost | tokens | duration | requester | outcome |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    total = 0.0
    unknown = False
    for r in runs:
        harness = f"{r.adapter} {r.harness_version}".strip()
        lines.append(
            f"| `{r.id}` | {r.agent} | {harness} | {r.model or '-'} | "
            f"{format_cost(r.cost_usd, r.cost_source, r.price_date)} | {format_tokens(r)} | "
            f"{format_duration(r.duration_s)} | @{r.requester} | {r.status} |"
        )
        if r.cost_usd is None:
            unknown = True
        else:
            total += r.cost_usd
    if len(runs) > 1 or unknown:
        lines += ["", f"**Total cost:** ${total:.4f}" + (" (some runs unknown)" if unknown else "")]
    kept = [
        f"- `{r.id}` started again from the base; the head it replaced, {r.replaced_sha[:12]}, "
        f"is kept as tag `{previous_tag(r.number, r.replaced_sha)}`."
        for r in runs if r.replaced_sha
    ]  # fmt: skip
    if kept:
        lines += ["", "Earlier heads:", *kept]
    open_net = [f"`{r.id}`" for r in runs if r.network == "host"]
    if open_net:
        note = "Ran with the host's network (`sandbox.network: host`, allowed by the org): "
        lines += ["", note + ", ".join(open_net) + "."]
    lines += ["", "_Opened by Baton._", PROVENANCE_MARKER.format(payload=_provenance_payload(runs))]
    return "\n".join(lines)


def commit_message(*, title: str, number: int, rec: RunRecord) -> str:
    """Subject, a line of context, and trailers that carry the provenance with the commit."""
    cost = f"{rec.cost_usd:.4f}" if rec.cost_usd is not None else "unknown"
    subject = f"{title.strip() or 'Agent change'} (#{number})"
    return (
        f"{subject[:72]}\n\n"
        f"Change made by the {rec.agent} agent for #{number}, requested by @{rec.requester}.\n\n"
        f"Agent: {rec.agent}\n"
        f"Agent-Model: {rec.model or 'unknown'}\n"
        f"Agent-Cost-USD: {cost}\n"
        f"Baton-Run: {rec.id}\n"
    )


def check_run_output(rec: RunRecord) -> tuple[str, str]:
    """(title, summary) of the Baton check run on the PR's head commit."""
    title = (
        f"{rec.agent} · {rec.model or 'unknown model'} · "
        f"{format_cost(rec.cost_usd, rec.cost_source, rec.price_date)}"
    )
    summary = "\n".join(
        [
            "| | |",
            "|---|---|",
            f"| agent | {rec.agent} |",
            f"| harness | {rec.adapter} {rec.harness_version} |",
            f"| model | {rec.model or '-'} |",
            f"| cost | {format_cost(rec.cost_usd, rec.cost_source, rec.price_date)} |",
            f"| tokens | {format_tokens(rec)} |",
            f"| turns | {rec.turns} |",
            f"| duration | {format_duration(rec.duration_s)} |",
            f"| requester | @{rec.requester} |",
            f"| network | {rec.network or '-'} |",
            f"| run | `{rec.id}` |",
        ]
    )
    return title[:200], summary


def _code(path: str) -> str:
    """An agent-made path shown as code: no backtick or newline of its own can break out."""
    return "`" + path.replace("`", "'").replace("\n", " ")[:200] + "`"


def removed_git_note(paths: Sequence[str]) -> str:
    shown = ", ".join(_code(p) for p in paths[:5]) + (
        f" and {len(paths) - 5} more" if len(paths) > 5 else ""
    )
    return (
        f"Baton removed {len(paths)} nested `.git` "
        f"{'entry' if len(paths) == 1 else 'entries'} the agent created ({shown}) before "
        "reading its change: a nested repository is never committed, and its settings are "
        "never obeyed."
    )
