"""The last wall before GitHub: a text carrying a server secret is withheld, a log line masked."""

from __future__ import annotations

import base64
import logging
import secrets
from pathlib import Path

import httpx
import pytest

from bot.github import GitHubApp
from bot.localhub.app import create_localhub
from bot.outbound import MaskingFilter, Outbound, server_secrets
from bot.stack import make_keys
from config.settings import load_settings

pytestmark = pytest.mark.anyio
WEBHOOK = secrets.token_hex(32)


def test_the_servers_secrets_are_its_own_settings_and_its_credential_variables() -> None:
    settings = load_settings({"BATON_WEBHOOK_SECRET": WEBHOOK, "BATON_PRIVATE_KEY": "PEM-1234567"})
    env = {"OPENAI_API_KEY": "sk-x-123456789", "GH_TOKEN": "ghp_y", "PATH": "/usr/bin"}
    found = server_secrets(settings, env)
    assert found["the webhook secret"] == WEBHOOK
    assert found["the App's private key"] == "PEM-1234567"
    assert found["the server's OPENAI_API_KEY"] == "sk-x-123456789"
    assert found["the server's GH_TOKEN"] == "ghp_y"
    assert "the server's PATH" not in found


def test_a_text_with_a_secret_in_any_form_is_withheld_naming_the_rule_and_channel() -> None:
    wall = Outbound({"the webhook secret": WEBHOOK})
    assert wall.check("all good", "comment") == "all good"
    encoded = base64.b64encode(WEBHOOK.encode()).decode()
    notice = wall.check(f"leak: {encoded}", "status comment")
    assert "Baton withheld this status comment" in notice
    assert "the webhook secret (base64)" in notice
    assert WEBHOOK not in notice
    assert encoded not in notice


def test_a_run_adds_its_own_token_and_key_to_what_it_knows() -> None:
    wall = Outbound({"the webhook secret": WEBHOOK}).with_secrets(
        {"the installation token": "ghs_" + "a" * 36, "empty": ""}
    )
    assert "the installation token" in wall.check("x ghs_" + "a" * 36, "comment")
    assert wall.check("nothing", "comment") == "nothing"


def test_log_lines_have_the_secrets_masked(caplog: pytest.LogCaptureFixture) -> None:
    wall = Outbound({"the webhook secret": WEBHOOK})
    logger = logging.getLogger("test.outbound")
    mask = MaskingFilter(wall)
    caplog.handler.addFilter(mask)
    try:
        with caplog.at_level(logging.INFO, logger="test.outbound"):
            logger.info("agent said %s", f"secret={WEBHOOK}")
    finally:
        caplog.handler.removeFilter(mask)
    [record] = caplog.records
    assert WEBHOOK not in record.getMessage()
    assert "secret=***" in record.getMessage()


async def test_every_comment_pr_and_check_run_text_passes_the_wall(tmp_path: Path) -> None:
    """Through the emulator in-process: what GitHub receives never holds the secret."""
    keys = make_keys()
    app = create_localhub(data_dir=tmp_path, webhook_secret=None, public_url="http://hub.test")
    hub = app.state.hub
    hub.create_user("octocat")
    hub.register_app(5, "baton", keys.public_pem, None)
    installation = hub.install(5, "octocat")
    transport = httpx.ASGITransport(app=app)
    github = GitHubApp(
        app_id="5", private_key=keys.private_pem, base_url="http://hub.test/api/v3/",
        transport=transport, outbound=Outbound({"the webhook secret": WEBHOOK}),
    )  # fmt: skip
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test/api/v3/",
                                 headers={"Authorization": "token octocat"}) as user:  # fmt: skip
        (await user.post("user/repos", json={"name": "calc", "auto_init": True})).raise_for_status()
        issue = (await user.post("repos/octocat/calc/issues", json={"title": "t"})).json()
        async with await github.repo(installation, "octocat", "calc") as gh:
            comment_id = await gh.comment(issue["number"], f"done, {WEBHOOK}")
            await gh.edit_comment(comment_id, f"edited {WEBHOOK[::-1]}")
        comments = (await user.get(f"repos/octocat/calc/issues/{issue['number']}/comments")).json()
    [posted] = comments
    assert WEBHOOK not in posted["body"]
    assert WEBHOOK[::-1] not in posted["body"]
    assert "Baton withheld this comment" in posted["body"]
    assert "the webhook secret (reversed)" in posted["body"]
