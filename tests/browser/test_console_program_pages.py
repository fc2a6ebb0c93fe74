"""The program pages of the console in headless Chromium, as the demo owner: the welcome bonus
changed and saved, a CSV with a bad row checked (the row's error shown) then imported (the
progress reaching done), the NPS answers opened, a webhook endpoint added (its secret shown once)
and its deliveries listed after a test. Screenshots at 360 and 1280 px go to
test-artifacts/program/.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.models import Card, NpsSurvey, Program
from service.nps import survey as nps
from service.platform import db
from service.platform.config import Settings
from tests.console_helpers import browser_sign_in, no_sideways_scroll, screenshots
from tests.doubles.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 20
CSV = ("name,email,balance,external_id\n"
       "Tanya Tour,tanya@example.com,80,tour-1\n"
       "Broken Row,not-an-email,5,tour-2\n")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as double:
        yield double


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The webhook receiver listens on loopback."""
    return dataclasses.replace(settings, webhook_allow_private_urls=True, webhook_timeout_seconds=2)


def visible(driver: Any, element_id: str) -> Any:
    return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.ID, element_id)))


def shoot(driver: Any, name: str) -> None:
    """Nothing wider than the phone (no element, and no text running out of its box), then the pictures."""
    assert not no_sideways_scroll(driver), name
    assert driver.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"), name
    screenshots(driver, "program", name)


def test_the_program_pages_tour(chromium: Callable[..., Any], live: dict[str, Any], tmp_path: Path,
                                receiver: WebhookReceiver) -> None:
    app, base = live["app"], live["base"]
    driver = chromium()
    browser_sign_in(driver, base, live["owner_email"], live["owner_password"])

    # 1. enrolment: the welcome bonus, saved through the API
    driver.get(f"{base}/console/enrolment")
    bonus = visible(driver, "welcome_points")
    bonus.clear()
    bonus.send_keys("40")
    driver.find_element(By.ID, "enrolment-save").click()
    WebDriverWait(driver, WAIT).until(ec.staleness_of(bonus))  # saved, then reloaded
    assert visible(driver, "welcome_points").get_attribute("value") == "40"
    with app.app_context():
        assert db.session().get(Program, live["program_id"]).welcome_points == 40
    poster = driver.find_element(By.ID, "poster-preview")
    driver.execute_script("arguments[0].scrollIntoView()", poster)  # it loads lazily
    WebDriverWait(driver, WAIT).until(lambda _: poster.get_attribute("naturalWidth") not in (None, "0"))
    shoot(driver, "1-enrolment")

    # 2. import: a dry run shows the bad row, then the real import reaches done
    members = tmp_path / "members.csv"
    members.write_text(CSV, encoding="utf-8")
    driver.get(f"{base}/console/imports")
    visible(driver, "import-file").send_keys(str(members))
    assert driver.find_element(By.ID, "import-dry-run").is_selected()
    driver.find_element(By.ID, "import-start").click()
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.ID, "import-state").get_attribute("data-status") == "done")
    row = driver.find_element(By.CSS_SELECTOR, "#import-error-rows tr").text
    assert row.startswith("3") and "email" in row
    assert "nothing was written" in driver.find_element(By.ID, "import-result").text
    shoot(driver, "2-import-dry-run")
    driver.find_element(By.ID, "import-dry-run").click()
    driver.find_element(By.ID, "import-start").click()
    WebDriverWait(driver, WAIT).until(
        lambda d: "New members: 1;" in d.find_element(By.ID, "import-result").text)
    assert driver.find_element(By.ID, "import-bar").get_attribute("value") == "1"
    assert driver.find_element(By.ID, "import-state").get_attribute("data-status") == "done"
    with app.app_context():
        assert db.session().scalars(select(Card).where(Card.external_id == "tour-1")).one().balance == 80
    shoot(driver, "3-import-done")

    # 3. NPS: start a survey from the console, an answer arrives, the answers page shows it
    driver.get(f"{base}/console/nps")
    visible(driver, "survey-start").click()
    WebDriverWait(driver, WAIT).until(lambda d: "/console/nps/" in d.current_url)
    with app.app_context():
        session = db.session()
        survey = session.scalars(select(NpsSurvey)).one()
        card = session.scalars(select(Card).where(Card.external_id == "tour-1")).one()
        nps.record_answer(session, survey, card, 9, "Lovely flat white")
        session.commit()
    driver.refresh()
    assert "Lovely flat white" in visible(driver, "answers").text
    assert driver.find_element(By.ID, "score-value").text == "100"
    shoot(driver, "4-nps-answers")

    # 4. webhooks: add an endpoint (its secret shown once), send a test, see the delivery
    driver.get(f"{base}/console/webhooks")
    visible(driver, "new-url").send_keys(receiver.url)
    Select(driver.find_element(By.ID, "new-events")).select_by_value("card.issued")
    driver.find_element(By.ID, "webhook-create").click()
    secret = visible(driver, "new-secret").text
    assert secret.startswith("whsec_")
    receiver.secret = secret
    shoot(driver, "5-webhook-secret")
    driver.find_element(By.ID, "secret-link").click()
    visible(driver, "send-test").click()
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '#deliveries tr[data-status="delivered"]'))
    assert receiver.received[0].signature_ok
    assert "HTTP 200" in driver.find_element(By.ID, "deliveries").text
    shoot(driver, "6-webhook-deliveries")
