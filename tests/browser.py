"""Headless Chromium for the browser tests (Debian's `chromium` and `chromium-driver`, never a
downloaded browser): `make setup` installs them; without them the tests skip, saying so.

    from tests.browser import chromium, console_errors, network_requests

    @pytest.fixture(scope="module")
    def browser():
        with chromium() as driver:   # skips the module's tests when Chromium is missing
            yield driver

    browser.get(page.as_uri())
    assert console_errors(browser) == []
    assert network_requests(browser) == [page.as_uri()]
"""
import contextlib
import json
import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SKIP_REASON = "chromium/chromedriver not installed: run `make setup`"


@contextlib.contextmanager
def chromium(width=1400, height=900):
    """A headless Chromium WebDriver, logging the console and the network (goog:loggingPrefs),
    quit on exit. Calls pytest.skip when selenium, chromium or chromedriver is missing."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip(SKIP_REASON + " (selenium is missing)")
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not os.access(binary, os.X_OK):
            pytest.skip(f"{SKIP_REASON} ({binary} is missing)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},{height}", "--hide-scrollbars",
                 # no background traffic of the browser's own, so the network log is the page's
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-extensions"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver):
    """The console messages of level SEVERE since the last call (JS errors, failed loads)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def network_requests(driver):
    """The URLs the page requested since the last call (Network.requestWillBeSent)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
