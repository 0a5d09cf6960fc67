"""The handoff brief: everything a human would hand the next agent on a PR (pure builders).

Given to the agent in its prompt, never committed; summarized in the status comment so people
see what was handed over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.render import format_cost

if TYPE_CHECKING:
    from bot.github import CheckRunInfo, ReviewComment
    from bot.ledger import RunRecord

MAX_DIFF_CHARS = 60_000
MAX_CHECK_TAIL = 40  # lines of a failing check's output


@dataclass(frozen=True, slots=True)
class Handoff:
    """What the next agent inherits; the task itself is in the brief around it."""

    task_ref: str  # "issue #12" or "pull request #14"
    earlier_runs: tuple[RunRecord, ...] = ()
    diff: str = ""
    review_comments: tuple[ReviewComment, ...] = ()
    failing_checks: tuple[CheckRunInfo, ...] = ()
    instruction: str = ""
    withheld_comments: int = 0  # from users without the trigger permission
    fresh: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def _diffstat(diff: str) -> tuple[int, int, int]:
    files = len(re.findall(r"^diff --git ", diff, re.MULTILINE))
    added = sum(
        1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")
    )
    removed = sum(
        1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")
    )
    return files, added, removed


def _run_line(r: RunRecord) -> str:
    outcome = r.status + (f" ({r.error})" if r.error and r.status != "success" else "")
    summary = r.summary.strip().replace("\n", " ")[:500] or "no summary"
    cost = format_cost(r.cost_usd, r.cost_source, r.price_date)
    return (
        f"- run {r.id}: agent `{r.agent}` ({r.model or 'unknown model'}), {outcome}, {cost}. "
        + (f"Its summary: {summary}")
    )


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def render_handoff(h: Handoff) -> str:
    """The brief's handoff section, in the order a reviewer would read it."""
    out = [f"## Handoff: this {h.task_ref} already has history", ""]
    if h.earlier_runs:
        total = sum(r.cost_usd or 0.0 for r in h.earlier_runs)
        out += [f"Earlier runs (total so far ${total:.4f}):"]
        out += [_run_line(r) for r in h.earlier_runs]
        out.append("")
    if h.diff.strip():
        files, added, removed = _diffstat(h.diff)
        where = "the previous attempt's" if h.fresh else "the current"
        diff = (
            h.diff if len(h.diff) <= MAX_DIFF_CHARS else h.diff[:MAX_DIFF_CHARS] + "\n[truncated]"
        )
        out += [
            f"This is {where} diff against the base ({files} files, +{added} -{removed}):",
            "",
            "```diff",
            diff.rstrip("\n"),
            "```",
            "",
        ]
        if h.fresh:
            out += [
                "You start again from the base branch: the diff above is for reference only.",
                "",
            ]
    if h.review_comments:
        out.append("Unresolved review comments:")
        for c in h.review_comments:
            where = f"{c.path}:{c.line}" if c.line is not None else c.path
            out.append(f"- {where} (@{c.author}): {c.body.strip()}")
        out.append("")
    if h.withheld_comments:
        withheld = (
            f"({h.withheld_comments} comment(s) from people without the trigger permission "
            "were left out.)"
        )
        out += [withheld, ""]
    if h.failing_checks:
        out.append("Failing checks:")
        for check in h.failing_checks:
            out.append(f"- {check.name}: {check.conclusion} — {check.title or check.summary[:200]}")
            tail = _tail(check.text or check.summary, MAX_CHECK_TAIL)
            if tail:
                out += ["  ```", *(f"  {line}" for line in tail.splitlines()), "  ```"]
        out.append("")
    out += list(h.notes)
    if h.instruction:
        out += ["The new instruction for this run:", "", h.instruction.strip(), ""]
    return "\n".join(out).rstrip() + "\n"


def summarize_handoff(h: Handoff) -> str:
    """One line for the status comment: what the agent was handed."""
    parts = []
    if h.earlier_runs:
        total = sum(r.cost_usd or 0.0 for r in h.earlier_runs)
        parts.append(f"{len(h.earlier_runs)} earlier run(s) (${total:.4f})")
    if h.diff.strip():
        files, added, removed = _diffstat(h.diff)
        parts.append(f"the diff ({files} files, +{added} -{removed})")
    if h.review_comments:
        parts.append(f"{len(h.review_comments)} unresolved review comment(s)")
    if h.failing_checks:
        names = ", ".join(c.name for c in h.failing_checks)
        parts.append(f"{len(h.failing_checks)} failing check(s): {names}")
    if h.instruction:
        parts.append("the new instruction")
    return "Handed over: " + (", ".join(parts) if parts else "the task only") + "."


def resume_session(handoff: Handoff | None, agent: str) -> str | None:
    """The session to resume when `agent` itself made the last run here (a follow-up to the
    same agent). The brief still carries the handoff: adapters that cannot resume ignore the
    session and read it instead."""
    if handoff is None or not handoff.earlier_runs:
        return None
    last = handoff.earlier_runs[-1]
    return last.session_id if last.agent == agent and last.session_id else None
