"""The console's whole journey in Debian's headless Chromium, as the issue tells it: the owner invites
a marketer; the marketer (who never saw the API) sets a password, designs the card and watches the
preview change, saves, and the pass a phone then fetches through Apple's web service carries the
new design; adds a store and a cashier; sends a campaign to a segment and reads its report. An
analyst is offered nothing that changes anything and the server refuses them; another brand's
owner sees nothing of ours. Screenshots of each screen at 360 and 1280 px: test-artifacts/journey/.

Each section's own journey (tests/browser/test_console_<section>.py) goes deeper; this one checks
that they make one program run end to end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from console_helpers import PASSWORD, add_staff, browser_sign_in, no_sideways_scroll, screenshots

from passes.package import read_pkpass
from service.models import Card
from service.platform import db
from tests.helpers import bearer

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 20
PHONE = (360, 740)
MARKETER = "mara@demo.example"
GREEN = "#1f6f4a"


def visible(driver: Any, element_id: str) -> Any:
    return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.ID, element_id)))


def click(driver: Any, element_id: str) -> None:
    element = visible(driver, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _phone_with_the_card(live: dict[str, Any], http: httpx.Client) -> tuple[str, str, str, int]:
    """A Gold customer's card issued through the API and added to an iPhone (PassKit registration)."""
    card = http.post(f"{live['base']}/api/v1/programs/{live['program_id']}/cards",
                     json={"customer": {"name": "Nina Berg"}}, headers=bearer(live["api_key"])).json()
    for name in ("Olle", "Pia"):
        http.post(f"{live['base']}/api/v1/programs/{live['program_id']}/cards",
                  json={"customer": {"name": name}}, headers=bearer(live["api_key"]))
    with live["app"].app_context():
        row = db.session().get(Card, card["id"])
        row.tier = "Gold"
        type_id, serial, token = row.program.pass_type_identifier, row.serial_number, row.authentication_token
        db.session().commit()
    registered = http.post(f"{live['base']}/passkit/v1/devices/journey-phone/registrations/{type_id}/{serial}",
                           json={"pushToken": "a7" * 32}, headers={"Authorization": f"ApplePass {token}"})
    assert registered.status_code in (200, 201), registered.text
    return type_id, serial, token, card["id"]


def _owner_invites_the_marketer(driver: Any, live: dict[str, Any]) -> str:
    base = live["base"]
    browser_sign_in(driver, base, live["owner_email"], live["owner_password"])
    driver.get(f"{base}/console/team")
    visible(driver, "invite-email").send_keys(MARKETER)
    Select(driver.find_element(By.ID, "invite-role")).select_by_value("marketer")
    driver.find_element(By.CSS_SELECTOR, "#invite-form button[type=submit]").click()
    link = visible(driver, "made-link").text
    assert "/console/invite/" in link
    screenshots(driver, "journey", "1-owner-invites")
    driver.find_element(By.ID, "sign-out").click()
    visible(driver, "email")
    return link.replace(live["base_url"], base)


def _marketer_designs_and_the_phone_gets_it(driver: Any, live: dict[str, Any], http: httpx.Client,
                                            phone: tuple[str, str, str, int]) -> None:
    base, (type_id, serial, token, _) = live["base"], phone
    driver.get(f"{base}/console/design")
    WebDriverWait(driver, WAIT).until(lambda d: "cards" in d.find_element(By.ID, "design-reach").text)
    before = driver.find_element(By.ID, "preview-apple-front").get_attribute("src")  # the saved card's
    driver.execute_script("const input = document.getElementById('design-background_color');"
                          "input.value = arguments[0]; input.dispatchEvent(new Event('input', {bubbles: true}));",
                          GREEN)
    visible(driver, "design-label-balance-en").send_keys("Beans")
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.ID, "preview-apple-front").get_attribute("src") != before
        and d.find_element(By.ID, "design-previews").get_attribute("aria-busy") == "false")
    screenshots(driver, "journey", "3-designer-draft")
    click(driver, "design-save")
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.ID, "design-progress-panel").get_attribute("data-state") in ("done", "stable"))
    assert "Saving updates" in driver.find_element(By.ID, "design-status").text
    screenshots(driver, "journey", "4-designer-saved")
    fetched = http.get(f"{base}/passkit/v1/passes/{type_id}/{serial}", headers={"Authorization": f"ApplePass {token}"})
    pass_json = json.loads(read_pkpass(fetched.content)["pass.json"])
    assert pass_json["backgroundColor"] == "rgb(31, 111, 74)"
    assert pass_json["storeCard"]["primaryFields"][0]["label"] == "Beans"


def _marketer_adds_a_store_and_a_cashier(driver: Any, live: dict[str, Any]) -> None:
    base = live["base"]
    driver.get(f"{base}/console/stores")
    visible(driver, "store-name").send_keys("Demo Coffee Oost")
    driver.find_element(By.ID, "store-latitude").send_keys("52.3600")
    driver.find_element(By.ID, "store-longitude").send_keys("4.9400")
    click(driver, "store-save")
    visible(driver, "store-made")
    assert "Demo Coffee Oost" in driver.find_element(By.ID, "stores-list").text
    assert not no_sideways_scroll(driver)
    screenshots(driver, "journey", "5-store-added")
    driver.get(f"{base}/console/staff")
    visible(driver, "cashier-name").send_keys("Ravi")
    store = Select(driver.find_element(By.ID, "cashier-store"))
    store.select_by_visible_text("Demo Coffee Oost")
    driver.find_element(By.ID, "cashier-pin").send_keys("4711")
    click(driver, "cashier-save")
    assert visible(driver, "cashier-made-token").text.startswith("ct_")
    screenshots(driver, "journey", "6-cashier-added")


def _marketer_sends_a_campaign_and_reads_the_report(driver: Any, live: dict[str, Any], card_id: int) -> None:
    driver.get(f"{live['base']}/console/campaigns/new")
    visible(driver, "campaign-name").send_keys("Gold weekend")
    driver.find_element(By.ID, "campaign-message").send_keys("Double points for Gold this weekend")
    gold = driver.find_element(By.CSS_SELECTOR, '.audience-tier[value="Gold"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", gold)
    gold.click()
    WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.ID, "audience-count").get_attribute("data-count")
                                      == "1")
    screenshots(driver, "journey", "7-campaign-compose")
    click(driver, "campaign-send")
    WebDriverWait(driver, WAIT).until(lambda d: re.search(r"/console/campaigns/\d+$", d.current_url))
    visible(driver, "campaign-funnel")
    funnel = {step.get_attribute("data-step"): int(step.find_element(By.TAG_NAME, "strong").text)
              for step in driver.find_elements(By.CSS_SELECTOR, "#campaign-funnel li")}
    assert funnel["targeted"] == 1 and funnel["sent"] == 1
    rows = {row.get_attribute("data-card-id"): row.get_attribute("data-state")
            for row in driver.find_elements(By.CSS_SELECTOR, "#campaign-recipients tbody tr")}
    assert rows == {str(card_id): "pushed"} or rows == {str(card_id): "fetched"}
    screenshots(driver, "journey", "8-campaign-report")


def test_a_marketer_runs_the_program_end_to_end_and_others_cannot(chromium: Callable[..., Any],
                                                                  live: dict[str, Any]) -> None:
    base = live["base"]
    with httpx.Client(timeout=20) as http:
        phone = _phone_with_the_card(live, http)
        driver = chromium(PHONE)
        link = _owner_invites_the_marketer(driver, live)

        driver.get(link)
        visible(driver, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        assert "Your password is set" in visible(driver, "main").text
        browser_sign_in(driver, base, MARKETER)
        driver.get(f"{base}/console/members")
        screenshots(driver, "journey", "2-marketer-signed-in")
        menu = driver.find_element(By.CSS_SELECTOR, "nav.sections").text
        assert "Team" not in menu and "Audit" not in menu  # the owner's sections are not the marketer's

        _marketer_designs_and_the_phone_gets_it(driver, live, http, phone)
        _marketer_adds_a_store_and_a_cashier(driver, live)
        _marketer_sends_a_campaign_and_reads_the_report(driver, live, phone[3])
        driver.find_element(By.ID, "sign-out").click()

        # an analyst: every page readable, none offers a change, and the server refuses one anyway
        add_staff(live["app"], "ana@demo.example", "analyst")
        browser_sign_in(driver, base, "ana@demo.example")
        for path in ("/console/design", "/console/stores", "/console/campaigns", "/console/members"):
            driver.get(f"{base}{path}")
            assert not driver.find_elements(By.CSS_SELECTOR, "form[data-api]"), path
        screenshots(driver, "journey", "9-analyst-designer")
        refused = driver.execute_script(
            "return fetch('/api/v1/stores', {method: 'POST', credentials: 'same-origin', headers: {"
            "'Content-Type': 'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]')"
            ".content}, body: JSON.stringify({name: 'Sneaky', latitude: 1, longitude: 1})}).then((r) => r.status)")
        assert refused == 403
        driver.find_element(By.ID, "sign-out").click()

        # another brand's owner: nothing of ours anywhere
        add_staff(live["app"], "owner@rival.example", "owner", brand_name="Rival Tea")
        browser_sign_in(driver, base, "owner@rival.example")
        for path in ("/console/members?q=Nina", "/console/stores", "/console/campaigns", "/console/design"):
            driver.get(f"{base}{path}")
            text = driver.find_element(By.TAG_NAME, "body").text
            assert "Nina Berg" not in text and "Demo Coffee" not in text and "Gold weekend" not in text, path
        screenshots(driver, "journey", "10-other-brand-members")
