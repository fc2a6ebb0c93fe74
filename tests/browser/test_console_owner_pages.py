"""The owner's pages in headless Chromium: the audit log (filtered), a read-only API key made, seen
once and revoked, two-factor sign-in turned on (the code computed from the key the page shows) and the ten
recovery codes shown and downloaded as a text file. Screenshots at 360 and 1280 px go to
test-artifacts/owner/.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from console_helpers import browser_sign_in, no_sideways_scroll, screenshots

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 20


def visible(driver: Any, element_id: str) -> Any:
    return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.ID, element_id)))


def _make_store(live: dict[str, Any]) -> None:
    """Something for the log: a store made through the API with the demo key (loopback only)."""
    request = urllib.request.Request(f"{live['base']}/api/v1/stores", method="POST",
                                     data=json.dumps({"name": "Harbour kiosk", "latitude": 52.37,
                                                      "longitude": 4.89}).encode(),
                                     headers={"Authorization": f"Bearer {live['api_key']}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our own loopback server
        assert answer.status == 201


def test_the_owner_reads_the_log_makes_a_key_and_turns_on_two_factor(chromium: Callable[..., Any],
                                                                     live: dict[str, Any], tmp_path: Path) -> None:
    _make_store(live)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chromium(downloads=downloads)
    browser_sign_in(driver, live["base"], live["owner_email"], live["owner_password"])

    # the audit log, filtered to one action
    driver.find_element(By.LINK_TEXT, "Audit log").click()
    Select(visible(driver, "filter-action")).select_by_value("store.created")
    driver.find_element(By.ID, "audit-show").click()
    WebDriverWait(driver, WAIT).until(lambda d: "action=store.created" in d.current_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "#audit-entries tbody tr")
    assert rows and {row.get_attribute("data-action") for row in rows} == {"store.created"}
    assert "Harbour kiosk" in driver.find_element(By.ID, "audit-entries").text
    assert not no_sideways_scroll(driver)
    screenshots(driver, "owner", "1-audit-log")

    # a read-only key, shown once
    driver.find_element(By.LINK_TEXT, "API keys").click()
    visible(driver, "key-name").send_keys("Dashboard export")
    assert driver.find_element(By.ID, "scope-read_only").is_selected()  # the narrowest is the default
    driver.find_element(By.ID, "key-create").click()
    secret = visible(driver, "key-secret").text
    assert secret.startswith("pk_")
    assert "Dashboard export" in driver.find_element(By.ID, "keys-table").text
    assert not no_sideways_scroll(driver)
    screenshots(driver, "owner", "2-key-made")
    driver.refresh()
    visible(driver, "key-name")
    assert not driver.find_element(By.ID, "key-made").is_displayed()
    assert secret not in driver.page_source
    row = driver.find_element(By.CSS_SELECTOR, '#keys-table tr[data-scope="read_only"]')
    assert "Dashboard export" in row.text
    key_id = row.get_attribute("data-id")
    driver.find_element(By.ID, f"revoke-{key_id}").click()  # asks first
    WebDriverWait(driver, WAIT).until(ec.alert_is_present()).accept()
    WebDriverWait(driver, WAIT).until(lambda d: not d.find_elements(By.ID, f"revoke-{key_id}"))
    assert "revoked" in driver.find_element(By.CSS_SELECTOR, f'#keys-table tr[data-id="{key_id}"]').text

    # two-factor sign-in on: the recovery codes
    driver.find_element(By.LINK_TEXT, "Security").click()
    totp = pyotp.TOTP(visible(driver, "totp-secret").text)
    driver.find_element(By.ID, "code").send_keys(totp.now())
    driver.find_element(By.CSS_SELECTOR, 'button[value="enable"]').click()
    codes = [node.text for node in WebDriverWait(driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#codes-list code"))]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert not no_sideways_scroll(driver)
    screenshots(driver, "owner", "3-recovery-codes")
    driver.find_element(By.ID, "codes-download").click()
    saved = downloads / "passcast-recovery-codes.txt"
    deadline = time.monotonic() + 10
    while not saved.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert saved.exists()
    assert [line for line in saved.read_text().splitlines() if line.count("-") == 3] == codes
    driver.get(f"{live['base']}/console/security")  # shown once: the page says how many are left, not which
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.ID, "codes-left"))
    assert "10 of 10" in driver.find_element(By.ID, "codes-left").text
    assert codes[0] not in driver.page_source
