"""The stores page with a tile server configured (MAP_TILE_URL, here a loopback one): Leaflet draws
the map from that server's tiles, and a click on the map fills the store form's coordinates.
Screenshots at 360 and 1280 px go to test-artifacts/stores/.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from service.platform.config import Settings
from tests.console_helpers import browser_sign_in, screenshots

WAIT = 20

pytestmark = [pytest.mark.browser]

pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _tile() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 220, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def tile_server() -> Iterator[dict[str, Any]]:
    """Answers every /{z}/{x}/{y}.png with a plain green tile and counts what it was asked."""
    asked: list[str] = []
    tile = _tile()

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}/{{z}}/{{x}}/{{y}}.png", "asked": asked}
    server.shutdown()


@pytest.fixture
def settings(settings: Settings, tile_server: dict[str, Any]) -> Settings:
    return dataclasses.replace(settings, map_tile_url=tile_server["url"], map_tile_attribution="© Test tiles")


def test_a_click_on_the_map_sets_the_new_stores_coordinates(chromium: Callable[..., Any], live: dict[str, Any],
                                                            tile_server: dict[str, Any]) -> None:
    driver, base = chromium(), live["base"]
    browser_sign_in(driver, base, live["owner_email"], live["owner_password"])
    driver.get(f"{base}/console/stores")
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#stores-map .leaflet-tile-loaded"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "#stores-map path.leaflet-interactive")) == 3  # the stores
    assert "© Test tiles" in driver.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
    assert tile_server["asked"] and all(path.endswith(".png") for path in tile_server["asked"])
    latitude, longitude = driver.find_element(By.ID, "store-latitude"), driver.find_element(By.ID, "store-longitude")
    assert latitude.get_attribute("value") == ""
    box = driver.find_element(By.ID, "stores-map")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    ActionChains(driver).move_to_element_with_offset(box, 20, 20).click().perform()
    WebDriverWait(driver, WAIT).until(lambda d: latitude.get_attribute("value") != "")
    lat, lon = float(latitude.get_attribute("value")), float(longitude.get_attribute("value"))
    assert 52.2 < lat < 52.5 and 4.7 < lon < 5.1  # near the demo stores in Amsterdam
    screenshots(driver, "stores", "6-map-tiles")
