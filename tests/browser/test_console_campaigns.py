"""The console's campaigns section in Debian's headless Chromium, against the app over real HTTP.

A marketer composes a message campaign: the audience's live count follows the ticked tier (and
is the segment's real size), the lock-screen preview is drawn for the typed text, Russian
included; sends it now (the jobs run at once in tests), and reads the report: the funnel and
the recipients with their states. The geo and back-in-stock pages are opened too. Screenshots
at 360 and 1280 px go to test-artifacts/campaigns/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from service.campaigns import segments
from service.models import Card, Registration, utcnow
from service.platform import db
from tests.console_helpers import PHONE, add_staff, browser_sign_in, no_sideways_scroll, screenshots
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import PASS_TYPE, token

WAIT = 20
EMAIL = "marketer@demo.example"

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def visible(driver: Any, element_id: str) -> Any:
    return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.ID, element_id)))


def counted(driver: Any) -> int:
    """The live count once it has answered (data-count is set only by an answer)."""
    WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.ID, "audience-count").get_attribute("data-count"))
    return int(driver.find_element(By.ID, "audience-count").get_attribute("data-count"))


def count_becomes(driver: Any, expected: int) -> None:
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.ID, "audience-count").get_attribute("data-count") == str(expected))


def real_size(live: dict[str, Any], audience: dict[str, Any]) -> int:
    with live["app"].app_context():
        return int(db.session().scalar(select(func.count()).select_from(
            segments.card_ids(live["brand_id"], audience, utcnow()).order_by(None).subquery())) or 0)


def test_a_marketer_composes_sends_and_reads_the_report(chromium: Callable[..., Any], live: dict[str, Any]) -> None:
    base, app = live["base"], live["app"]
    with httpx.Client(timeout=20) as http:
        ids = []
        for name, language in (("Anna Gold", "en"), ("Boris Gold", "ru"), ("Carl", "en"), ("Dana", "en"),
                               ("Eva", "en")):
            answer = http.post(f"{base}/api/v1/programs/{live['program_id']}/cards", headers=bearer(live["api_key"]),
                               json={"customer": {"name": name, "language": language}})
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
    with app.app_context():
        session = db.session()
        for card_id in ids[:2]:
            session.get(Card, card_id).tier = "Gold"  # type: ignore[union-attr]
        session.add(Registration(device_library_identifier="phone-1", card_id=ids[0], pass_type_identifier=PASS_TYPE,
                                 push_token=token(1), client_kind="apple"))
        session.commit()
    add_staff(app, EMAIL, "marketer")

    driver = chromium(PHONE)
    browser_sign_in(driver, base, EMAIL)
    driver.get(f"{base}/console/campaigns")
    visible(driver, "campaigns-none")
    assert not no_sideways_scroll(driver)
    screenshots(driver, "campaigns", "1-list-empty")
    driver.find_element(By.ID, "campaigns-new").click()

    visible(driver, "campaign-name").send_keys("Gold weekend")
    driver.find_element(By.ID, "campaign-message").send_keys("Double points this weekend")
    driver.find_element(By.ID, "campaign-message-ru").send_keys("Двойные баллы в эти выходные")
    assert counted(driver) == 5 == real_size(live, {"all_cards": True})
    gold = driver.find_element(By.CSS_SELECTOR, '.audience-tier[value="Gold"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", gold)
    gold.click()
    count_becomes(driver, 2)
    assert real_size(live, {"tier": ["Gold"]}) == 2
    assert driver.find_element(By.ID, "audience-rule").get_attribute("textContent") == '{"tier":["Gold"]}'
    Select(driver.find_element(By.ID, "audience-activity")).select_by_value("lapsed")
    count_becomes(driver, 0)  # nobody has been away 30 days: the cards are new
    Select(driver.find_element(By.ID, "audience-activity")).select_by_value("")
    count_becomes(driver, 2)
    assert "2" in driver.find_element(By.ID, "campaign-send").text

    # the lock-screen preview of the typed text, drawn by the API; Google's as a notification
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(
        "const i = document.getElementById('preview-apple'); return !i.hidden && i.complete && i.naturalWidth > 0"))
    source = driver.find_element(By.ID, "preview-apple").get_attribute("src")
    assert "message=news" in source and "language=en" in source and "Double+points" in source
    assert driver.find_element(By.ID, "preview-google-text").text == "Double points this weekend"
    Select(driver.find_element(By.ID, "preview-language")).select_by_value("ru")
    WebDriverWait(driver, WAIT).until(
        lambda d: "language=ru" in d.find_element(By.ID, "preview-apple").get_attribute("src"))
    assert driver.find_element(By.ID, "preview-google-text").text == "Двойные баллы в эти выходные"
    assert not no_sideways_scroll(driver)
    screenshots(driver, "campaigns", "2-compose")

    send = driver.find_element(By.ID, "campaign-send")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", send)
    send.click()
    WebDriverWait(driver, WAIT).until(lambda d: re.search(r"/console/campaigns/\d+$", d.current_url))
    visible(driver, "campaign-funnel")
    funnel = {step.get_attribute("data-step"): int(step.find_element(By.TAG_NAME, "strong").text)
              for step in driver.find_elements(By.CSS_SELECTOR, "#campaign-funnel li")}
    assert (funnel["targeted"], funnel["devices"], funnel["sent"], funnel["accepted"]) == (2, 1, 1, 1)
    assert driver.find_element(By.CSS_SELECTOR, "#campaign-status .badge").get_attribute("data-status") == "finished"
    rows = {row.get_attribute("data-card-id"): row.get_attribute("data-state")
            for row in driver.find_elements(By.CSS_SELECTOR, "#campaign-recipients tbody tr")}
    assert rows == {str(ids[0]): "pushed", str(ids[1]): "no_device"}
    assert "Boris Gold" in driver.find_element(By.ID, "campaign-recipients").text
    assert not no_sideways_scroll(driver)
    screenshots(driver, "campaigns", "3-report")

    driver.get(f"{base}/console/campaigns/{driver.current_url.rsplit('/', 1)[1]}?lang=ru")
    assert visible(driver, "funnel-title").text == "Воронка"
    screenshots(driver, "campaigns", "4-report-ru")

    # schedule one for later (the page's local time goes to the API in UTC), then cancel it
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Europe/Moscow"})
    driver.get(f"{base}/console/campaigns/new?lang=en")
    visible(driver, "campaign-name").send_keys("Next week")
    driver.find_element(By.ID, "campaign-message").send_keys("See you next week")
    Select(driver.find_element(By.ID, "when-choice")).select_by_value("later")
    assert visible(driver, "campaign-send").text == "Schedule"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", driver.find_element(By.ID, "campaign-send"))
    driver.find_element(By.ID, "campaign-send").click()  # no time yet: refused on the page, nothing sent
    assert visible(driver, "error-campaign-send-at-local").text == "Choose a date and time."
    assert driver.current_url.endswith("/console/campaigns/new?lang=en")
    local = driver.execute_script(  # in three days, typed as the marketer's local time (Moscow: UTC+3)
        "const i = document.getElementById('campaign-send-at-local'), p = (n) => String(n).padStart(2, '0');"
        "const d = new Date(Date.now() + 3 * 86400000); d.setSeconds(0, 0);"
        "i.value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`"
        " + `T${p(d.getHours())}:${p(d.getMinutes())}`;"
        "i.dispatchEvent(new Event('input', {bubbles: true})); return d.toISOString();")
    driver.find_element(By.ID, "campaign-send").click()
    WebDriverWait(driver, WAIT).until(lambda d: re.search(r"/console/campaigns/\d+$", d.current_url))
    assert visible(driver, "campaign-status").find_element(By.CSS_SELECTOR, ".badge").get_attribute(
        "data-status") == "scheduled"
    scheduled_id = int(driver.current_url.rsplit("/", 1)[1])
    with app.app_context():
        from service.models import Campaign

        stored = db.session().get(Campaign, scheduled_id)
        assert stored is not None and stored.send_at is not None
        assert stored.send_at.isoformat().replace("+00:00", "") == local.replace(".000Z", "")
    screenshots(driver, "campaigns", "5-scheduled")
    driver.execute_script("window.confirm = () => true")
    cancel = driver.find_element(By.ID, "campaign-cancel")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cancel)
    cancel.click()
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, '.badge[data-status="cancelled"]'))
    assert not driver.find_elements(By.ID, "campaign-cancel")

    driver.get(f"{base}/console/campaigns?lang=en")
    assert "Gold weekend" in visible(driver, "campaigns-table").text and "Cancelled" in driver.find_element(
        By.ID, "campaigns-table").text
    screenshots(driver, "campaigns", "5-list")

    for path, element, name in (("/console/campaigns/geo/new", "geo-form", "6-geo"),
                                ("/console/campaigns/restock", "restock-form", "7-restock")):
        driver.get(f"{base}{path}")
        visible(driver, element)
        assert not no_sideways_scroll(driver)
        screenshots(driver, "campaigns", name)
