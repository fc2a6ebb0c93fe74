"""Headless Chromium for the browser tests: one way to start it, with the same flags everywhere.

The machine running the tests may have no network at all, so Chromium is told not to reach
out by itself (background networking, component updates, sync, QUIC); every page under test
is served by the app on loopback.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.platform import migrate

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PHONE = (360, 740)

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage")


def detached_nodes_are_stale() -> Any:
    """An error handler that says what Chromium means. Asked about an element its page has just
    replaced (a console form's reload), Chromium's DevTools sometimes answer "unknown error:
    unhandled inspector error: ... Node with given id does not belong to the document", a plain
    WebDriverException, where WebDriver's word is a stale element. Raised as
    StaleElementReferenceException, every wait across a reload (Selenium's expected conditions,
    and waits told to ignore stale elements) takes it as "not yet", as it does for the other.
    Two CI runs each lost a different browser test to it."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.remote.errorhandler import ErrorHandler

    class DetachedNodeIsStale(ErrorHandler):
        def check_response(self, response: dict[str, Any]) -> None:
            try:
                super().check_response(response)
            except StaleElementReferenceException:
                raise
            except WebDriverException as error:
                if "does not belong to the document" not in str(error):
                    raise
                raise StaleElementReferenceException(error.msg, error.screen, error.stacktrace) from error

    return DetachedNodeIsStale()


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """`chromium(size)` starts headless Chromium with a `size` viewport; all of them quit after the test.

    flags: more command-line flags (after the common ones); prefs: profile preferences;
    capabilities: WebDriver capabilities; mobile: the viewport's mobile flag, None for no
    viewport override; downloads: a directory that downloads go to without asking;
    disable_quic: False leaves --disable-quic out (the API docs test never had it).
    """
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (`make browser` installs them)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")

    drivers: list[Any] = []

    def start(size: tuple[int, int] = PHONE, *, flags: tuple[str, ...] = (), prefs: dict[str, Any] | None = None,
              capabilities: dict[str, Any] | None = None, mobile: bool | None = False,
              downloads: Path | None = None, disable_quic: bool = True) -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        profile = tmp_path / f"profile-{len(drivers)}"
        common = FLAGS if disable_quic else tuple(flag for flag in FLAGS if flag != "--disable-quic")
        for flag in (*common, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", *flags):
            options.add_argument(flag)
        prefs = dict(prefs or {})
        if downloads is not None:
            prefs.update({"download.default_directory": str(downloads), "download.prompt_for_download": False})
        if prefs:
            options.add_experimental_option("prefs", prefs)
        for name, value in (capabilities or {}).items():
            options.set_capability(name, value)
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
        driver.error_handler = detached_nodes_are_stale()
        drivers.append(driver)
        if mobile is not None:
            # --window-size includes no browser chrome in headless mode, but pin the viewport exactly.
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": mobile})
        if downloads is not None:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        return driver

    yield start
    for driver in drivers:
        driver.quit()
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite only, also when TEST_DATABASE_URL is set: a browser journey drives the same API
    routes the API tests run on both databases, so a second run on PostgreSQL doubled the
    slowest part of the suite and tested no query twice. (Overrides tests/conftest.py's.)"""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'test.db'}"
    migrate.upgrade(url)
    yield url
