"""GitHub API calls per labeled-issue run, counted by the local GitHub emulator, cold and warm.

Cold: the first run after the server starts (no installation token, no cached config).
Warm: the next run on another issue of the same repository (token and ETag-cached config reused).
Only calls that count against the installation's rate limit are the target (304s do not count).
Streaming: an agent that reports its cost every half second for 20 s, to count the live check
run's updates (bot/checkrun) at the default pace; and the pace's bound for longer runs, from the
same functions that pace it.

    .venv/bin/python bench/api_calls.py [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.checkrun.view import LiveView, apply, due
from bot.stack import Stack
from tests.e2e.repo_files import CALC, ISSUE_BODY, agents_yml

MARK = "bench:api_calls"
TARGET_WARM = 10
STREAM_S = 20
# The live check run's budget: calls for a run of this many minutes at most (about one a
# minute once the run is 12 minutes old).
LIVE_BUDGET = {1: 15, 10: 40, 30: 60, 120: 150}
CHECK_ROUTES = ("POST /repos/{owner}/{repo}/check-runs",
                "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}")  # fmt: skip
STREAMER = (
    "import json, pathlib, sys, time\n"
    f"for i in range({STREAM_S * 2}):\n"
    "    print(json.dumps({'cost': round(0.001 * (i + 1), 4)}), flush=True)\n"
    "    time.sleep(0.5)\n"
    "calc = pathlib.Path('calc.py')\n"
    "calc.write_text(calc.read_text().replace('a - b', 'a + b', 1))\n"
)


def _snapshot(stack: Stack) -> Any:
    return stack.hub.calls(stack.installation_id)


def _delta(before: Any, after: Any) -> dict[str, Any]:
    routes = {
        route: count - before.by_route.get(route, 0)
        for route, count in after.by_route.items()
        if count - before.by_route.get(route, 0)
    }
    return {
        "total": after.total - before.total,
        "counted": after.counted_against_rate_limit - before.counted_against_rate_limit,
        "not_modified": after.not_modified_304 - before.not_modified_304,
        "routes": routes,
    }


async def measure() -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp:
        async with Stack(workdir=Path(tmp)) as stack:
            repo = "octocat/calc"
            await stack.create_repo("octocat", "calc", {"calc.py": CALC,
                                                        ".agents.yml": agents_yml()})  # fmt: skip
            for phase in ("cold", "warm"):
                number = await stack.open_issue("octocat", repo, f"{phase}: add() subtracts",
                                                ISSUE_BODY)  # fmt: skip
                before = _snapshot(stack)
                started = time.monotonic()
                await stack.label("octocat", repo, number, "agent:fix")
                statuses = await stack.wait_final(repo, number)
                if "✅" not in statuses[-1]:
                    raise SystemExit(f"{phase} run failed:\n{statuses[-1]}")
                await asyncio.sleep(0.2)  # the last edit of the status comment lands
                results[phase] = _delta(before, _snapshot(stack))
                results[phase]["seconds"] = round(time.monotonic() - started, 2)
    return results


async def measure_streaming() -> dict[str, Any]:
    """One run whose agent streams its cost for STREAM_S seconds: the check-run calls it cost."""
    argv = json.dumps([sys.executable, "-c", STREAMER])
    yml = (
        "version: 1\nagents:\n  streamer: {adapter: command, command: "
        + argv
        + ", output: {format: jsonl, cost_usd: cost}}\nroutes:\n  - agent: streamer\n"
    )
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp:
        async with Stack(workdir=Path(tmp), settings={"sandbox": "none"}) as stack:
            repo = "octocat/calc"
            await stack.create_repo("octocat", "calc", {"calc.py": CALC, ".agents.yml": yml})
            number = await stack.open_issue("octocat", repo, "add() subtracts", "Fix add().")
            before = _snapshot(stack)
            await stack.label("octocat", repo, number, "agent:fix")
            statuses = await stack.wait_final(repo, number, timeout_s=STREAM_S + 60)
            if "✅" not in statuses[-1]:
                raise SystemExit(f"streaming run failed:\n{statuses[-1]}")
            await asyncio.sleep(1.0)  # the live check run's end lands
            delta = _delta(before, _snapshot(stack))
    checks = {r: c for r, c in delta["routes"].items() if r in CHECK_ROUTES}
    return {"counted": delta["counted"], "check_runs": checks}


def live_budget(minutes: int) -> int:
    """Calls of the live check run of a run this long whose agent reports every second: the
    create, and each update the pace lets through (the same `due` the runs use)."""
    view = apply(LiveView(run_id="r1", head_sha="h"), "started", {"agent": "a"}, 0.0)
    view = apply(view, "agent_started", {}, 0.0)
    sent, sent_at, calls = None, None, 1
    for second in range(minutes * 60):
        view = apply(view, "usage", {"cost_usd": second / 1000}, float(second))
        if due(view, sent=sent, last_sent_at=sent_at, now=float(second)):
            sent, sent_at, calls = view, float(second), calls + 1
    return calls + 1  # and the conclusion


def render(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"<!-- {MARK} -->",
        "## GitHub API calls per run",
        "",
        (
            f"Measured {time.strftime('%Y-%m-%d')} by `.venv/bin/python bench/api_calls.py "
            "--write docs/performance.md`: one labeled issue, fixed by the scripted agent, "
            "through the local GitHub emulator, which counts every call per installation. "
            "Minting an installation token uses the app's JWT and does not count against the "
            "installation's limit."
        ),
        "",
        "| run | calls | counted against the rate limit | answered 304 | label to PR |",
        "|---|---|---|---|---|",
    ]
    for phase, r in results.items():
        if phase == "streaming":
            continue
        lines.append(f"| {phase} | {r['total']} | {r['counted']} | {r['not_modified']} | "
                     f"{r['seconds']}s |")  # fmt: skip
    warm = results.get("warm", {}).get("counted", 0)
    verdict = "meets" if warm <= TARGET_WARM else "misses"
    lines += ["", f"Target: warm run ≤ {TARGET_WARM} counted calls; it {verdict} it ({warm}).", ""]
    streaming = results.get("streaming")
    if streaming is not None:
        lines += live_lines(streaming)
    for phase, r in results.items():
        if phase == "streaming":
            continue
        lines.append(f"Calls of the {phase} run, by route:")
        lines.append("")
        lines += [f"- `{route}`: {count}" for route, count in sorted(r["routes"].items())]
        lines.append("")
    lines.append(f"<!-- /{MARK} -->")
    return "\n".join(lines)


def live_lines(streaming: dict[str, Any]) -> list[str]:
    checks = streaming["check_runs"]
    made, updates = checks.get(CHECK_ROUTES[0], 0), checks.get(CHECK_ROUTES[1], 0)
    lines = [
        "### The live check run",
        "",
        (
            "A run's Baton check run is made when the run has a commit to start from (queued), "
            "moved to in progress when the agent works, updated while it works and concluded "
            "at its end; a delivered run's PR head gets one more, completed, with the final "
            "facts. Above, the scripted agent's instant run spends 2 creates and 2 updates on "
            "them: the live one adds 3 calls to the 7 a warm run made before it (created "
            "queued, in progress, concluded). Updates wait `BATON_CHECK_RUN_UPDATE_S` (5 s) at "
            "least, a twelfth of the run's age as it grows old, 60 s at most; a change of "
            "state goes at once."
        ),
        "",
        (
            f"Measured: an agent reporting its cost every half second for {STREAM_S} s cost "
            f"{made} check-run creates and {updates} updates ({streaming['counted']} counted "
            "calls for the whole run)."
        ),
        "",
        (
            "The pace's bound for an agent that reports every second, from the functions that "
            "pace it (`bot/checkrun/view.py`); GitHub allows an installation 5,000 calls an "
            "hour at least:"
        ),
        "",
        "| run length | live check run calls | budget |",
        "|---|---|---|",
    ]
    for minutes, budget in LIVE_BUDGET.items():
        calls = live_budget(minutes)
        verdict = "within" if calls <= budget else "OVER"
        lines.append(f"| {minutes} min | {calls} | ≤ {budget} ({verdict}) |")
    return [*lines, ""]


def write(path: Path, section: str) -> None:
    text = path.read_text()
    pattern = re.compile(rf"<!-- {MARK} -->.*?<!-- /{MARK} -->", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="update this markdown file's section")
    args = parser.parse_args()
    results = asyncio.run(measure())
    results["streaming"] = asyncio.run(measure_streaming())
    section = render(results)
    print(section)
    if args.write:
        write(args.write, section)
    within = all(live_budget(m) <= b for m, b in LIVE_BUDGET.items())
    return 0 if results["warm"]["counted"] <= TARGET_WARM and within else 1


if __name__ == "__main__":
    sys.exit(main())
