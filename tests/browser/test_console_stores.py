"""The stores and staff pages in headless Chromium: the demo owner adds a store (the form, then
the list), a cashier with a PIN (their token shown once) and a till, whose pairing QR appears and
decodes to the pair URL. Nothing is fetched from another origin. Screenshots at 360 and 1280 px
go to test-artifacts/stores/.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import pytest

from tests.console_helpers import browser_sign_in, no_sideways_scroll, screenshots

WAIT = 20

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def visible(driver: Any, element_id: str) -> Any:
    return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.ID, element_id)))


def type_into(driver: Any, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def page_fits(driver: Any) -> bool:
    """The page itself never scrolls sideways (tables scroll inside their own box)."""
    return driver.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def only_our_origin(driver: Any, base: str) -> list[str]:
    return driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
        ".filter((name) => !name.startsWith(arguments[0]) && !name.startsWith('data:'))", base)


def test_the_owner_adds_a_store_a_cashier_and_a_till_and_sees_its_pairing_qr(
        chromium: Callable[..., Any], live: dict[str, Any]) -> None:
    import zxingcpp
    from PIL import Image

    driver, base = chromium(), live["base"]
    browser_sign_in(driver, base, live["owner_email"], live["owner_password"])

    driver.get(f"{base}/console/stores")
    visible(driver, "stores-plot")
    assert driver.find_element(By.CSS_SELECTOR, "label[for=store-latitude]").text == "Latitude"
    screenshots(driver, "stores", "1-stores")
    type_into(driver, "store-name", "Demo Coffee Oost")
    type_into(driver, "store-address", "Linnaeusstraat 2, Amsterdam")
    type_into(driver, "store-latitude", "52.3601")
    type_into(driver, "store-longitude", "4.9261")
    type_into(driver, "store-relevant-text", "Two stamps on Mondays")
    type_into(driver, "store-beacon-uuid", "E2C56DB5-DFFB-48D2-B060-D0F5A71096E0")
    type_into(driver, "store-beacon-major", "1")
    type_into(driver, "store-beacon-minor", "7")
    driver.find_element(By.ID, "store-save").click()
    visible(driver, "store-made")
    row = driver.find_element(By.CSS_SELECTOR, "#stores-list tr.stores-new")
    assert "Demo Coffee Oost" in row.text and "52.36010, 4.92610" in row.text and "Two stamps" in row.text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#stores-plot .stores-dot")) == 4
    assert not no_sideways_scroll(driver) and page_fits(driver)
    screenshots(driver, "stores", "2-store-added")
    store_id = row.get_attribute("data-store-id")

    driver.get(f"{base}/console/staff")
    type_into(driver, "cashier-name", "Eva")
    Select(driver.find_element(By.ID, "cashier-store")).select_by_value(store_id)
    type_into(driver, "cashier-pin", "4071")
    driver.find_element(By.ID, "cashier-save").click()
    assert visible(driver, "cashier-made-token").text.startswith("ct_")
    assert "Eva" in driver.find_element(By.ID, "cashier-made-text").text
    screenshots(driver, "stores", "3-cashier-made")
    driver.find_element(By.CSS_SELECTOR, "#cashier-made a").click()
    WebDriverWait(driver, WAIT).until(lambda d: "Eva" in d.find_element(By.ID, "cashiers-list").text)
    assert "PIN set" in driver.find_element(By.ID, "cashiers-list").text

    type_into(driver, "till-name", "Oost, counter 1")
    Select(driver.find_element(By.ID, "till-store")).select_by_value(store_id)
    driver.find_element(By.ID, "till-save").click()
    qr = visible(driver, "till-qr")
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(
        "const i = document.getElementById('till-qr'); return i.complete && i.naturalWidth > 0"))
    pair_url = driver.find_element(By.ID, "till-pair-url").text
    assert pair_url.startswith(f"{base}/cashier#till=tl_")
    png = base64.b64decode(qr.get_attribute("src").split(",", 1)[1])
    assert [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == [pair_url]
    assert not no_sideways_scroll(driver) and page_fits(driver)
    screenshots(driver, "stores", "4-till-qr")
    assert only_our_origin(driver, base) == []

    driver.get(f"{base}/console/staff?lang=ru")
    assert "Кассиры" in visible(driver, "cashiers-title").text and "Oost, counter 1" in driver.page_source
    screenshots(driver, "stores", "5-staff-ru")
