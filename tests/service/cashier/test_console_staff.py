"""The console's staff page (service/cashier/staff_page.py): cashiers and tills listed from the
models, changed only through /api/v1/cashiers and /api/v1/tills, a new till's pairing QR (drawn by
the API) decoding to its pair URL, and a store manager limited to their stores."""

from __future__ import annotations

import base64
import io
from typing import Any

import zxingcpp
from flask import Flask
from PIL import Image

from tests.console_helpers import api_headers, as_role
from tests.helpers import bearer


def test_the_page_lists_cashiers_and_tills_with_their_controls(app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(app, "owner")
    till = client.post("/api/v1/tills", headers=api_headers(client),
                       json={"name": "Centraal, counter 1", "store_id": seeded["store_ids"][0]}).get_json()
    page = client.get("/console/staff")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Demo Cashier" in html and "Centraal, counter 1" in html and f'id="till-{till["id"]}"' in html
    for form in ('id="cashier-form" data-api="POST /api/v1/cashiers"', 'id="till-form" data-api="POST /api/v1/tills"',
                 f'data-api="DELETE /api/v1/tills/{till["id"]}"'):
        assert form in html
    for field in ("cashier-name", "cashier-store", "cashier-pin", "till-name", "till-store", "till-idle"):
        assert f'<label for="{field}">' in html
    assert 'id="till-qr"' in html and 'id="cashier-made-token"' in html
    assert "Any store (brand-wide)" in html  # an owner may make brand-wide cashiers and tills
    assert '<a href="/console/staff"' in html


def test_the_page_speaks_russian(app: Flask, seeded: dict[str, Any]) -> None:
    html = as_role(app, "owner").get("/console/staff?lang=ru").get_data(as_text=True)
    for text in ("Кассиры и кассы", "Добавить кассира", "Подключить кассу", "Персонал", "Задать PIN"):
        assert text in html


def test_cashier_changes_the_page_offers_work_through_the_api(app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(app, "owner")
    headers = api_headers(client)
    made = client.post("/api/v1/cashiers", headers=headers,
                       json={"name": "Eva", "store_id": seeded["store_ids"][1], "pin": "4071"})
    assert made.status_code == 201 and made.get_json()["token"].startswith("ct_")
    cashier = made.get_json()["id"]
    html = client.get("/console/staff").get_data(as_text=True)
    assert f'data-api="PATCH /api/v1/cashiers/{cashier}"' in html
    assert f'data-api="PUT /api/v1/cashiers/{cashier}/pin"' in html
    assert f'data-api="DELETE /api/v1/cashiers/{cashier}/pin"' in html
    assert "PIN set" in html
    # what the rename, disable, clear-PIN and set-PIN forms send
    assert client.patch(f"/api/v1/cashiers/{cashier}", headers=headers, json={"name": "Eva B"}).status_code == 200
    assert client.patch(f"/api/v1/cashiers/{cashier}", headers=headers, json={"active": False}).status_code == 200
    assert client.delete(f"/api/v1/cashiers/{cashier}/pin", headers=headers).get_json()["has_pin"] is False
    html = client.get("/console/staff").get_data(as_text=True)
    assert "Eva B" in html and "disabled" in html and f'id="cashier-clear-pin-{cashier}"' not in html
    assert 'name="active" data-type="json" value="true"' in html  # the enable button now
    assert client.put(f"/api/v1/cashiers/{cashier}/pin", headers=headers, json={"pin": "1234"}).status_code == 422


def test_a_new_tills_qr_decodes_to_its_pair_url(app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(app, "owner")
    till = client.post("/api/v1/tills", headers=api_headers(client), json={"name": "Counter 2"}).get_json()
    assert till["pair_url"] == f"http://127.0.0.1:8000/cashier#till={till['key']}"
    prefix = "data:image/png;base64,"
    assert till["pair_qr"].startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(till["pair_qr"][len(prefix):])))
    decoded = zxingcpp.read_barcodes(image)
    assert [code.text for code in decoded] == [till["pair_url"]]
    listed = client.get("/api/v1/tills", headers=bearer(seeded["api_key"])).get_json()
    assert all("pair_qr" not in row and "key" not in row for row in listed)  # shown that once only


def test_an_analyst_sees_staff_but_no_controls_and_the_api_refuses(app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(app, "analyst")
    html = client.get("/console/staff").get_data(as_text=True)
    assert "Demo Cashier" in html and 'id="staff-read-only"' in html and "data-api" not in html
    headers = api_headers(client)
    assert client.post("/api/v1/cashiers", headers=headers, json={"name": "Eva"}).status_code == 403
    assert client.post("/api/v1/tills", headers=headers, json={"name": "T"}).status_code == 403


def test_a_marketer_runs_the_brands_cashiers_and_tills(app: Flask, seeded: dict[str, Any]) -> None:
    """A marketer runs the whole program, its counters included (brand-wide, unlike a store manager)."""
    client = as_role(app, "marketer")
    html = client.get("/console/staff").get_data(as_text=True)
    assert "Demo Cashier" in html and 'id="cashier-form"' in html and 'id="till-form"' in html
    assert client.post("/api/v1/cashiers", headers=api_headers(client), json={"name": "Eva"}).status_code == 201
    assert client.post("/api/v1/tills", headers=api_headers(client), json={"name": "T"}).status_code == 201


def test_a_store_manager_sees_and_manages_only_their_stores_staff(app: Flask, seeded: dict[str, Any]) -> None:
    mine, other = seeded["store_ids"][0], seeded["store_ids"][1]
    key = bearer(seeded["api_key"])
    far_cashier = app.test_client().post("/api/v1/cashiers", headers=key,
                                         json={"name": "Olga Far", "store_id": other}).get_json()
    far_till = app.test_client().post("/api/v1/tills", headers=key,
                                      json={"name": "Far counter", "store_id": other}).get_json()
    client = as_role(app, "store_manager", store_ids=[mine])
    html = client.get("/console/staff").get_data(as_text=True)
    assert "Demo Cashier" in html and 'id="cashier-form"' in html
    assert "Olga Far" not in html and "Far counter" not in html
    assert "Any store (brand-wide)" not in html and "Demo Coffee Jordaan" not in html  # their store only to pick
    assert f'<option value="{mine}"' in html
    headers = api_headers(client)
    assert client.post("/api/v1/cashiers", headers=headers, json={"name": "Eva", "store_id": mine}).status_code == 201
    assert client.post("/api/v1/cashiers", headers=headers, json={"name": "Eva", "store_id": other}).status_code == 403
    assert client.patch(f"/api/v1/cashiers/{far_cashier['id']}", headers=headers,
                        json={"active": False}).status_code == 404
    assert client.delete(f"/api/v1/tills/{far_till['id']}", headers=headers).status_code == 404
