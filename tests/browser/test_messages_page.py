"""The holder's messages page (/cards/<serial>/messages) in Debian's headless Chromium over real
HTTP, on a 360 px phone: opened from the link on the pass's back, it turns offers and news off and
back on, in English and in Russian, without sideways scrolling. Screenshots go to
test-artifacts/messages/.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "messages"
PHONE = (360, 740)
WAIT = 20

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def visible(driver: Any, element_id: str) -> Any:
    return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.ID, element_id)))


def screenshot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / f"{name}-{PHONE[0]}x{PHONE[1]}.png"))


def fits_the_phone(driver: Any) -> None:
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]


def link_on_the_pass(live: dict[str, Any], language: str) -> str:
    """Issue a card through the API and read the link from its pass's back, as the phone shows it."""
    issued = httpx.post(f"{live['base']}/api/v1/programs/{live['program_id']}/cards", timeout=30,
                        headers={"Authorization": f"Bearer {live['api_key']}"},
                        json={"customer": {"name": "Anna Smith", "email": f"anna-{language}@example.com",
                                           "language": language}})
    assert issued.status_code == 201, issued.text
    pkpass = httpx.get(issued.json()["apple_pass_url"], timeout=30)
    pass_json = json.loads(zipfile.ZipFile(io.BytesIO(pkpass.content)).read("pass.json"))
    back = {field["key"]: field["value"] for field in pass_json["storeCard"]["backFields"]}
    return str(back["messages"])


@pytest.mark.parametrize(("language", "texts"), [
    ("en", ("This card gets our offers and news", "Turn offers and news off",
            "Done: no more offers or news on this card.", "Turn offers and news back on")),
    ("ru", ("Эта карта получает наши предложения и новости", "Выключить предложения и новости",
            "Готово: предложений и новостей на этой карте больше не будет.",
            "Снова включить предложения и новости")),
])
def test_turning_messages_off_and_on_from_the_pass_on_a_phone(chromium: Callable[..., Any], live: dict[str, Any],
                                                              language: str, texts: tuple[str, ...]) -> None:
    on_text, off_button, done_off, on_button = texts
    url = link_on_the_pass(live, language)
    driver = chromium(PHONE, flags=(f"--lang={language}",), prefs={"intl.accept_languages": language}, mobile=True)
    driver.get(url)
    assert on_text in visible(driver, "state").text
    switch = visible(driver, "switch")
    assert switch.text == off_button
    assert switch.size["width"] <= PHONE[0] and switch.size["height"] >= 44  # a thumb's target
    fits_the_phone(driver)
    screenshot(driver, f"{language}-01-on")

    switch.click()
    assert visible(driver, "done").text == done_off
    assert visible(driver, "state").get_attribute("data-state") == "off"
    assert visible(driver, "switch").text == on_button
    fits_the_phone(driver)
    screenshot(driver, f"{language}-02-off")

    visible(driver, "switch").click()
    assert visible(driver, "state").get_attribute("data-state") == "on"
    fits_the_phone(driver)
