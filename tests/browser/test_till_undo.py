"""The till's safeguards on the cashier's page in headless Chromium: Undo after a transaction
(while the program's undo window lasts) and a limit's refusal in the page's own words.
Screenshots go to test-artifacts/cashier/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.test_cashier_page import (  # noqa: F401 - `till` is the fixture
    PHONE,
    screenshot,
    sign_in,
    status_text,
    till,
    visible,
    wait,
)
from tests.helpers import bearer

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


def test_a_stamp_is_undone_at_the_till_and_a_second_one_today_is_refused_plainly(
        chromium: Callable[..., Any], till: dict[str, Any]) -> None:  # noqa: F811
    http, base, key = till["http"], till["base"], bearer(till["api_key"])
    program = http.post(f"{base}/api/v1/programs", headers=key, json={
        "name": "Once a day", "kind": "stamps", "stamps_required": 10, "earn_once_per_hours": 24,
        "undo_window_minutes": 10}).json()
    card = http.post(f"{base}/api/v1/programs/{program['id']}/cards", headers=key,
                     json={"customer": {"name": "Una Undo"}}).json()
    driver = chromium()
    sign_in(driver, base, till["cashier_token"])
    driver.switch_to.active_element.send_keys(card["barcode_message"], Keys.ENTER)
    assert visible(driver, "holder").text == "Una Undo"
    assert not driver.find_element(By.ID, "undo").is_displayed()

    visible(driver, "stamps").send_keys(Keys.ENTER)
    visible(driver, "confirm-yes").click()
    assert "New balance: 1 of 10 stamps." in status_text(driver, r"Card updated;")
    assert visible(driver, "undo-button").text == "Undo"
    assert driver.find_element(By.ID, "undo-until").text.startswith("You can undo this until ")
    screenshot(driver, "5-undo-offered", PHONE)
    visible(driver, "undo-button").click()
    assert "Undone. New balance: 0 of 10 stamps." in status_text(driver, r"^Undone\.")
    wait(driver).until(lambda d: d.find_element(By.ID, "balance").text == "0 of 10 stamps")
    assert not driver.find_element(By.ID, "undo").is_displayed()
    assert "undone" in driver.find_element(By.ID, "recent").text

    visible(driver, "stamps").send_keys(Keys.ENTER)  # the undone stamp does not count: this one passes
    visible(driver, "confirm-yes").click()
    status_text(driver, r"Card updated;")
    visible(driver, "stamps").send_keys(Keys.ENTER)
    visible(driver, "confirm-yes").click()
    refusal = status_text(driver, r"already earned recently")
    assert refusal.startswith("This card has already earned recently; the next can be given from ")
    assert refusal.endswith("Nothing was posted.")
    screenshot(driver, "5-limit-refused", PHONE)
    answer = http.get(f"{base}/api/v1/cards/{card['id']}", headers=key).json()
    assert answer["stamps"] == 1
    refusals = http.get(f"{base}/api/v1/programs/{program['id']}/refusals", headers=key).json()
    assert refusals["by_rule"]["once_per_hours"] == 1
