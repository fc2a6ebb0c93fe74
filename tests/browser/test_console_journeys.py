"""The console's journeys section in Debian's headless Chromium at a phone's width, against the
app over real HTTP: a marketer switches the win-back playbook on with one click, switches one of
its journeys off, makes a journey in the plain form (a mistake first: the note shows beside its
field), and opens its report (no holdout: "not causal"). Screenshots at 360 and 1280 px go to
test-artifacts/journeys/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from service.models import Journey
from service.platform import db
from tests.console_helpers import PHONE, add_staff, browser_sign_in, no_sideways_scroll, screenshots

WAIT = 20
EMAIL = "marketer@demo.example"

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def visible(driver: Any, element_id: str) -> Any:
    return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.ID, element_id)))


def click(driver: Any, element: Any) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def test_a_marketer_switches_a_playbook_on_and_makes_a_journey(chromium: Callable[..., Any],
                                                                 live: dict[str, Any]) -> None:
    base, app = live["base"], live["app"]
    add_staff(app, EMAIL, "marketer")
    driver = chromium(PHONE)
    browser_sign_in(driver, base, EMAIL)
    driver.get(f"{base}/console/journeys?lang=en")
    visible(driver, "journeys-none")
    assert not no_sideways_scroll(driver)
    screenshots(driver, "journeys", "1-empty")

    click(driver, driver.find_element(By.ID, "playbook-on-win_back"))
    WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#journeys-table tbody tr")) == 3)
    rows = driver.find_elements(By.CSS_SELECTOR, "#journeys-table tbody tr")
    assert len(rows) == 3 and all(row.get_attribute("data-enabled") == "true" for row in rows)
    assert driver.find_element(By.CSS_SELECTOR, '[data-playbook="win_back"]').get_attribute("data-state") == "on"
    first = rows[0].get_attribute("data-journey-id")
    click(driver, rows[0].find_element(By.CSS_SELECTOR, ".journey-switch button"))
    WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: d.find_element(
        By.CSS_SELECTOR, f'tr[data-journey-id="{first}"]').get_attribute("data-enabled") == "false")
    assert not no_sideways_scroll(driver)
    screenshots(driver, "journeys", "2-list")

    click(driver, driver.find_element(By.ID, "journeys-new"))
    visible(driver, "name").send_keys("Tenth visit")
    Select(driver.find_element(By.ID, "trigger")).select_by_value("nth_visit")
    driver.find_element(By.ID, "message_text").send_keys("{name}, your tenth visit: thank you!")
    driver.find_element(By.ID, "message_ru").send_keys("{name}, это ваш десятый визит: спасибо!")
    holdout = driver.find_element(By.ID, "holdout_percent")
    holdout.clear()
    holdout.send_keys("0")
    click(driver, driver.find_element(By.ID, "journey-save"))  # no visit number yet
    note = visible(driver, "error-trigger_value")
    assert "visits" in note.text
    assert driver.find_element(By.ID, "trigger_value").get_attribute("aria-invalid") == "true"
    assert driver.find_element(By.ID, "message_ru").get_attribute("value").startswith("{name}, это")
    assert not no_sideways_scroll(driver)
    screenshots(driver, "journeys", "3-form-error")
    driver.find_element(By.ID, "trigger_value").send_keys("10")
    click(driver, driver.find_element(By.ID, "journey-save"))
    visible(driver, "journeys-saved")
    with app.app_context():
        journey = db.session().scalar(select(Journey).where(Journey.name == "Tenth visit"))
        assert journey is not None and (journey.trigger, journey.trigger_value) == ("nth_visit", 10)
        journey_id = journey.id

    driver.get(f"{base}/console/journeys/{journey_id}")
    assert "not causal" in visible(driver, "lift-not-causal").text
    assert not no_sideways_scroll(driver)
    screenshots(driver, "journeys", "4-report")
