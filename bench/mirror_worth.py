"""The mirror's worth: a job's start to its agent's start on a big synthetic repository, a first
run (an empty disk: a fresh clone) then a second (the machine's mirror, fetched, and on a root
server the pristine checkout the first made, below an overlay worktree)."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from pathlib import Path
from typing import Any

from bot.stack import Stack
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE

DEMO = "version: 1\nagents:\n  demo: {adapter: scripted}\nroutes:\n  - agent: demo\n"


def synthetic_repo(path: Path, *, files: int, commits: int, file_bytes: int) -> None:
    """A repository of `commits` commits adding `files` files of about `file_bytes` in all
    (text that does not compress to nothing, as source does not), then calc.py."""
    words = [f"w{n:x}" for n in range(4096)]
    rng = random.Random(7)
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", "--bare", str(path)], check=True)
    per_commit = max(1, files // commits)
    lines: list[str] = []
    when = 1_700_000_000
    for c in range(commits):
        lines += [
            "commit refs/heads/main",
            f"committer Bench <bench@example.test> {when + c} +0000",
            f"data {len(f'commit {c}')}",
            f"commit {c}",
        ]
        for f in range(per_commit):
            text = " ".join(rng.choice(words) for _ in range(file_bytes // 5))
            body = f"file {c}.{f}\n{text}\n"
            lines += [f"M 644 inline src/d{c % 100}/f{c}_{f}.txt", f"data {len(body)}", body]
    lines += [
        "commit refs/heads/main",
        f"committer Bench <bench@example.test> {when + commits} +0000",
        "data 8",
        "calc.py\n",
        "M 644 inline calc.py",
        f"data {len(CALC.encode())}",
        CALC,
        "M 644 inline .agents.yml",
        f"data {len(DEMO.encode())}",
        DEMO,
    ]
    stream = "\n".join(lines).encode() + b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream, check=True)


async def mirror_worth(tmp: Path, *, files: int, commits: int, file_bytes: int) -> dict[str, Any]:
    source = tmp / "synthetic.git"
    made = time.monotonic()
    synthetic_repo(source, files=files, commits=commits, file_bytes=file_bytes)
    build_s = time.monotonic() - made
    async with Stack(workdir=tmp / "mirror", settings={"sandbox": "none"}) as stack:
        stack.hub.rate_limit = 1_000_000
        clone_url = await stack.create_repo("octocat", "big", {"README.md": "big\n"})
        token = stack.hub.mint_token(stack.installation_id).value
        env = _git_env(token)
        push = ["git", "push", "--quiet", "--force", clone_url, "main:main"]
        await asyncio.to_thread(subprocess.run, push, cwd=source, env=env, check=True, timeout=600)
        packed = sum(f.stat().st_size for f in (source / "objects").rglob("*") if f.is_file())
        result: dict[str, Any] = {
            "files": files,
            "commits": commits + 1,
            "packed_mb": packed / 1e6,
            "build_s": build_s,
        }
        for phase in ("first", "second"):
            number = await stack.open_issue("octocat", "octocat/big", ISSUE_TITLE, ISSUE_BODY)
            await stack.label("octocat", "octocat/big", number, "agent:fix")
            await stack.wait_final("octocat/big", number, timeout_s=900)
            job = [j for j in await stack.runtime.queue.list_jobs() if j.task == "run"][-1]
            events = await stack.runtime.services.store.events(f"r{job.id}")
            agent = next(e.time for e in events if e.kind == "agent_started")
            started = next(e.time for e in events if e.kind == "started")
            workspace = next(e.time for e in events if e.kind == "workspace")
            assert job.started_at is not None
            result[f"{phase}_s"] = agent - job.started_at
            # Baton's own steps before the run starts (the gate, the config, the status
            # comment), which the repository's size does not change.
            result[f"{phase}_before_s"] = started - job.started_at
            # The mirror's part: from the run's start to its worktree, made.
            result[f"{phase}_workspace_s"] = workspace - started
        result["ratio"] = result["first_s"] / result["second_s"]
        # Whether the worktrees were overlays over the machine's pristine checkout (a root
        # server), or checkouts of every file.
        result["overlay"] = (stack.runtime.services.settings.workdir / "pristine").is_dir()
    return result


def _git_env(token: str) -> dict[str, str]:
    import base64  # noqa: PLC0415

    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "PATH": os.environ["PATH"],
        "HOME": "/nonexistent",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }
