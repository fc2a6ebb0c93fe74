"""The API docs page (/api/docs) in headless Chromium: ReDoc, from our own static files, renders
the brand API's operations, and the page loads nothing from any other origin (no CDN)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "api-docs"

pytestmark = [pytest.mark.browser]  # Chromium itself comes from the `chromium` fixture (conftest.py)

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def test_docs_render_from_our_own_origin(chromium: Callable[..., Any], live: dict[str, Any]) -> None:
    # A laptop window, the viewport as Chromium makes it, and the network log to see every request.
    driver = chromium((1280, 900), capabilities={"goog:loggingPrefs": {"performance": "ALL"}}, mobile=None,
                      disable_quic=False)
    driver.get(f"{live['base']}/api/docs")
    WebDriverWait(driver, 30).until(
        lambda d: "Add a store" in d.find_element("tag name", "body").text)
    text = driver.find_element("tag name", "body").text
    for expected in ("Passcast brand API", "Register a URL for some events", "Revoke a key",
                     "Void a card", "Add a tier", "Rate limits"):
        assert expected in text, expected
    # What the browser asked the network for, and what the page's policy refused to fetch.
    sent: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    assert any(url.endswith("/static/vendor/redoc.standalone.js") for url in sent.values())
    foreign = [url for request_id, url in sent.items() if request_id not in blocked
               and url.startswith(("http:", "https:")) and not url.startswith(live["base"])]
    assert foreign == [], foreign
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "api-docs.png"))
