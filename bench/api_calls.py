"""GitHub API calls per labeled-issue run, counted by the local GitHub emulator, cold and warm.

Cold: the first run after the server starts (no installation token, no cached config).
Warm: the next run on another issue of the same repository (token and ETag-cached config reused).
Only calls that count against the installation's rate limit are the target (304s do not count).

    .venv/bin/python bench/api_calls.py [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.stack import Stack
from tests.e2e.repo_files import CALC, ISSUE_BODY, agents_yml

MARK = "bench:api_calls"
TARGET_WARM = 10


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
        lines.append(f"| {phase} | {r['total']} | {r['counted']} | {r['not_modified']} | "
                     f"{r['seconds']}s |")  # fmt: skip
    warm = results.get("warm", {}).get("counted", 0)
    verdict = "meets" if warm <= TARGET_WARM else "misses"
    lines += ["", f"Target: warm run ≤ {TARGET_WARM} counted calls; it {verdict} it ({warm}).", ""]
    for phase, r in results.items():
        lines.append(f"Calls of the {phase} run, by route:")
        lines.append("")
        lines += [f"- `{route}`: {count}" for route, count in sorted(r["routes"].items())]
        lines.append("")
    lines.append(f"<!-- /{MARK} -->")
    return "\n".join(lines)


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
    section = render(results)
    print(section)
    if args.write:
        write(args.write, section)
    return 0 if results["warm"]["counted"] <= TARGET_WARM else 1


if __name__ == "__main__":
    sys.exit(main())
