"""The card designer in headless Chromium: a marketer changes the background colour and the balance's
label, watches the preview redraw from the unsaved draft, saves (seeing how many cards and phones
the save updates, then the update's progress), and the pass a phone then fetches through Apple's
web service carries the new colour and label. Screenshots go to test-artifacts/designer/.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from console_helpers import add_staff, browser_sign_in, no_sideways_scroll, screenshots
from PIL import Image

from passes.package import read_pkpass
from service.models import Card
from service.platform import db
from tests.helpers import bearer

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 20
EMAIL = "marketer@demo.example"
NEW_COLOUR = "#1f6f4a"

#: The picture the <img> shows, as PNG (drawn on a canvas: the page's CSP lets no script fetch blob: URLs).
IMAGE_BYTES = """
const img = document.getElementById(arguments[0]);
const canvas = document.createElement("canvas");
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
canvas.getContext("2d").drawImage(img, 0, 0);
return canvas.toDataURL("image/png").split(",")[1];
"""


def _image(driver: Any, element_id: str) -> bytes:
    return base64.b64decode(driver.execute_script(IMAGE_BYTES, element_id))


def _installed_card(live: dict[str, Any], http: httpx.Client) -> tuple[str, str, str]:
    """A card issued through the API and registered by a phone (PassKit register call)."""
    card = http.post(f"{live['base']}/api/v1/programs/{live['program_id']}/cards",
                     json={"customer": {"name": "Nina Berg"}}, headers=bearer(live["api_key"])).json()
    with live["app"].app_context():
        row = db.session().get(Card, card["id"])
        type_id, serial, token = row.program.pass_type_identifier, row.serial_number, row.authentication_token
    registered = http.post(f"{live['base']}/passkit/v1/devices/designer-phone/registrations/{type_id}/{serial}",
                           json={"pushToken": "e5" * 32}, headers={"Authorization": f"ApplePass {token}"})
    assert registered.status_code in (200, 201), registered.text
    return type_id, serial, token


def test_the_marketer_designs_previews_saves_and_the_phone_gets_the_new_card(
        chromium: Callable[..., Any], live: dict[str, Any]) -> None:
    base = live["base"]
    add_staff(live["app"], EMAIL, "marketer")
    with httpx.Client(timeout=20) as http:
        type_id, serial, token = _installed_card(live, http)

        driver = chromium((1280, 800))
        browser_sign_in(driver, base, EMAIL)
        driver.get(f"{base}/console/design")
        wait = WebDriverWait(driver, WAIT)
        wait.until(lambda d: "cards" in d.find_element(By.ID, "design-reach").text)
        reach = driver.find_element(By.ID, "design-reach")
        assert int(reach.get_attribute("data-phones")) >= 1 and int(reach.get_attribute("data-cards")) >= 1
        before = _image(driver, "preview-apple-front")
        screenshots(driver, "designer", "1-saved-card")

        # the draft: a new background colour (a colour input takes no typing) and the balance's label
        driver.execute_script("const input = document.getElementById('design-background_color');"
                              "input.value = arguments[0]; input.dispatchEvent(new Event('input', {bubbles: true}));",
                              NEW_COLOUR)
        label = driver.find_element(By.ID, "design-label-balance-en")
        label.send_keys("Beans")
        wait.until(lambda d: d.find_element(By.ID, "preview-apple-front").get_attribute("src").startswith("blob:")
                   and d.find_element(By.ID, "designer").get_attribute("data-preview-round"))
        wait.until(lambda d: d.find_element(By.ID, "designer").get_attribute("aria-busy") != "true"
                   and d.find_element(By.ID, "design-previews").get_attribute("aria-busy") == "false")
        time.sleep(0.5)  # the last debounced round (label typed after the colour) lands
        after = _image(driver, "preview-apple-front")
        assert after != before and after.startswith(b"\x89PNG")
        picture = Image.open(io.BytesIO(after)).convert("RGB")
        assert picture.getpixel((picture.width - 12, picture.height // 2)) == (0x1F, 0x6F, 0x4A)
        for element_id in ("preview-apple-back", "preview-google", "preview-lock-apple", "preview-lock-google"):
            assert driver.find_element(By.ID, element_id).get_attribute("src").startswith("blob:"), element_id
        screenshots(driver, "designer", "2-draft")

        # nothing is saved yet: the phone's pass is still the old one
        old = http.get(f"{base}/passkit/v1/passes/{type_id}/{serial}", headers={"Authorization": f"ApplePass {token}"})
        assert json.loads(read_pkpass(old.content)["pass.json"])["backgroundColor"] != "rgb(31, 111, 74)"

        driver.find_element(By.ID, "design-save").click()
        wait.until(ec.visibility_of_element_located((By.ID, "design-progress-panel")))
        wait.until(lambda d: d.find_element(By.ID, "design-progress-panel").get_attribute("data-state")
                   in ("done", "stable"))
        assert "Saving updates" in driver.find_element(By.ID, "design-status").text
        assert "sent" in driver.find_element(By.ID, "design-progress-text").text
        assert int(driver.find_element(By.ID, "design-progress").get_attribute("value")) >= 1
        screenshots(driver, "designer", "3-saved-progress")
        assert not no_sideways_scroll(driver)

        # the phone, told by the push, fetches the pass: the new colour and label
        fresh = http.get(f"{base}/passkit/v1/passes/{type_id}/{serial}",
                         headers={"Authorization": f"ApplePass {token}"})
        assert fresh.status_code == 200
        pass_json = json.loads(read_pkpass(fresh.content)["pass.json"])
        assert pass_json["backgroundColor"] == "rgb(31, 111, 74)"
        assert pass_json["storeCard"]["primaryFields"][0]["label"] == "Beans"
        progress = http.get(f"{base}/api/v1/programs/{live['program_id']}/update-progress",
                            params={"since": "2000-01-01T00:00:00Z"}, headers=bearer(live["api_key"])).json()
        assert progress["fetched"] >= 1

        driver.get(f"{base}/console/design?lang=ru")
        wait.until(lambda d: "карт" in d.find_element(By.ID, "design-reach").text)
        assert driver.find_element(By.ID, "design-label-balance-en").get_attribute("value") == "Beans"
        screenshots(driver, "designer", "4-russian")
