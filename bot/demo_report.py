"""What `baton demo` prints of the pull request that came back (pure: GitHub's JSON in, text out):
its facts, the PR body's provenance table, the commit's trailers, the check run's conclusion and
summary, and the diff's stat."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.stack import provenance

_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): (.+)$")
STAT_WIDTH = 40


@dataclass(frozen=True, slots=True, kw_only=True)
class PullFacts:
    """The pull request and what GitHub holds about its head commit."""

    pr: dict[str, Any]
    commit_message: str
    check_runs: list[dict[str, Any]]
    files: list[dict[str, Any]]


def trailers(message: str) -> list[str]:
    """The `Key: value` lines of the message's last paragraph (git's trailers)."""
    last = message.strip().split("\n\n")[-1].splitlines()
    found = [line for line in last if _TRAILER.match(line)]
    return found if found and len(found) == len(last) else []


def table_lines(markdown: str) -> list[str]:
    """The lines of the first table in a markdown text."""
    lines = markdown.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        return []
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def _marks(count: int, scale: float) -> int:
    return max(1, round(count * scale)) if count else 0


def diff_stat(files: list[dict[str, Any]]) -> list[str]:
    """`git diff --stat`'s lines for the PR's files."""
    if not files:
        return ["(no changes)"]
    width = max(len(str(f["filename"])) for f in files)
    most = max(int(f["additions"]) + int(f["deletions"]) for f in files) or 1
    scale = min(1.0, STAT_WIDTH / most)
    lines = []
    for f in files:
        added, deleted = int(f["additions"]), int(f["deletions"])
        # As git's: a file that changed shows at least one mark for each kind of change.
        bar = "+" * _marks(added, scale) + "-" * _marks(deleted, scale)
        lines.append(f"{f['filename']:<{width}} | {added + deleted} {bar}")
    added = sum(int(f["additions"]) for f in files)
    deleted = sum(int(f["deletions"]) for f in files)
    count = len(files)
    lines.append(
        f"{count} file{'s' if count != 1 else ''} changed, "
        f"{added} insertion{'s' if added != 1 else ''}(+), "
        f"{deleted} deletion{'s' if deleted != 1 else ''}(-)"
    )
    return lines


def _indent(lines: list[str]) -> str:
    return "".join(f"  {line}\n" for line in lines)


def report(facts: PullFacts, status: str, elapsed_s: float) -> str:
    pr = facts.pr
    runs = provenance(pr.get("body") or "").get("runs") or [{}]
    run = runs[-1]
    cost = run.get("cost_usd")
    cost_text = f"${cost:.4f} ({run.get('cost_source')})" if cost is not None else "unknown"
    final = "\n".join(line for line in status.splitlines() if not line.startswith("<!--"))
    text = (
        f"\nPull request #{pr['number']}: {pr['title']}\n"
        f"  url:      {pr['html_url']}\n"
        f"  branch:   {pr['head']['ref']} -> {pr['base']['ref']}\n"
        f"  agent:    {run.get('agent')} ({run.get('adapter')})\n"
        f"  model:    {run.get('model')}\n"
        f"  cost:     {cost_text}\n"
        f"  tokens:   {run.get('input_tokens')} in / {run.get('output_tokens')} out\n"
        f"  duration: {run.get('duration_s')}s of agent time, {elapsed_s:.1f}s from label to PR\n"
        f"\nProvenance (the PR body's table):\n{_indent(table_lines(pr.get('body') or ''))}"
        f"\nCommit {pr['head']['sha'][:10]} trailers:\n"
        f"{_indent(trailers(facts.commit_message) or ['(none)'])}"
    )
    for check in facts.check_runs:
        title = (check.get("output") or {}).get("title") or ""
        summary = (check.get("output") or {}).get("summary") or ""
        text += (
            f"\nCheck run {check['name']}: {check.get('conclusion') or check.get('status')}"
            f"{f' ({title})' if title else ''}\n{_indent(summary.splitlines())}"
        )
    text += f"\nDiff:\n{_indent(diff_stat(facts.files))}"
    return text + f"\nStatus comment (final):\n{final}\n"
