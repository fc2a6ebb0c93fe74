"""The till redeems a coupon the customer holds (headless Chromium, the app over real HTTP): the
scan lists it with its last day, Redeem asks to confirm, the list empties, and the second till
that still shows it is told it was already redeemed. In Russian too; at 360 px the button fits.
Screenshots go to test-artifacts/cashier/."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.test_cashier_page import PHONE, screenshot, sign_in, status_text, till, visible, wait  # noqa: F401
from tests.helpers import bearer

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


def test_the_till_lists_a_coupon_and_redeems_it_once(chromium: Callable[..., Any], till: dict[str, Any]) -> None:  # noqa: F811
    http, base, key = till["http"], till["base"], bearer(till["api_key"])
    card = till["card"]
    granted = http.post(f"{base}/api/v1/cards/{card['id']}/coupons", json={
        "name": "Free cinnamon bun", "expires_at": "2099-12-12T12:00:00Z"},
        headers={**key, "Idempotency-Key": str(uuid.uuid4())})
    assert granted.status_code == 201, granted.text
    driver = chromium()
    sign_in(driver, base, till["cashier_token"])
    driver.switch_to.active_element.send_keys(card["barcode_message"], Keys.ENTER)
    visible(driver, "reward-box")
    rows = driver.find_elements(By.CSS_SELECTOR, "#reward-list li")
    assert len(rows) == 1 and "Free cinnamon bun" in rows[0].text and "until Dec 12, 2099" in rows[0].text
    button = rows[0].find_element(By.TAG_NAME, "button")
    screenshot(driver, "5-reward-to-redeem", PHONE)
    # at 360 px the Redeem button stays inside the card's panel
    panel = driver.find_element(By.ID, "card").rect
    assert button.rect["x"] + button.rect["width"] <= panel["x"] + panel["width"] + 1
    assert button.text == "Redeem"
    button.click()
    assert visible(driver, "confirm-text").text.startswith("Redeem “Free cinnamon bun” for ")
    visible(driver, "confirm-yes").click()
    assert "Redeemed: Free cinnamon bun." in status_text(driver, r"Redeemed:")
    wait(driver).until(lambda d: not d.find_element(By.ID, "reward-box").is_displayed())
    held = http.get(f"{base}/api/v1/cards/{card['id']}/rewards?state=all", headers=key).json()
    assert [(r["name"], r["state"]) for r in held] == [("Free cinnamon bun", "redeemed")]

    # a second coupon, shown on a till in Russian, redeemed meanwhile at another till
    http.post(f"{base}/api/v1/cards/{card['id']}/coupons", json={"name": "Cookie"},
              headers={**key, "Idempotency-Key": str(uuid.uuid4())})
    driver.get(f"{base}/cashier?lang=ru")
    visible(driver, "code").send_keys(card["barcode_message"], Keys.ENTER)
    visible(driver, "reward-box")
    (row,) = driver.find_elements(By.CSS_SELECTOR, "#reward-list li")
    assert row.find_element(By.TAG_NAME, "button").text == "Выдать"
    coupon = http.get(f"{base}/api/v1/cards/{card['id']}/rewards", headers=key).json()[0]
    elsewhere = http.post(f"{base}/api/v1/cards/{card['id']}/rewards/{coupon['id']}/redeem", json={},
                          headers={**bearer(till["cashier_token"]), "Idempotency-Key": str(uuid.uuid4())})
    assert elsewhere.status_code == 201
    row.find_element(By.TAG_NAME, "button").click()
    assert "Выдать «Cookie»" in visible(driver, "confirm-text").text
    visible(driver, "confirm-yes").click()
    assert "already redeemed" in status_text(driver, r"already redeemed")
    screenshot(driver, "5-reward-already-redeemed-ru", PHONE)


def test_the_till_buys_a_reward_with_points_and_it_is_then_to_redeem(
        chromium: Callable[..., Any], till: dict[str, Any]) -> None:  # noqa: F811
    http, base, key = till["http"], till["base"], bearer(till["api_key"])
    card = till["card"]
    program_id = http.get(f"{base}/api/v1/cards/{card['id']}", headers=key).json()["program_id"]
    for name, cost in (("Espresso", 30), ("Big breakfast", 5000)):
        assert http.post(f"{base}/api/v1/programs/{program_id}/rewards", headers=key,
                         json={"name": name, "cost_points": cost}).status_code == 201
    http.post(f"{base}/api/v1/cards/{card['id']}/transactions", json={"type": "earn", "points": 40},
              headers={**key, "Idempotency-Key": str(uuid.uuid4())})
    driver = chromium()
    sign_in(driver, base, till["cashier_token"])
    driver.switch_to.active_element.send_keys(card["barcode_message"], Keys.ENTER)
    visible(driver, "offer-box")
    rows = driver.find_elements(By.CSS_SELECTOR, "#offer-list li")
    assert [row.text.split("\n")[0] for row in rows] == ["Espresso", "Big breakfast"]
    espresso, breakfast = (row.find_element(By.TAG_NAME, "button") for row in rows)
    assert espresso.is_enabled() and not breakfast.is_enabled()  # 40 points reach 30, not 5000
    espresso.click()
    assert visible(driver, "confirm-text").text.startswith("Buy “Espresso” for 30 points")
    visible(driver, "confirm-yes").click()
    status = status_text(driver, r"Bought:")
    assert "Bought: Espresso" in status and "New balance: 10 points." in status
    wait(driver).until(lambda d: "Espresso" in d.find_element(By.ID, "reward-list").text)
    screenshot(driver, "5-reward-bought", PHONE)
