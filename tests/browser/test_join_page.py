"""The public join page in Debian's headless Chromium, against the app over real HTTP.

A phone-sized window (360x740) with an iPhone's User-Agent: the form, its server-side error
messages, joining, the card page with the Apple Wallet button first and Google Wallet behind
"Other phone?", the .pkpass behind the button, and joining again with the same email (a code,
not the card). Screenshots go to test-artifacts/join/.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "join"
PHONE = (360, 740)
WAIT = 20
IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")

pytestmark = [pytest.mark.browser]  # Chromium itself comes from the `chromium` fixture (conftest.py)

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def phone(chromium: Callable[..., Any]) -> Callable[..., Any]:
    """Start headless Chromium with a phone's viewport, User-Agent and language."""

    def start(user_agent: str = IPHONE_UA, language: str = "en-US") -> Any:
        return chromium(PHONE, flags=(f"--user-agent={user_agent}", f"--lang={language}"),
                        prefs={"intl.accept_languages": language}, mobile=True)

    return start


def wait(driver: Any) -> WebDriverWait:
    return WebDriverWait(driver, WAIT)


def visible(driver: Any, element_id: str) -> Any:
    return wait(driver).until(ec.visibility_of_element_located((By.ID, element_id)))


def screenshot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{PHONE[0]}x{PHONE[1]}.png"
    assert driver.save_screenshot(str(path))
    return path


def fits_the_phone(driver: Any) -> None:
    """Nothing wider than the screen: no sideways scrolling on a 360 px phone."""
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]


def test_join_on_an_iphone(phone: Callable[..., Any], live: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="passcast.notify")
    driver = phone()
    base = live["base"]
    driver.get(f"{base}/join/demo-coffee")
    assert "Join Demo Coffee Rewards" in visible(driver, "join-form").find_element(By.XPATH, "..").text
    fits_the_phone(driver)
    screenshot(driver, "01-form")

    # Sent without the consent and with a bad email: the server says what is wrong, keeps the input
    visible(driver, "name").send_keys("Anna Smith")
    driver.find_element(By.ID, "email").send_keys("anna@")
    driver.find_element(By.ID, "submit").click()
    errors = visible(driver, "errors").text
    assert "This email address does not look right." in errors and "Please accept the terms to join." in errors
    assert driver.find_element(By.ID, "name").get_attribute("value") == "Anna Smith"
    screenshot(driver, "02-errors")

    email = driver.find_element(By.ID, "email")
    email.clear()
    email.send_keys("anna@example.com")
    driver.find_element(By.ID, "phone").send_keys("+31 6 1234 5678")
    driver.find_element(By.ID, "consent").click()
    driver.find_element(By.ID, "submit").click()

    apple = visible(driver, "add-apple")
    assert "Welcome, Anna Smith" in driver.find_element(By.ID, "welcome").text
    assert driver.find_element(By.ID, "card").get_attribute("data-device") == "apple"
    assert not driver.find_element(By.ID, "add-google").is_displayed()  # behind "Other phone?"
    assert driver.find_element(By.ID, "invite-link").get_attribute("value").startswith(f"{base}/join/demo-coffee?ref=")
    fits_the_phone(driver)
    screenshot(driver, "03-card")

    pkpass = httpx.get(apple.get_attribute("href"), timeout=30)
    assert pkpass.status_code == 200
    assert pkpass.headers["content-type"] == "application/vnd.apple.pkpass"
    with zipfile.ZipFile(io.BytesIO(pkpass.content)) as archive:
        assert {"pass.json", "manifest.json", "signature"} <= set(archive.namelist())

    driver.find_element(By.CSS_SELECTOR, "#other-phone summary").click()
    google = visible(driver, "add-google")
    assert google.get_attribute("href").startswith("https://pay.google.com/gp/v/save/")
    screenshot(driver, "04-other-phone")

    # Joining again with the same email does not open the card: a code goes to that email
    # (logged here, as no SMTP_HOST is set), and typing it brings the same card back
    card_url = driver.current_url.split("?")[0]
    driver.get(f"{base}/join/demo-coffee")
    visible(driver, "name").send_keys("Anna")
    driver.find_element(By.ID, "email").send_keys("anna@example.com")
    driver.find_element(By.ID, "consent").click()
    driver.find_element(By.ID, "submit").click()
    assert "we have just sent it a one-time code" in visible(driver, "sent").text
    assert "SMTP_HOST is not set" in driver.find_element(By.ID, "dev-logged").text
    assert "Anna" not in driver.page_source and "/passes/" not in driver.page_source
    fits_the_phone(driver)
    screenshot(driver, "05-check")
    code = re.findall(r"code on the page: (\d{6})", caplog.text)[-1]
    driver.find_element(By.ID, "code").send_keys(code)
    driver.find_element(By.ID, "submit").click()
    assert "already a member" in visible(driver, "welcome").text
    assert driver.current_url.split("?")[0] == card_url


def test_russian_page_from_the_browser_language(phone: Callable[..., Any], live: dict[str, Any]) -> None:
    driver = phone(language="ru-RU")
    driver.get(f"{live['base']}/join/demo-coffee")
    assert visible(driver, "submit").text == "Получить карту"
    fits_the_phone(driver)
    screenshot(driver, "06-form-ru")
