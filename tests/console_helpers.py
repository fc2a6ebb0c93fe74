"""Signing into the console from a test: the Flask test client (for what the server answers) and
headless Chromium (for what a person sees), with screenshots at a phone's and a laptop's width.

    from console_helpers import as_role, csrf, api_headers
    client = as_role(app, "marketer")                 # a new account of that role, signed in
    client.post("/api/v1/stores", json=..., headers=api_headers(client))
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service import demo
from service.access import accounts
from service.models import Brand
from service.platform import db

PASSWORD = "correct horse battery"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE, LAPTOP = (360, 740), (1280, 800)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/console/sign-in", data={"email": email, "password": password})


def add_staff(app: Flask, email: str, role: str, *, brand_name: str | None = None,
              store_ids: list[int] | None = None) -> None:
    """An account of `role` in the demo brand (the first brand), or in a new brand `brand_name`."""
    with app.app_context():
        session = db.session()
        brand = (demo.create_brand(session, brand_name, brand_name.lower().replace(" ", "-")) if brand_name
                 else session.scalars(select(Brand).order_by(Brand.id)).first())
        accounts.create_account(session, brand, email, PASSWORD, role, store_ids)
        session.commit()


def as_role(app: Flask, role: str, *, email: str | None = None, brand_name: str | None = None,
            store_ids: list[int] | None = None) -> FlaskClient:
    """A fresh test client signed in as a new account of `role` (the demo brand must be seeded)."""
    email = email or f"{role}@{(brand_name or 'demo').lower().replace(' ', '-')}.example"
    add_staff(app, email, role, brand_name=brand_name, store_ids=store_ids)
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client


def csrf(client: FlaskClient) -> str:
    page = client.get("/console/security")
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))[1]  # type: ignore[index]


def api_headers(client: FlaskClient) -> dict[str, str]:
    """What console.js sends with an unsafe API call: the session's CSRF token."""
    return {"X-CSRF-Token": csrf(client)}


# ---- in the browser --------------------------------------------------------------------------

def browser_sign_in(driver: Any, base: str, email: str, password: str = PASSWORD, wait: int = 20) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/console/sign-in")
    WebDriverWait(driver, wait).until(ec.visibility_of_element_located((By.ID, "email"))).send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password, Keys.ENTER)
    WebDriverWait(driver, wait).until(lambda d: "/console/sign-in" not in d.current_url)


def across_reload(driver: Any, condition: Any, wait: int = 20) -> Any:
    """Wait for `condition` across the page reload a console form ends with: elements found just
    before the reload go stale (tests/browser/conftest.py makes Chromium's "node does not belong
    to the document" say so too), and a stale or missing element means "not yet"."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, wait, ignored_exceptions=(StaleElementReferenceException,
                                                           NoSuchElementException)).until(condition)


def screenshots(driver: Any, folder: str, name: str) -> list[Path]:
    """The page at 360 px and at 1280 px, whole length, into test-artifacts/<folder>/; the viewport
    is left at the phone's width. Returns the files."""
    out = ARTIFACTS / folder
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for width, height in (PHONE, LAPTOP):
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": int(full), "deviceScaleFactor": 1, "mobile": False})
        path = out / f"{name}-{width}.png"
        assert driver.save_screenshot(str(path))
        files.append(path)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": False})
    return files


def no_sideways_scroll(driver: Any) -> list[str]:
    """Elements wider than a phone's screen, outside a .scroll box (a table may scroll in itself)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > "
        "document.documentElement.clientWidth + 1 && !e.closest('.scroll') && !e.closest('.skip'))"
        ".map((e) => e.tagName + '#' + e.id)")
