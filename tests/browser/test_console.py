"""The console shell in Debian's headless Chromium at 360 px: the demo owner signs in, lands on
the dashboard inside the console's frame (the figures come through the session cookie, no API
key), opens the team page, switches to Russian. Screenshots go to test-artifacts/console/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
PHONE = (360, 740)
WAIT = 20

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def visible(driver: Any, element_id: str) -> Any:
    return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.ID, element_id)))


def screenshot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE[0], "height": int(height), "deviceScaleFactor": 1, "mobile": False})
    assert driver.save_screenshot(str(ARTIFACTS / f"{name}-{PHONE[0]}x{PHONE[1]}.png"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": False})


def no_sideways_scroll(driver: Any) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > "
        "document.documentElement.clientWidth + 1 && !e.closest('.scroll') && !e.closest('.skip'))"
        ".map((e) => e.tagName + '#' + e.id)")


def test_the_demo_owner_signs_in_and_opens_the_dashboard_on_a_phone(chromium: Callable[..., Any],
                                                                     live: dict[str, Any]) -> None:
    driver = chromium(PHONE)
    driver.get(live["console_url"].replace(live["base_url"], live["base"]))
    visible(driver, "email").send_keys(live["owner_email"])
    assert driver.find_element(By.CSS_SELECTOR, "label[for=password]").text == "Password"
    screenshot(driver, "1-sign-in")
    driver.find_element(By.ID, "password").send_keys(live["owner_password"], Keys.ENTER)

    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#tiles div"))
    assert driver.current_url.endswith("/console/dashboard")
    assert "Demo Coffee" in driver.find_element(By.CSS_SELECTOR, ".top .brand").text
    assert not no_sideways_scroll(driver)
    screenshot(driver, "2-dashboard")

    driver.find_element(By.LINK_TEXT, "Team").click()
    visible(driver, "invite-email")
    assert live["owner_email"] in driver.find_element(By.ID, "members-title").find_element(
        By.XPATH, "..").text
    assert not no_sideways_scroll(driver)
    screenshot(driver, "3-team")

    driver.find_element(By.LINK_TEXT, "RU").click()
    WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ru")
    assert driver.find_element(By.ID, "members-title").text == "Участники"
    screenshot(driver, "4-team-ru")
