"""Headless Chromium driven by Selenium through Debian's chromedriver (the versions match), and
where its screenshots go: `test-artifacts/dashboard/` (or `$BATON_TEST_ARTIFACTS/dashboard/`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def artifacts() -> Path:
    base = Path(os.environ.get("BATON_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder = base / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium() -> WebDriver:
    """A headless browser; as root Chromium needs --no-sandbox. Missing Chromium fails the test
    when the suite runs as root (its setup installs it), and skips it otherwise, saying why."""
    if shutil.which(CHROMIUM) is None or shutil.which(CHROMEDRIVER) is None:
        message = "Chromium is missing: apt-get install chromium chromium-driver"
        if os.geteuid() == 0:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.options import Options  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--window-size=1440,1000",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    # Selenium Manager never downloads a driver: Debian's is named.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
