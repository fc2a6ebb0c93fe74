"""The members pages in Debian's headless Chromium: the demo owner searches a demo customer, opens the
card, adjusts points with a reason (console.js posts it to the brand API with an Idempotency-Key)
and sees the ledger row, and reads why the phone has not updated. Screenshots at 360 and 1280 px go
to test-artifacts/members/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from console_helpers import browser_sign_in, no_sideways_scroll, screenshots

from service.models import Card, PushDelivery, Registration
from service.platform import db
from tests.helpers import bearer

pytestmark = [pytest.mark.browser]
WAIT = 20

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _demo_customer(live: dict[str, Any]) -> dict[str, Any]:
    """A customer of the demo brand with a phone that was pushed the last change but has not fetched it."""
    import httpx

    card = httpx.post(f"{live['base']}/api/v1/programs/{live['program_id']}/cards", headers=bearer(live["api_key"]),
                      json={"customer": {"name": "Vera Lindqvist", "email": "vera@example.com"}}).json()
    with live["app"].app_context():
        session = db.session()
        row = session.get(Card, card["id"])
        before = row.updated_at - dt.timedelta(minutes=10)
        registration = Registration(device_library_identifier="browser-device-1", card_id=row.id,
                                    pass_type_identifier=row.program.pass_type_identifier, push_token="cd" * 32,
                                    created_at=before, updated_at=before)
        session.add(registration)
        session.flush()
        session.add(PushDelivery(card_id=row.id, card_version=row.version, registration_id=registration.id,
                                 push_token="cd" * 32, client_kind="apple", topic="pass.test", status="accepted",
                                 attempts=1))
        session.commit()
    return card


def test_search_open_adjust_and_read_the_diagnosis(chromium: Callable[..., Any], live: dict[str, Any]) -> None:
    card = _demo_customer(live)
    driver = chromium((360, 740))
    browser_sign_in(driver, live["base"], live["owner_email"], live["owner_password"])
    wait = WebDriverWait(driver, WAIT)

    driver.get(f"{live['base']}/console/members")
    box = wait.until(ec.visibility_of_element_located((By.ID, "member-search")))
    assert driver.find_element(By.CSS_SELECTOR, "label[for=member-search]").text.startswith("Find a member")
    box.send_keys("vera@example.com", Keys.ENTER)
    wait.until(lambda d: "q=vera" in d.current_url)
    results = wait.until(ec.visibility_of_element_located((By.ID, "member-results")))
    assert "Vera Lindqvist" in results.text and card["number"] in results.text
    assert not no_sideways_scroll(driver)
    screenshots(driver, "members", "1-search")

    results.find_element(By.LINK_TEXT, "Vera Lindqvist").click()
    wait.until(ec.visibility_of_element_located((By.ID, "diagnosis-list")))
    diagnosis = driver.find_element(By.ID, "diagnosis-list").text
    assert "Pushed, but not fetched" in diagnosis
    assert driver.find_element(By.ID, "card-balance").text == "0"

    form = driver.find_element(By.ID, "adjust-form")
    form.find_element(By.ID, "adjust-points").send_keys("15")
    form.find_element(By.ID, "adjust-reason").send_keys("Welcome gift")
    form.find_element(By.ID, "adjust-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "card-balance").text == "15")
    ledger = driver.find_element(By.ID, "ledger").text
    assert "Welcome gift" in ledger and "+15" in ledger
    assert not no_sideways_scroll(driver)
    screenshots(driver, "members", "2-card")

    driver.get(f"{live['base']}/console/members/{card['id']}?lang=ru")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ru")
    assert "Почему телефон не обновился?" in driver.find_element(By.ID, "diagnosis-title").text
    assert not no_sideways_scroll(driver)
    screenshots(driver, "members", "3-card-ru")
