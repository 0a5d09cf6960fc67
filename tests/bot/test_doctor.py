"""`baton doctor` against the emulator: all ✓, then each way of being wrong is the one ✗."""

from __future__ import annotations

import base64
import io
import sqlite3
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import httpx
import pytest

from adapters.runlimits import Enforced
from adapters.sandbox import SandboxStatus
from adapters.toolchain import HARNESSES, prefix_bin
from bot.cli import build_parser
from bot.database import open_database
from bot.doctor.checks import Probes
from bot.doctor.report import doctor
from bot.localhub.app import create_localhub
from bot.stack import AppKeys, make_keys

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from adapters.base import Resources
    from bot.localhub.hub import Hub

BASE = "http://localhub.test"
API = f"{BASE}/api/v3/"
PUBLIC = "https://baton.example.org"
APP_ID = 31
OWNER = "octocat"
SECRET = "whsec-never-printed"
MODEL_KEY = "sk-ant-never-printed"
ORG_FILE = "version: 1\ndefaults:\n  agents:\n    claude-code:\n      model: claude-sonnet-4-5\n"

pytestmark = pytest.mark.anyio


async def _bubblewrap_runs() -> SandboxStatus:
    return SandboxStatus(ok=True, reason="bubblewrap runs")


async def _limits(resources: Resources, sandboxed: bool) -> list[Enforced]:
    del sandboxed
    limit = f"processes ({resources.processes} per run)"
    return [Enforced(limit, "cgroup v2 pids.max", enforced=True)]


@dataclass(frozen=True, slots=True)
class World:
    hub: Hub
    transport: httpx.AsyncBaseTransport
    env: dict[str, str]
    probes: Probes
    tmp: Path


@dataclass(frozen=True, slots=True)
class Report:
    code: int
    text: str

    @property
    def failures(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.startswith("✗")]

    def advice_after(self, failure: str) -> str:
        lines = self.text.splitlines()
        return lines[lines.index(failure) + 1]


@pytest.fixture(scope="module")
def keys() -> AppKeys:
    return make_keys()


@dataclass(slots=True)
class Receiver:
    """Where the emulator delivers webhooks: it answers `status` (a test may change it)."""

    status: int = 202

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(lambda _request: httpx.Response(self.status))


def _fake_claude(prefix: Path) -> Path:
    """A stand-in for the pinned Claude Code CLI: it only answers `--version`."""
    pinned = HARNESSES["claude-code"]
    path = prefix_bin(pinned, prefix)
    path.parent.mkdir(parents=True)
    path.write_text(f"#!/bin/sh\necho '{pinned.version} (Claude Code)'\n")
    path.chmod(0o755)
    return path


async def _world(tmp: Path, keys: AppKeys, receiver: Receiver | None = None) -> World:
    app = create_localhub(
        data_dir=tmp / "hub",
        webhook_secret=SECRET.encode(),
        public_url=BASE,
        webhook_transport=(receiver or Receiver()).transport(),
    )
    hub: Hub = app.state.hub
    hub.create_user(OWNER)
    hub.register_app(APP_ID, "baton", keys.public_pem, f"{PUBLIC}/webhooks")
    hub.install(APP_ID, OWNER)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"token {OWNER}"}
    async with httpx.AsyncClient(transport=transport, base_url=API, headers=headers) as user:
        for name in ("calc", ".github"):
            (
                await user.post("user/repos", json={"name": name, "auto_init": True})
            ).raise_for_status()
        content = base64.b64encode(ORG_FILE.encode()).decode()
        put = await user.put(
            f"repos/{OWNER}/.github/contents/agents.yml",
            json={"message": "org config", "content": content},
        )
        put.raise_for_status()
    await hub.wait_for_deliveries(timeout_s=5)
    key_file = tmp / "app.pem"
    key_file.write_text(keys.private_pem)
    database = tmp / "baton.db"
    open_database(f"sqlite:///{database}").close()
    prefix = tmp / "agents"
    _fake_claude(prefix)
    env = {
        "BATON_APP_ID": str(APP_ID),
        "BATON_PRIVATE_KEY_PATH": str(key_file),
        "BATON_WEBHOOK_SECRET": SECRET,
        "BATON_GITHUB_URL": API,
        "BATON_DATABASE_URL": f"sqlite:///{database}",
        "ANTHROPIC_API_KEY": MODEL_KEY,
    }
    probes = Probes(sandbox=_bubblewrap_runs, limits=_limits, agents_prefix=prefix)
    return World(hub=hub, transport=transport, env=env, probes=probes, tmp=tmp)


@pytest.fixture
async def world(tmp_path: Path, keys: AppKeys) -> AsyncIterator[World]:
    made = await _world(tmp_path, keys)
    try:
        yield made
    finally:
        await made.hub.dispatcher.aclose()


async def _doctor(
    world: World, *, public_url: str = PUBLIC, transport: httpx.AsyncBaseTransport | None = None,
    **env: str,
) -> Report:  # fmt: skip
    out = io.StringIO()
    code = await doctor(
        env={**world.env, **env},
        public_url=public_url,
        out=out,
        probes=world.probes,
        transport=transport or world.transport,
    )
    return Report(code, out.getvalue())


def _the_one_failure(report: Report, name: str) -> str:
    assert report.code != 0
    assert len(report.failures) == 1, report.text
    (failure,) = report.failures
    assert failure.startswith(f"✗ {name}:"), report.text
    advice = report.advice_after(failure)
    assert advice.startswith("    → "), report.text
    return advice


async def test_everything_in_order_is_all_checks_passed(world: World, keys: AppKeys) -> None:
    report = await _doctor(world)

    assert report.code == 0, report.text
    assert report.failures == []
    assert "✓ installations: octocat (2 repositories)" in report.text
    assert f"✓ webhook: JSON to {PUBLIC}/webhooks" in report.text
    assert "✓ settings repository octocat/.github: octocat/.github:agents.yml is valid" in (
        report.text
    )
    assert "✓ agent claude-code:" in report.text
    assert report.text.endswith("all checks passed\n")
    for secret in (SECRET, MODEL_KEY, keys.private_pem.splitlines()[1]):
        assert secret not in report.text


async def test_an_org_without_a_settings_repository_passes_with_a_note(world: World) -> None:
    # Most orgs have none: each repository's .agents.yml is then the whole config.
    report = await _doctor(world, BATON_SETTINGS_REPO="baton-settings")

    assert report.code == 0, report.text
    assert (
        "· settings repository octocat/baton-settings: none (octocat/baton-settings:agents.yml "
        "not found, or the App is not installed on it): each repository's own .agents.yml "
        "applies; for org-wide agents and budgets create octocat/baton-settings with an "
        "agents.yml and install the App on it"
    ) in report.text.splitlines()
    assert report.text.endswith("all checks passed\n")


async def test_a_key_of_another_app_is_the_identity_failure(world: World) -> None:
    other = world.tmp / "other.pem"
    other.write_text(make_keys().private_pem)

    report = await _doctor(world, BATON_PRIVATE_KEY_PATH=str(other))

    advice = _the_one_failure(report, "app identity")
    assert "generate a new private key" in advice
    assert "- installations: not checked" in report.text


async def test_a_key_that_is_not_a_key_is_the_private_key_failure(world: World) -> None:
    broken = world.tmp / "broken.pem"
    broken.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")

    report = await _doctor(world, BATON_PRIVATE_KEY_PATH=str(broken))

    assert "BATON_PRIVATE_KEY_PATH" in _the_one_failure(report, "private key")
    assert "- app identity: not checked" in report.text


async def test_the_app_id_of_another_app_is_the_identity_failure(
    world: World, keys: AppKeys
) -> None:
    world.hub.register_app(32, "other", make_keys().public_pem, None)
    del keys

    report = await _doctor(world, BATON_APP_ID="32")

    assert "BATON_APP_ID" in _the_one_failure(report, "app identity")


async def test_an_app_id_that_is_not_a_number_is_refused_before_github(world: World) -> None:
    report = await _doctor(world, BATON_APP_ID="baton")

    assert "App ID" in _the_one_failure(report, "app id")


async def test_an_unreachable_github_is_the_github_failure(world: World) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    report = await _doctor(world, transport=httpx.MockTransport(refuse))

    assert "BATON_GITHUB_URL" in _the_one_failure(report, "GitHub")
    assert "- webhook: not checked: GitHub is not reachable" in report.text


async def test_a_webhook_url_elsewhere_is_the_webhook_failure(world: World) -> None:
    report = await _doctor(world, public_url="https://elsewhere.example.org")

    advice = _the_one_failure(report, "webhook")
    assert "https://elsewhere.example.org/webhooks" in advice


async def test_a_missing_agent_cli_is_that_agents_failure(world: World) -> None:
    prefix_bin(HARNESSES["claude-code"], world.tmp / "agents").unlink()

    report = await _doctor(world)

    assert "baton agents install claude-code" in _the_one_failure(report, "agent claude-code")


async def test_a_missing_model_key_is_that_agents_failure(world: World) -> None:
    env = dict(world.env)
    del env["ANTHROPIC_API_KEY"]

    report = await _doctor(replace(world, env=env))

    assert "ANTHROPIC_API_KEY" in _the_one_failure(report, "agent claude-code")


async def test_failed_deliveries_are_the_deliveries_failure(tmp_path: Path, keys: AppKeys) -> None:
    world = await _world(tmp_path, keys, Receiver(503))
    try:
        report = await _doctor(world)
    finally:
        await world.hub.dispatcher.aclose()

    assert "`baton deliveries --failed` lists them" in _the_one_failure(report, "deliveries")
    assert "Invalid HTTP Response: 503" in report.text


async def test_a_redelivered_failure_that_then_succeeded_is_not_counted(
    tmp_path: Path, keys: AppKeys
) -> None:
    receiver = Receiver(503)
    world = await _world(tmp_path, keys, receiver)
    try:
        receiver.status = 202  # the server is back: each failed delivery is redelivered
        for delivery in world.hub.deliveries:
            await world.hub.redeliver(delivery.id)
        await world.hub.wait_for_deliveries(timeout_s=5)
        report = await _doctor(world)
    finally:
        await world.hub.dispatcher.aclose()

    assert report.code == 0, report.text


async def test_a_missing_database_is_reported_and_not_created(world: World) -> None:
    missing = world.tmp / "nowhere.db"

    report = await _doctor(world, BATON_DATABASE_URL=f"sqlite:///{missing}")

    assert "baton db upgrade" in _the_one_failure(report, "database")
    assert not missing.exists()


async def test_a_database_behind_on_migrations_says_to_upgrade(world: World) -> None:
    old = world.tmp / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER, name TEXT, applied_at)")
        conn.execute("INSERT INTO schema_migrations VALUES (1, 'first', 0)")

    report = await _doctor(world, BATON_DATABASE_URL=f"sqlite:///{old}")

    assert "baton db upgrade" in _the_one_failure(report, "database")


async def test_unusable_bubblewrap_is_the_sandbox_failure(world: World) -> None:
    async def cannot() -> SandboxStatus:
        return SandboxStatus(ok=False, reason="bubblewrap cannot run here: no user namespaces")

    report = await _doctor(replace(world, probes=replace(world.probes, sandbox=cannot)))

    assert "BATON_SANDBOX=none" in _the_one_failure(report, "sandbox")


def test_doctor_is_a_baton_command_with_a_public_url_option() -> None:
    args = build_parser().parse_args(["doctor", "--public-url", PUBLIC])
    assert args.public_url == PUBLIC
    assert callable(args.func)
    assert args.func.__module__ == "bot.doctor.report"
