"""The challenges page in Debian's headless Chromium at a phone's width: the demo owner fills the form
(console.js turns datetime-local fields and numbers into the API's JSON), the challenge appears in the
list and is switched off, and nothing scrolls sideways. Screenshots go to test-artifacts/challenges/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from console_helpers import browser_sign_in, no_sideways_scroll, screenshots

from service.models import Challenge
from service.platform import db

pytestmark = [pytest.mark.browser]
WAIT = 20

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _set(driver: Any, element_id: str, value: str) -> None:
    """datetime-local inputs take their value more reliably from script than from keystrokes."""
    driver.execute_script("document.getElementById(arguments[0]).value = arguments[1]", element_id, value)


def test_a_challenge_is_made_and_switched_off_on_a_phone(chromium: Callable[..., Any], live: dict[str, Any]) -> None:
    driver = chromium((360, 740))
    browser_sign_in(driver, live["base"], live["owner_email"], live["owner_password"])
    wait = WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,))  # forms reload the page
    driver.get(f"{live['base']}/console/challenges")
    form = wait.until(ec.visibility_of_element_located((By.ID, "challenge-form")))
    assert not no_sideways_scroll(driver)
    form.find_element(By.ID, "challenge-name").send_keys("December challenge")
    form.find_element(By.ID, "challenge-target").send_keys("5")
    _set(driver, "challenge-starts", "2026-12-01T00:00")
    _set(driver, "challenge-ends", "2027-01-01T00:00")
    Select(form.find_element(By.ID, "challenge-bonus")).select_by_value("points")
    form.find_element(By.ID, "challenge-amount").send_keys("100")
    form.find_element(By.ID, "challenge-add").click()
    row = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#challenges tbody tr")))
    assert "December challenge" in row.text and "100 Points" in row.text
    with live["app"].app_context():
        made = db.session().query(Challenge).one()
        assert (made.target, made.bonus_amount, made.starts_at.isoformat()) == (5, 100, "2026-12-01T00:00:00+00:00")
        made_id = made.id
    assert not no_sideways_scroll(driver)
    screenshots(driver, "challenges", "1-made")
    driver.find_element(By.CSS_SELECTOR, f"#switch-{made_id} button").click()
    wait.until(lambda d: "Switch on" in d.find_element(By.ID, f"switch-{made_id}").text)
    driver.get(f"{live['base']}/console/challenges?lang=ru")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ru")
    assert "выключен" in driver.find_element(By.ID, f"challenge-{made_id}").text
    assert not no_sideways_scroll(driver)
    screenshots(driver, "challenges", "2-ru")
