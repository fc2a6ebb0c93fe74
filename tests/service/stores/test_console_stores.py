"""The console's stores page (service/stores/console_page.py): the brand's stores listed and drawn,
changed only through /api/v1/stores, no request to another origin unless the operator names a
tile server, and a store manager seeing only their stores (pages and API alike)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from flask import Flask

from service import create_app
from service.platform.config import Settings, _tile_url, tile_origin
from service.stores import plot
from tests.console_helpers import api_headers, as_role

NEW_STORE = {"name": "Demo Coffee Oost", "address": "Linnaeusstraat 2, Amsterdam", "latitude": 52.3601,
             "longitude": 4.9261, "relevant_text": "Two stamps on Mondays",
             "beacon_uuid": "E2C56DB5-DFFB-48D2-B060-D0F5A71096E0", "beacon_major": 1, "beacon_minor": 7}


def _csp(response: Any) -> dict[str, str]:
    parts = response.headers["Content-Security-Policy"].split("; ")
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in parts}


def test_the_page_lists_the_stores_and_draws_them_without_asking_another_origin(
        app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(app, "marketer")
    page = client.get("/console/stores")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("Demo Coffee Centraal", "Demo Coffee Jordaan", "Demo Coffee De Pijp"):
        assert name in html
    assert "52.37910, 4.90030" in html  # the coordinates, as text
    assert html.count('class="stores-dot"') == 3 and 'id="stores-plot"' in html  # drawn here, as SVG
    assert "leaflet" not in html.lower() and 'id="stores-map"' not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from another origin
    assert _csp(page)["img-src"] == "'self' data: blob:"
    assert 'data-api="POST /api/v1/stores"' in html
    for field in ("store-name", "store-address", "store-latitude", "store-longitude", "store-relevant-text",
                  "store-beacon-uuid", "store-beacon-major", "store-beacon-minor"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert '<a href="/console/stores"' in html and ">Stores</a>" in html  # the menu entry


def test_the_page_speaks_russian(app: Flask, seeded: dict[str, Any]) -> None:
    html = as_role(app, "marketer").get("/console/stores?lang=ru").get_data(as_text=True)
    for text in ("Магазины", "Добавить магазин", "Широта", "Долгота", "Текст на экране блокировки", "Маячок"):
        assert text in html
    assert '<html lang="ru">' in html


def test_a_marketer_adds_changes_and_removes_a_store_through_the_api(app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(app, "marketer")
    headers = api_headers(client)
    made = client.post("/api/v1/stores", headers=headers, json=NEW_STORE)
    assert made.status_code == 201, made.get_json()
    store_id = made.get_json()["id"]
    listed = client.get(f"/console/stores?made={store_id}").get_data(as_text=True)
    assert f'id="store-{store_id}"' in listed and "Demo Coffee Oost" in listed and "Store added." in listed
    assert listed.count('class="stores-dot"') == 4

    edit = client.get(f"/console/stores/{store_id}").get_data(as_text=True)
    assert f'data-api="PATCH /api/v1/stores/{store_id}"' in edit and 'value="Two stamps on Mondays"' in edit
    assert 'data-blank="null"' in edit  # a cleared text is sent as null, so it really clears
    assert f'data-api="DELETE /api/v1/stores/{store_id}"' in edit
    # what the edit form sends once the marketer empties the text and the beacon
    cleared = client.patch(f"/api/v1/stores/{store_id}", headers=headers,
                           json={"relevant_text": None, "beacon_uuid": None, "beacon_major": None,
                                 "beacon_minor": None, "address": ""})
    assert cleared.status_code == 200 and cleared.get_json()["relevant_text"] is None
    assert cleared.get_json()["beacon_uuid"] is None and cleared.get_json()["address"] == ""
    assert client.delete(f"/api/v1/stores/{store_id}", headers=headers).status_code == 204
    assert client.get(f"/console/stores/{store_id}").status_code == 404


def test_a_store_with_cashiers_says_why_it_cannot_be_removed(app: Flask, seeded: dict[str, Any]) -> None:
    html = as_role(app, "owner").get(f"/console/stores/{seeded['store_ids'][0]}").get_data(as_text=True)
    assert 'id="store-remove-blocked"' in html


def test_an_analyst_sees_the_stores_but_no_controls_and_the_api_refuses(app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(app, "analyst")
    html = client.get("/console/stores").get_data(as_text=True)
    assert "Demo Coffee Centraal" in html and 'id="stores-read-only"' in html
    assert "data-api" not in html and "<form id=\"store" not in html and "/console/stores/" not in html
    store = seeded["store_ids"][0]
    detail = client.get(f"/console/stores/{store}").get_data(as_text=True)
    assert "data-api" not in detail and "Demo Coffee Centraal" in detail
    refused = client.post("/api/v1/stores", headers=api_headers(client), json=NEW_STORE)
    assert refused.status_code == 403
    assert client.patch(f"/api/v1/stores/{store}", headers=api_headers(client), json={"name": "X"}).status_code == 403


def test_a_store_manager_sees_only_their_stores_and_changes_none(app: Flask, seeded: dict[str, Any]) -> None:
    mine, other = seeded["store_ids"][0], seeded["store_ids"][1]
    client = as_role(app, "store_manager", store_ids=[mine])
    html = client.get("/console/stores").get_data(as_text=True)
    assert "Demo Coffee Centraal" in html and "Demo Coffee Jordaan" not in html and "Demo Coffee De Pijp" not in html
    assert html.count('class="stores-dot"') == 1 and "data-api" not in html
    assert client.get(f"/console/stores/{other}").status_code == 404
    assert client.get(f"/console/stores/{mine}").status_code == 200
    assert client.post("/api/v1/stores", headers=api_headers(client), json=NEW_STORE).status_code == 403


@pytest.fixture
def tiles_app(settings: Settings) -> Any:
    tiled = dataclasses.replace(settings, map_tile_url="https://tile.example/{z}/{x}/{y}.png",
                                map_tile_attribution="© Example <b>maps</b>")
    tiled.instance_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(tiled)
    app.config["TESTING"] = True
    yield app
    app.extensions["db_engine"].dispose()


def test_a_configured_tile_server_gets_leaflet_and_only_this_page_lets_its_origin_in(
        tiles_app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(tiles_app, "marketer")
    page = client.get("/console/stores")
    html = page.get_data(as_text=True)
    assert _csp(page)["img-src"] == "'self' data: blob: https://tile.example"
    assert _csp(page)["script-src" if "script-src" in _csp(page) else "default-src"] == "'self'"
    assert "/static/stores/vendor/leaflet-1.9.4/leaflet.js" in html and "/static/stores/stores-map.js" in html
    assert 'data-tiles="https://tile.example/{z}/{x}/{y}.png"' in html and 'data-pick="true"' in html
    assert "&lt;b&gt;maps&lt;/b&gt;" in html  # the credit is text
    assert 'id="stores-plot"' not in html
    assert client.get(f"/console/stores/{seeded['store_ids'][0]}").headers["Content-Security-Policy"].count(
        "https://tile.example") == 1
    for elsewhere in ("/console/staff", "/console/dashboard", "/console/security"):
        assert "tile.example" not in client.get(elsewhere).headers["Content-Security-Policy"], elsewhere
    assert client.get("/static/stores/vendor/leaflet-1.9.4/leaflet.js").status_code == 200
    assert client.get("/static/stores/vendor/leaflet-1.9.4/LICENSE").status_code == 200


def test_the_tile_address_is_checked_at_start_up() -> None:
    assert Settings.from_env({}).map_tile_url is None
    assert Settings.from_env({"MAP_TILE_URL": "https://tile.example/{z}/{x}/{y}.png"}).map_tile_url
    assert tile_origin("https://{s}.tile.example/{z}/{x}/{y}.png") == "https://*.tile.example"
    assert tile_origin("http://127.0.0.1:8080/t/{z}/{x}/{y}.png") == "http://127.0.0.1:8080"
    for wrong in ("tile.example/{z}/{x}/{y}.png", "https://tile.example/{z}/{x}.png", "javascript:{z}{x}{y}",
                  "https://a{s}.tile.example/{z}/{x}/{y}.png", "https://user@tile.example/{z}/{x}/{y}"):
        with pytest.raises(ValueError):
            _tile_url(wrong)


def test_the_plot_keeps_north_up_and_east_right_inside_its_box() -> None:
    dots = plot.place([("Centraal", 52.3791, 4.9003), ("Jordaan", 52.3780, 4.8820), ("De Pijp", 52.3557, 4.8947)])
    centraal, jordaan, pijp = dots
    assert [dot.number for dot in dots] == [1, 2, 3]
    assert pijp.y > centraal.y and jordaan.x < centraal.x  # the south is lower, the west more left
    assert all(plot.PAD - 0.1 <= dot.x <= plot.WIDTH - plot.PAD + 0.1 for dot in dots)
    assert all(plot.PAD - 0.1 <= dot.y <= plot.HEIGHT - plot.PAD + 0.1 for dot in dots)
    only = plot.place([("Alone", 10.0, 20.0)])[0]
    assert (only.x, only.y) == (plot.WIDTH / 2, plot.HEIGHT / 2)
    assert plot.place([]) == []
    assert 2.5 < plot.span_km([("a", 52.3791, 4.9003), ("b", 52.3557, 4.8947)]) < 2.7


def test_another_brands_staff_see_none_of_these_stores(app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(app, "owner", brand_name="Other Beans")
    html = client.get("/console/stores").get_data(as_text=True)
    assert "Demo Coffee" not in html and 'id="stores-none"' in html
    assert client.get(f"/console/stores/{seeded['store_ids'][0]}").status_code == 404
    staff = client.get("/console/staff").get_data(as_text=True)
    assert "Demo Cashier" not in staff and 'id="cashiers-none"' in staff
