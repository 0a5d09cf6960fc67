"""The dashboard in a real headless Chromium: sign in through the emulator's GitHub, find a run,
filter, open a running run's page and watch its timeline grow without reloading (and, at the
end, its facts and agent log filled in), see the spend charts and the scoreboard, sign out.
Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING

import pytest

from bot.stack import Stack
from tests.dashboard.browser import artifacts, chromium
from tests.e2e.repo_files import CALC, ISSUE_BODY, ISSUE_TITLE

if TYPE_CHECKING:
    from pathlib import Path

    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
REPO = "octocat/calc"
# An agent that waits for the test to open its page, then fixes add().
GATED = """
import pathlib, sys, time
gate = pathlib.Path(sys.argv[1])
deadline = time.monotonic() + 120
while not gate.exists() and time.monotonic() < deadline:
    time.sleep(0.1)
path = pathlib.Path("calc.py")
path.write_text(path.read_text().replace("return a - b", "return a + b", 1))
print("fixed add() once the page was open")
"""


def agents_yml(script: Path, gate: Path) -> str:
    argv = json.dumps([sys.executable, str(script), str(gate)])
    return (
        "version: 1\n"
        "agents:\n"
        "  demo: {adapter: scripted}\n"
        f"  gated: {{adapter: command, command: {argv}, model: gated-1}}\n"
        "routes:\n"
        "  - when: {label: 'agent:fix'}\n    agent: demo\n"
        "budget: {monthly_usd: 5}\n"
    )


def _wait(driver: WebDriver, what: str, check: object, timeout_s: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    WebDriverWait(driver, timeout_s).until(check, message=what)  # type: ignore[arg-type]


def browse(base: str, live_run: str, done_run: str, gate: Path) -> dict[str, object]:
    """Everything a person does in the browser, in the browser's own thread."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import Select  # noqa: PLC0415

    seen: dict[str, object] = {}
    shots = artifacts()
    driver = chromium()
    try:
        driver.get(f"{base}/runs")
        assert "/login" in driver.current_url
        driver.find_element(By.ID, "github-login").click()
        _wait(driver, "the emulator's authorize page", lambda d: d.find_elements(By.ID, "login"))
        driver.save_screenshot(str(shots / "00-github-authorize.png"))
        driver.find_element(By.ID, "login").send_keys("octocat")
        driver.find_element(By.ID, "authorize").click()
        _wait(driver, "the runs list", lambda d: d.find_elements(By.ID, "runs"))
        seen["viewer"] = driver.find_element(By.ID, "viewer").text
        seen["listed"] = [
            r.get_attribute("data-run") for r in driver.find_elements(By.CSS_SELECTOR, "tr.run")
        ]
        driver.save_screenshot(str(shots / "01-runs.png"))
        # Filter: the scripted agent's finished runs only.
        driver.find_element(By.ID, "f-agent").send_keys("demo")
        Select(driver.find_element(By.ID, "f-status")).select_by_value("success")
        driver.find_element(By.ID, "apply").click()
        _wait(driver, "the filtered list", lambda d: "agent=demo" in d.current_url)
        seen["filtered"] = [
            r.get_attribute("data-run") for r in driver.find_elements(By.CSS_SELECTOR, "tr.run")
        ]
        driver.save_screenshot(str(shots / "02-runs-filtered.png"))
        # The running run, from the list.
        driver.get(f"{base}/runs")
        driver.find_element(By.LINK_TEXT, live_run).click()
        _wait(driver, "the run's page", lambda d: d.find_elements(By.ID, "timeline"))
        seen["live_badge"] = driver.find_element(By.ID, "live").text
        driver.execute_script("window.batonNoReload = true;")
        rows_before = len(driver.find_elements(By.CSS_SELECTOR, "#timeline li"))
        seen["rows_before"] = rows_before
        driver.save_screenshot(str(shots / "03-run-live.png"))
        gate.write_text("go")
        _wait(
            driver,
            "the timeline's end",
            lambda d: any(
                "ended: success" in li.text
                for li in d.find_elements(By.CSS_SELECTOR, "#timeline li")
            ),
            timeout_s=60,
        )
        # Then the page puts its final content in place: the PR, the duration, the agent log.
        _wait(driver, "the run's final facts", lambda d: d.find_elements(By.ID, "pr-link"))
        seen["rows_after"] = len(driver.find_elements(By.CSS_SELECTOR, "#timeline li"))
        seen["no_reload"] = driver.execute_script("return window.batonNoReload === true;")
        seen["status_after"] = driver.find_element(By.ID, "status").text
        seen["duration_after"] = driver.find_element(By.ID, "duration").text
        seen["log_after"] = driver.find_element(By.ID, "agent-log").text
        seen["live_after"] = driver.find_elements(By.ID, "live")
        driver.save_screenshot(str(shots / "04-run-ended.png"))
        driver.get(f"{base}/runs/{done_run}")
        seen["done_text"] = driver.find_element(By.ID, "timeline").text
        driver.save_screenshot(str(shots / "05-run-finished.png"))
        driver.set_window_size(1440, 1700)  # the whole spend page in one screenshot
        driver.get(f"{base}/spend")
        seen["bars"] = {
            chart: len(driver.find_elements(By.CSS_SELECTOR, f"#{chart} svg rect"))
            for chart in ("chart-month", "chart-agent", "chart-repo")
        }
        seen["budgets"] = driver.find_element(By.ID, "budgets").text
        driver.save_screenshot(str(shots / "06-spend.png"))
        driver.set_window_size(1440, 1000)
        driver.get(f"{base}/scoreboard")
        seen["scoreboard"] = [
            row.find_element(By.TAG_NAME, "td").text
            for row in driver.find_elements(By.CSS_SELECTOR, "#scoreboard-agents tbody tr")
        ]
        driver.save_screenshot(str(shots / "07-scoreboard.png"))
        driver.find_element(By.ID, "logout").click()
        _wait(driver, "the login page", lambda d: "/login" in d.current_url)
        driver.get(f"{base}/runs")
        seen["after_logout"] = driver.current_url
    finally:
        driver.quit()
    return seen


async def _running(stack: Stack, repo: str, number: int) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = await stack.runtime.services.store.runs_for_target(repo, number)
        events = [e.kind for r in runs for e in await stack.runtime.services.store.events(r.id)]
        if runs and "brief" in events:  # the agent has its brief: it is running
            return runs[0].id
        await asyncio.sleep(0.1)
    said = await stack.status_comments(repo, number)
    raise AssertionError(f"the gated run never started its agent: {events} {said}")


async def test_the_dashboard_in_chromium(stack: Stack, tmp_path: Path) -> None:
    script, gate = tmp_path / "gated.py", tmp_path / "gate"
    script.write_text(GATED)
    files = {"calc.py": CALC, ".agents.yml": agents_yml(script, gate)}
    await stack.create_repo("octocat", "calc", files)
    first = await stack.open_issue("octocat", REPO, ISSUE_TITLE, ISSUE_BODY)
    await stack.label("octocat", REPO, first, "agent:fix")
    await stack.wait_final(REPO, first)
    [done] = await stack.runtime.services.store.runs_for_target(REPO, first)
    second = await stack.open_issue("octocat", REPO, "add() again", ISSUE_BODY)
    await stack.label("octocat", REPO, second, "agent:gated")  # names the agent
    live = await _running(stack, REPO, second)
    seen = await asyncio.to_thread(browse, stack.baton_url, live, done.id, gate)
    await stack.wait_final(REPO, second)
    assert seen["viewer"] == "octocat (1 repository)"
    assert seen["listed"] == [live, done.id]
    assert seen["filtered"] == [done.id]
    assert seen["live_badge"] == "● live"
    rows_before, rows_after = seen["rows_before"], seen["rows_after"]
    assert isinstance(rows_before, int)
    assert isinstance(rows_after, int)
    assert rows_after > rows_before
    assert seen["no_reload"] is True
    assert seen["status_after"] == "success"
    assert seen["duration_after"] != "\u2013"  # known once the agent ended
    assert "fixed add() once the page was open" in str(seen["log_after"])  # what it printed
    assert seen["live_after"] == []
    assert "pull request #" in str(seen["done_text"])
    # The gated agent reports no cost: it is counted as unknown, never drawn as $0.
    assert seen["bars"] == {"chart-month": 12, "chart-agent": 1, "chart-repo": 1}
    assert "octocat/calc" in str(seen["budgets"])
    assert sorted(seen["scoreboard"]) == ["demo", "gated"]  # type: ignore[call-overload]
    assert "/login" in str(seen["after_logout"])
