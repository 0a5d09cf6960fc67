"""The containment issue's five findings, each tried as the attacker did, through the local GitHub
emulator and Baton's server with the sandbox on: every one now fails, nothing of it reaches the
emulator (no blob, no ref, no comment, no PR text), and the run's comment says what was refused."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from bot import gitops
from bot.github import InstallationToken
from bot.secretscan import SecretScanner
from bot.stack import Stack
from tests.e2e.command_agents import OWNER, REPO, read_branch, the_pr
from tests.e2e.repo_files import CALC

if TYPE_CHECKING:
    from collections.abc import Mapping

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.usefixtures("sandbox_ready")]
AGENT = Path(__file__).with_name("containment_agent.py")
FIXED = "def add(a, b):\n    return a + b\n"


def agents_yml(mode: str, *args: str, **extra: object) -> str:
    spec = {
        "adapter": "command",
        "command": ["/usr/bin/python3", "-c", AGENT.read_text(), mode, "{prompt_file}", *args],
        "output": {"format": "jsonl", "summary": "summary"},
        **extra,
    }
    return f"version: 1\nagents:\n  hostile: {json.dumps(spec)}\nroutes:\n  - agent: hostile\n"


async def push_gitlink(stack: Stack, clone_url: str, path: str) -> None:
    """The repository tracks `path` as a submodule (a gitlink), as many repositories do."""
    src = stack.workdir / f"gitlink-{time.monotonic_ns()}"
    src.mkdir(parents=True)
    token = InstallationToken(SecretStr(OWNER), time.time() + 3600)
    await gitops.git("init", "--quiet", cwd=src)
    await gitops.git("fetch", "--quiet", clone_url, "main", cwd=src, token=token)
    await gitops.git("reset", "--quiet", "--hard", "FETCH_HEAD", cwd=src)
    head = await gitops.git("rev-parse", "HEAD", cwd=src)
    await gitops.git("update-index", "--add", "--cacheinfo", f"160000,{head},{path}", cwd=src)
    await gitops.git(
        "-c", "user.name=o", "-c", "user.email=o@x", "-c", "diff.ignoreSubmodules=none",
        "commit", "--quiet", "-m", "submodule",
        cwd=src,
    )  # fmt: skip
    await gitops.git("push", "--quiet", clone_url, "HEAD:refs/heads/main", cwd=src, token=token)


async def labeled_run(
    stack: Stack, yml: str, *, body: str = "Please.", gitlink: str | None = None
) -> str:
    """A repository whose `.agents.yml` routes to the hostile agent, an issue, the label; the
    run's final status comment."""
    clone_url = await stack.create_repo(OWNER, "calc", {"calc.py": CALC, ".agents.yml": yml})
    if gitlink is not None:
        await push_gitlink(stack, clone_url, gitlink)
    number = await stack.open_issue(OWNER, REPO, "Fix it", body)
    await stack.label(OWNER, REPO, number, "agent:fix")
    [status] = await stack.wait_final(REPO, number, timeout_s=120)
    return status


async def everything_on_github(stack: Stack, tmp_path: Path) -> bytes:
    """Every object of every ref in the emulator's repository, every comment, PR title and body,
    and every check run's text: all that Baton could have published."""
    pulls = await stack.pulls(REPO)
    parts = [
        json.dumps(await stack.comments(REPO, number))
        for number in (1, *(pr["number"] for pr in pulls))
    ]
    async with stack.user(OWNER) as client:
        for pr in pulls:
            parts += [pr["title"], pr["body"] or ""]
            runs = await client.get(f"repos/{REPO}/commits/{pr['head']['sha']}/check-runs")
            parts.append(runs.text)
    mirror = tmp_path / f"mirror-{time.monotonic_ns()}.git"
    clone_url = f"{stack.hub_server.url}/{REPO}.git"
    token = InstallationToken(SecretStr(OWNER), time.time() + 3600)
    await gitops.git("init", "--quiet", "--bare", str(mirror), cwd=tmp_path)
    await gitops.git("fetch", "--quiet", clone_url, "+refs/*:refs/*", cwd=mirror, token=token)
    objects = await gitops.git("cat-file", "--batch-all-objects", "--batch", cwd=mirror)
    return "\n".join([*parts, objects]).encode()


def baton_secrets(stack: Stack) -> dict[str, str]:
    return {"the webhook secret": stack.secret, "the App's private key": stack.keys.private_pem}


async def assert_nothing_leaked(stack: Stack, tmp_path: Path, known: Mapping[str, str]) -> None:
    published = await everything_on_github(stack, tmp_path)
    found = SecretScanner(known).scan_blob(published, where="the emulator")
    own = [f for f in found if any(f.rule.startswith(label) for label in known)]
    assert own == [], [str(f) for f in own]


# -- 1. code execution on the host through Baton's own git -----------------------------------


async def test_a_nested_repositorys_fsmonitor_never_runs_on_the_host(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    async with Stack(workdir=tmp_path / "stack", settings={"job_max_attempts": "1"}) as stack:
        status = await labeled_run(stack, agents_yml("fsmonitor", str(marker)), gitlink="sub")
        assert not marker.exists(), "the agent's fsmonitor command ran on the host"
        assert "removed 2 nested `.git` entries" in status, status
        assert "`docs/.git`" in status
        assert "`sub/.git`" in status
        pr = await the_pr(stack)
        assert await read_branch(tmp_path, pr, "calc.py") == FIXED
        await assert_nothing_leaked(stack, tmp_path, baton_secrets(stack))


# -- 2. server secrets through config ---------------------------------------------------------


@pytest.mark.parametrize("variable", ["BATON_WEBHOOK_SECRET", "BATON_PRIVATE_KEY"])
async def test_a_repository_config_cannot_expand_batons_own_settings(
    tmp_path: Path, variable: str
) -> None:
    yml = agents_yml("stdout", env={"STOLEN": f"${{{variable}}}"})
    async with Stack(workdir=tmp_path / "stack", settings={"job_max_attempts": "1"}) as stack:
        status = await labeled_run(stack, yml)
        assert "no agent was started" in status, status
        assert f"${{{variable}}}" in status
        assert ".agents.yml:3:" in status  # the line of the agent that asks for it
        assert "never reaches an agent" in status
        assert await stack.pulls(REPO) == []
        await assert_nothing_leaked(stack, tmp_path, baton_secrets(stack))


async def test_a_variable_the_operator_and_the_org_allow_still_reaches_the_agent(
    tmp_path: Path,
) -> None:
    # It writes a digest of what it got: the value itself is one it was handed, never pushed.
    script = (
        "import hashlib, os, pathlib, json; pathlib.Path('greeting.txt').write_text("
        "hashlib.sha256(os.environ.get('GREETING', 'none').encode()).hexdigest()); "
        "print(json.dumps({'summary': 'ok'}))"
    )
    spec = {"adapter": "command", "command": ["/usr/bin/python3", "-c", script],
            "env": {"GREETING": "${ACME_GREETING}"},
            "output": {"format": "jsonl", "summary": "summary"}}  # fmt: skip
    yml = f"version: 1\nagents:\n  greeter: {json.dumps(spec)}\nroutes:\n  - agent: greeter\n"
    settings = {"job_max_attempts": "1", "agent_env_allow": "ACME_*"}
    async with Stack(workdir=tmp_path / "stack", settings=settings,
                     server_env={"ACME_GREETING": "hello from the operator"}) as stack:  # fmt: skip
        org = "version: 1\ndefaults:\n  security: {env_allow: [ACME_GREETING]}\n"
        await stack.create_repo(OWNER, ".github", {"agents.yml": org})
        await labeled_run(stack, yml)
        pr = await the_pr(stack)
        digest = hashlib.sha256(b"hello from the operator").hexdigest()
        assert await read_branch(tmp_path, pr, "greeting.txt") == digest


# -- 3. the secret scan sees every form and every channel -------------------------------------

FORMS = {
    "base64": "notes/b64.txt",
    "hex": "notes/hex.txt",
    "reversed": "notes/rev.txt",
    "split": "notes/split.py",
    "nodiff": "blob.dat",
    "nul": "blob.bin",
    "filename": "the changed files' names",
}


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_a_disguised_secret_is_never_pushed(tmp_path: Path, form: str) -> None:
    async with Stack(workdir=tmp_path / "stack", settings={"job_max_attempts": "1"}) as stack:
        status = await labeled_run(
            stack, agents_yml("smuggle", form), body=f"Please. SECRET={stack.secret}"
        )
        assert "nothing was pushed" in status, status
        assert "the webhook secret" in status
        assert FORMS[form] in status
        assert await stack.pulls(REPO) == []
        refs = await gitops.git("ls-remote", "--heads", f"{stack.hub_server.url}/{REPO}.git",
                                cwd=tmp_path)  # fmt: skip
        assert "baton/" not in refs
        await assert_nothing_leaked(stack, tmp_path, baton_secrets(stack))


async def test_the_agents_stdout_never_becomes_a_pr_body_carrying_a_secret(
    tmp_path: Path,
) -> None:
    async with Stack(workdir=tmp_path / "stack", settings={"job_max_attempts": "1"}) as stack:
        status = await labeled_run(stack, agents_yml("stdout"), body=f"SECRET={stack.secret}")
        pr = await the_pr(stack)
        assert "Baton withheld this agent's summary" in pr["body"]
        assert "the webhook secret" in pr["body"]
        assert "Baton withheld this agent's summary" in status
        await assert_nothing_leaked(stack, tmp_path, baton_secrets(stack))


async def test_the_agents_stderr_never_reaches_a_status_comment_carrying_a_secret(
    tmp_path: Path,
) -> None:
    async with Stack(workdir=tmp_path / "stack", settings={"job_max_attempts": "1"}) as stack:
        status = await labeled_run(stack, agents_yml("stderr"), body=f"SECRET={stack.secret}")
        assert "Failed" in status
        assert "Baton withheld this agent's error" in status, status
        assert "the webhook secret (base64)" in status
        await assert_nothing_leaked(stack, tmp_path, baton_secrets(stack))


# -- 4. the network ---------------------------------------------------------------------------


async def test_by_default_the_agent_reaches_neither_baton_github_nor_loopback(
    tmp_path: Path,
) -> None:
    async with Stack(workdir=tmp_path / "stack", settings={"job_max_attempts": "1"}) as stack:
        urls = (stack.baton_url, stack.hub_server.api_url)
        ports = [str(urlsplit(url).port) for url in urls] + ["5432"]
        await labeled_run(stack, agents_yml("network", *ports))
        pr = await the_pr(stack)
        reached = await read_branch(tmp_path, pr, "net.txt")
        assert "connected" not in reached, reached
        assert [line.split(":")[0] for line in reached.splitlines() if ": refused" in line] == ports
        assert "| network | none |" in json.dumps(await check_runs(stack, pr)).replace("\\n", "\n")


async def check_runs(stack: Stack, pr: dict[str, Any]) -> list[dict[str, Any]]:
    async with stack.user(OWNER) as client:
        resp = await client.get(f"repos/{REPO}/commits/{pr['head']['sha']}/check-runs")
        data: list[dict[str, Any]] = resp.json()["check_runs"]
        return data


async def test_a_repository_cannot_point_its_agent_at_another_address(tmp_path: Path) -> None:
    async with Stack(workdir=tmp_path / "stack", settings={"job_max_attempts": "1"}) as stack:
        yml = agents_yml("stdout", base_url=stack.hub_server.api_url)
        status = await labeled_run(stack, yml)
        assert "no agent was started" in status, status
        assert "base_url" in status
        assert "BATON_MODEL_ENDPOINTS" in status or "never a model endpoint" in status
        assert await stack.pulls(REPO) == []


async def test_the_hosts_network_needs_the_orgs_permission_and_shows_in_provenance(
    tmp_path: Path,
) -> None:
    yml = agents_yml("stdout", sandbox={"network": "host"})
    async with Stack(workdir=tmp_path / "stack", settings={"job_max_attempts": "1"}) as stack:
        status = await labeled_run(stack, yml)
        assert "allow_host_network" in status, status
        assert await stack.pulls(REPO) == []
    async with Stack(workdir=tmp_path / "stack2", settings={"job_max_attempts": "1"}) as stack:
        org = "version: 1\nenforce:\n  security: {allow_host_network: true}\n"
        await stack.create_repo(OWNER, ".github", {"agents.yml": org})
        await labeled_run(stack, yml)
        pr = await the_pr(stack)
        assert "Ran with the host's network" in pr["body"]


# -- 5. resources -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "arg", "setting", "why"),
    [
        ("forkbomb", "0", {"run_max_processes": "64"}, "process limit"),
        ("memory", "768", {"run_max_memory": "256M"}, "memory limit"),
        ("bigfile", "300", {"run_max_disk": "96M"}, "disk limit"),
    ],
)
async def test_a_run_that_exhausts_a_resource_ends_with_the_reason(
    tmp_path: Path, mode: str, arg: str, setting: dict[str, str], why: str
) -> None:
    settings = {"job_max_attempts": "1", **setting}
    async with Stack(workdir=tmp_path / "stack", settings=settings) as stack:
        status = await labeled_run(stack, agents_yml(mode, arg))
        assert why in status, status
        assert await stack.pulls(REPO) == []
        health = await _health(stack)
        assert health["ok"] is True  # the server is still healthy
    assert list(tmp_path.rglob("big.bin")) == []


async def _health(stack: Stack) -> dict[str, Any]:
    import httpx  # noqa: PLC0415

    async with httpx.AsyncClient() as client:
        data: dict[str, Any] = (await client.get(f"{stack.baton_url}/healthz")).json()
        return data
