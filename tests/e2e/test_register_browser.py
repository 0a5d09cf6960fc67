"""In a real headless Chromium: `baton register`'s page, GitHub's (the emulator's) new-app form,
the way back with the code, and installing the App; and the emulator's views of what agents
wrote, where nothing hostile runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from bot.localhub.server import LocalHubServer
from config.dotenv import parse
from tests.dashboard.browser import chromium
from tests.procs import LineReader

pytestmark = pytest.mark.slow

BATON = str(Path(sys.executable).with_name("baton"))
ORG = "acme"
ADMIN = "octocat"
HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture
def github(tmp_path: Path) -> Iterator[LocalHubServer]:
    server = LocalHubServer(data_dir=tmp_path / "github", webhook_secret=None)
    server.start()
    server.hub.create_org(ORG, members=[ADMIN])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def _wait_title(driver: WebDriver, words: str) -> None:
    WebDriverWait(driver, 30).until(lambda d: words in d.title)


def test_register_and_install_in_a_browser(
    github: LocalHubServer, browser: WebDriver, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    argv = [
        BATON,
        "register",
        "--org",
        ORG,
        "--public-url",
        "https://baton.acme.example",
        "--github-url",
        github.url,
    ]
    with subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE) as proc:
        try:
            assert proc.stdout is not None
            printed = LineReader(proc.stdout).read_until("Waiting", timeout_s=60)
            browser.get(printed.split("Open ", 1)[1].split()[0])
            _wait_title(browser, "Register Baton's GitHub App")
            browser.find_element(By.TAG_NAME, "button").click()

            _wait_title(browser, "Create GitHub App")  # GitHub's page, for the org
            assert "https://baton.acme.example/webhooks" in browser.page_source
            browser.find_element(By.NAME, "login").send_keys(ADMIN)
            browser.find_element(By.TAG_NAME, "button").click()

            _wait_title(browser, "Registered")  # back on the local page, settings written
            browser.find_element(By.LINK_TEXT, "install it").click()
            _wait_title(browser, "Install")
            assert [o.text for o in Select(browser.find_element(By.NAME, "account")).options] == [
                ORG
            ]
            browser.find_element(By.TAG_NAME, "button").click()
            _wait_title(browser, "Installed")
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()

    settings = parse((tmp_path / ".env").read_text())
    (app,) = github.hub.apps.values()
    assert settings["BATON_APP_ID"] == str(app.id)
    assert github.hub.installation_for(app.id, ORG) is not None


def test_what_agents_wrote_is_shown_and_never_run(
    github: LocalHubServer, browser: WebDriver
) -> None:
    headers = {"Authorization": f"token {ADMIN}"}
    with httpx.Client(base_url=github.api_url, headers=headers, timeout=30) as user:
        made = user.post(f"orgs/{ORG}/repos", json={"name": "calc", "auto_init": True})
        assert made.status_code == 201, made.text
        issue = user.post(f"repos/{ORG}/calc/issues", json={"title": "Hostile", "body": HOSTILE})
        number = issue.json()["number"]
        user.post(f"repos/{ORG}/calc/issues/{number}/comments", json={"body": HOSTILE})

    browser.get(f"{github.url}/{ORG}/calc/issues/{number}")
    _wait_title(browser, "Hostile")

    assert browser.title == "Hostile · #1 · localhub"  # no script changed it
    shown = [e.text for e in browser.find_elements(By.TAG_NAME, "pre")]
    assert shown == [HOSTILE, HOSTILE]  # the markup is text on the page
    assert browser.find_elements(By.TAG_NAME, "img") == []
