"""A real headless browser for integration tests: Debian's Chromium, driven by selenium.

``open_browser`` starts ``chromedriver`` and a headless ``chromium`` (both from Debian:
``apt-get install chromium chromium-driver``), with their paths given explicitly so that
selenium never looks for or downloads a driver of its own. Tests get it through the
``browser`` fixture (``conftest.py``), which skips with the reason when either program or
the ``selenium`` package is missing, and quits the browser afterwards.

Waiting is ``wait_for``: a poll with a deadline whose failure says what was awaited and
what the page showed, never a sleep.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

__all__ = ["BROWSER_MISSING", "open_browser", "wait_for"]

CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
PAGE_LOAD_TIMEOUT_S = 30
POLL_S = 0.2

T = TypeVar("T")


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if CHROMIUM is None:
        return "headless Chromium is not installed (apt-get install chromium)"
    if CHROMEDRIVER is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


BROWSER_MISSING = _missing()
"""Why no browser test can run here, or ``None`` when everything is installed."""


def open_browser(profile: Path, log: Path) -> Any:
    """A headless Chromium (a selenium ``WebDriver``) with its profile in ``profile`` and the
    driver's log in ``log``; skips the test when the browser or the driver is missing."""
    if BROWSER_MISSING is not None:
        pytest.skip(BROWSER_MISSING)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for switch in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-extensions", "--disable-background-networking", "--disable-sync",
        "--disable-component-update", "--no-first-run", "--no-default-browser-check",
        "--window-size=1400,1000", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(switch)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(log))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
    return driver


def wait_for(
    check: Callable[[], T | None],
    deadline_s: float,
    what: str,
    *,
    shown: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy (returned), for ``deadline_s`` at
    most; then fail, naming ``what`` was awaited and, with ``shown``, what was on screen."""
    import time

    deadline = time.monotonic() + deadline_s
    while True:
        try:
            found = check()
        except Exception as exc:  # a stale element while React re-renders: look again
            if type(exc).__name__ not in {
                "StaleElementReferenceException",
                "NoSuchElementException",
            }:
                raise
            found = None
        if found:
            return found
        if time.monotonic() >= deadline:
            seen = f"; the page showed:\n{shown()}" if shown is not None else ""
            pytest.fail(f"no {what} within {deadline_s} s{seen}")
        time.sleep(POLL_S)
