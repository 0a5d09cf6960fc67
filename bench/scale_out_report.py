"""The scale-out bench's section of docs/performance.md, from its results (a dict, as in --json).

.venv/bin/python bench/scale_out_report.py /tmp/scale_out.json --write docs/performance.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

MARK = "bench:scale_out"


def _table(rows: list[dict[str, Any]]) -> list[str]:
    first = rows[0]["runs_per_minute"]
    out = [
        (
            "| workers | runs | runs/minute | scaling | queue latency p50 | p99 | "
            "statements/run (server + workers) |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lat = row["queue_latency_ms"]
        stmts = sum(row["statements_per_run"].values())
        out.append(
            f"| {row['workers']} | {row['ok']}/{row['runs']} | {row['runs_per_minute']:.0f} | "
            f"{row['runs_per_minute'] / first:.2f}x | {lat['p50'] / 1000:.1f} s | "
            f"{lat['p99'] / 1000:.1f} s | {stmts:.0f} |"
        )
    return out


def _scaling(rows: list[dict[str, Any]]) -> str:
    first = rows[0]["runs_per_minute"]
    return ", ".join(f"{row['runs_per_minute'] / first:.2f}x at {row['workers']}" for row in rows)


def section(r: dict[str, Any]) -> str:
    pick, ack, mirror = r["queue_pickup"], r["webhook_ack"], r["mirror"]
    runs, waiting = r["runs"], r["waiting_runs"]
    lines = [
        f"<!-- {MARK} -->",
        "## Scale-out on PostgreSQL",
        "",
        (
            f"Measured {r['date']} by `bench/scale_out.py --write docs/performance.md` on "
            f"{r['machine']['cpus']} CPUs (load average {r['machine']['load']} at the start: other "
            "work shared the machine), PostgreSQL 15 in a private cluster, the local GitHub "
            "emulator and every Baton process on the same machine."
        ),
        "",
        (
            f"{runs[0]['runs']} runs with the **scripted agent** (it applies the issue's patch at "
            "once), each on its own issue, one `baton serve` (BATON_WORKER=none) and N `baton "
            "worker --concurrency 4`; queue latency is from the job's enqueue to its start:"
        ),
        "",
        *_table(runs),
    ]
    if waiting:
        lines += [
            "",
            (
                f"The same with an agent that **waits {waiting[0]['agent_s']:.0f} s** (as a real "
                "one waits on its model API) and then applies the patch:"
            ),
            "",
            *_table(waiting),
        ]
    idle = runs[0]["idle_statements_per_minute"]
    ratio = ack["postgresql"]["p99_ms"] / ack["sqlite"]["p99_ms"]
    lines += [
        "",
        (
            "What 2 cores allow: with the scripted agent a run is all CPU (the emulator serving "
            "git and REST, git itself, Baton, PostgreSQL), so one worker already fills the "
            f"machine (throughput {_scaling(runs)} workers) and more workers only shorten the "
            "queue. The 3.5x at 4 workers the issue asks for "
            "needs a machine where 4 workers fit, which this one is not. With an agent that "
            "waits, as real ones wait on their model API, the runs in flight are bounded by the "
            "workers' slots (4 each), so throughput grows with the workers "
            f"({_scaling(waiting) + ' workers' if waiting else 'not measured'}) until the CPU is "
            f"full; here {waiting[0]['runs'] if waiting else 0} runs on {4 * runs[-1]['workers']} "
            "slots make two waves, which caps the last figure too."
        ),
        "",
        "Idle, with one worker: "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(idle.items()))
        + " statements a minute (heartbeats, the one-second fetch poll).",
        "",
        (
            f"Queue pickup by an idle worker, {pick['postgresql_ms']['n']} jobs: SQLite in-process "
            f"p50 {pick['sqlite_ms']['p50']:.1f} ms / p99 {pick['sqlite_ms']['p99']:.1f} ms; "
            f"PostgreSQL (LISTEN/NOTIFY) p50 {pick['postgresql_ms']['p50']:.1f} ms / "
            f"p99 {pick['postgresql_ms']['p99']:.1f} ms."
        ),
        "",
        (
            "Webhook acknowledgement, the intake bench's delivery mix (10 % of them queue a run) "
            f"at {ack['rate']:.0f}/s for {ack['seconds']:.0f} s, same run, BATON_WORKER=none: "
            f"SQLite p50 {ack['sqlite']['p50_ms']:.1f} ms / p99 {ack['sqlite']['p99_ms']:.1f} ms; "
            f"PostgreSQL p50 {ack['postgresql']['p50_ms']:.1f} ms / p99 "
            f"{ack['postgresql']['p99_ms']:.1f} ms ({ratio:.2f}x at p99)."
        ),
        "",
        _mirror_text(mirror),
        f"<!-- /{MARK} -->",
    ]
    return "\n".join(lines)


def _mirror_text(mirror: dict[str, Any]) -> str:
    mirror_ratio = mirror["first_workspace_s"] / mirror["second_workspace_s"]
    whole_ratio = mirror["first_s"] / mirror["second_s"]
    overlay = mirror.get("overlay", False)
    second = (
        "the machine's mirror, fetched, and a worktree that is an overlay over the checkout the "
        "first run made, so no file is checked out again"
        if overlay
        else "the machine's mirror, fetched, then a checkout of every file (not a root server: "
        "no overlay worktree)"
    )
    text = (
        f"The mirror's worth, a synthetic repository of {mirror['files']:,} files and "
        f"{mirror['commits']:,} commits ({mirror['packed_mb']:.0f} MB of objects), served by "
        "the emulator on the same machine. From the job's start to its agent's start: first "
        f"run (an empty disk: a fresh clone and a checkout of every file) "
        f"{mirror['first_s']:.2f} s, second run ({second}) {mirror['second_s']:.2f} s "
        f"(**{whole_ratio:.1f}x**). The workspace step alone: "
        f"{mirror['first_workspace_s']:.2f} s against {mirror['second_workspace_s']:.2f} s "
        f"({mirror_ratio:.1f}x)."
    )
    if whole_ratio >= 10:
        return text + " The 10x the issue asks for is met."
    before = mirror.get("second_before_s")
    steps = f" ({before:.2f} s here)" if before is not None else ""
    return text + (
        " The 10x the issue asks for is not met here: the first run's clone crosses no network "
        "(over a WAN to GitHub its transfer grows with the repository and the second run's "
        "fetch does not), and much of what is left of the second run is Baton's own steps "
        f"before the run starts{steps} (the gate, the config, the status comment), which the "
        "repository's size does not change."
    )


def write(doc: Path, text: str) -> None:
    current = doc.read_text()
    start, end = f"<!-- {MARK} -->", f"<!-- /{MARK} -->"
    if start in current:
        head, _, rest = current.partition(start)
        _, _, tail = rest.partition(end)
        doc.write_text(head + text + tail)
    else:
        doc.write_text(current.rstrip() + "\n\n" + text + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the JSON that scale_out.py --json wrote")
    parser.add_argument("--write", type=Path, help="rewrite this file's scale-out section")
    args = parser.parse_args()
    text = section(json.loads(args.results.read_text()))
    print(text)
    if args.write is not None:
        write(args.write, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
