"""A store manager, signed in through the console, runs their stores' cashiers, tills and counter
and nothing of the brand's other stores (service/access/store_scope.py); owners and API keys
are not limited by it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.access import accounts
from service.models import Brand, Cashier
from service.platform import db
from tests.helpers import bearer
from tests.service.access.test_console_access import PROBLEM, csrf, owner, sign_in  # noqa: F401 - `owner` fixture

PASSWORD = "correct horse battery"


@pytest.fixture
def manager(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """The manager of the demo brand's first store (the demo cashier works there), signed in,
    and a cashier of the second store made by the owner's key."""
    mine, other = seeded["store_ids"][0], seeded["store_ids"][1]
    with app.app_context():
        session = db.session()
        accounts.create_account(session, session.get(Brand, seeded["brand_id"]), "sam@example.com", PASSWORD,
                                "store_manager", [mine])
        session.commit()
        demo_cashier = session.scalar(select(Cashier.id).where(Cashier.brand_id == seeded["brand_id"],
                                                               Cashier.store_id == mine))
    client = app.test_client()
    assert sign_in(client, "sam@example.com", PASSWORD).status_code == 302
    key = bearer(seeded["api_key"])
    theirs = client.post("/api/v1/cashiers", headers=key, json={"name": "Olga", "store_id": other}).get_json()
    wide = client.post("/api/v1/cashiers", headers=key, json={"name": "Floater", "store_id": None}).get_json()
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=key,
                       json={"customer": {"name": "Anna Smith"}}).get_json()
    return {**seeded, "client": client, "csrf": {"X-CSRF-Token": csrf(client)}, "mine": mine, "other": other,
            "demo_cashier": demo_cashier, "theirs": theirs["id"], "wide": wide["id"], "card": card["id"]}


def _refused_for(response: Any, store_id: int | None) -> None:
    assert response.status_code == 403 and response.content_type == PROBLEM, response.get_json()
    body = response.get_json()
    assert body["type"] == "/problems/store-not-yours" and body["store_id"] == store_id
    if store_id is not None:
        assert f"Store {store_id} " in body["detail"]


def test_a_store_manager_makes_a_cashier_and_pairs_a_till_in_their_store(manager: dict[str, Any]) -> None:
    client, headers = manager["client"], manager["csrf"]
    made = client.post("/api/v1/cashiers", headers=headers, json={"name": "Eva", "store_id": manager["mine"],
                                                                  "pin": "4071"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["store_id"] == manager["mine"] and made.get_json()["token"].startswith("ct_")
    till = client.post("/api/v1/tills", headers=headers, json={"name": "Counter 1", "store_id": manager["mine"]})
    assert till.status_code == 201 and till.get_json()["key"].startswith("tl_")
    assert client.put(f"/api/v1/cashiers/{made.get_json()['id']}/pin", headers=headers,
                      json={"pin": "5082"}).status_code == 200
    assert client.patch(f"/api/v1/cashiers/{manager['demo_cashier']}", headers=headers,
                        json={"name": "Demo Cashier (mornings)"}).status_code == 200
    assert client.delete(f"/api/v1/tills/{till.get_json()['id']}", headers=headers).status_code == 200
    posted = client.post(f"/api/v1/cards/{manager['card']}/transactions",
                         headers={**headers, "Idempotency-Key": "sam-1"},
                         json={"type": "earn", "points": 5, "store_id": manager["mine"]})
    assert posted.status_code == 201, posted.get_json()


def test_a_store_manager_is_refused_another_store_and_brand_wide(manager: dict[str, Any]) -> None:
    client, headers, other = manager["client"], manager["csrf"], manager["other"]
    _refused_for(client.post("/api/v1/cashiers", headers=headers, json={"name": "Eva", "store_id": other}), other)
    _refused_for(client.post("/api/v1/cashiers", headers=headers, json={"name": "Eva"}), None)
    _refused_for(client.post("/api/v1/tills", headers=headers, json={"name": "T", "store_id": other}), other)
    _refused_for(client.post("/api/v1/tills", headers=headers, json={"name": "T"}), None)
    _refused_for(client.patch(f"/api/v1/cashiers/{manager['demo_cashier']}", headers=headers,
                              json={"store_id": other}), other)  # no moving their cashier away either
    _refused_for(client.patch(f"/api/v1/cashiers/{manager['demo_cashier']}", headers=headers,
                              json={"store_id": None}), None)
    for n, store_id in enumerate((other, None)):
        _refused_for(client.post(f"/api/v1/cards/{manager['card']}/transactions",
                                 headers={**headers, "Idempotency-Key": f"sam-x{n}"},
                                 json={"type": "earn", "points": 5, "store_id": store_id}), store_id)
    # stores are the marketer's: a store manager reads their own stores (test_store_manager_reads.py), edits none
    edit = client.patch(f"/api/v1/stores/{manager['mine']}", headers=headers, json={"name": "Renamed"})
    assert edit.status_code == 403 and edit.get_json()["type"] == "/problems/permission-missing"


def test_a_store_manager_neither_sees_nor_edits_cashiers_and_tills_of_other_stores(
        app: Flask, manager: dict[str, Any]) -> None:
    client, headers, key = manager["client"], manager["csrf"], bearer(manager["api_key"])
    listed = {c["id"] for c in client.get("/api/v1/cashiers").get_json()}
    assert manager["demo_cashier"] in listed and not listed & {manager["theirs"], manager["wide"]}
    for cashier_id in (manager["theirs"], manager["wide"]):  # another store's and a brand-wide one alike
        missing = {"title": "Cashier not found", "detail": f"No cashier {cashier_id} in your brand."}
        for method, path, body in (("GET", "", None), ("PATCH", "", {"active": False}),
                                   ("PUT", "/pin", {"pin": "4071"}), ("DELETE", "/pin", None)):
            answer = client.open(f"/api/v1/cashiers/{cashier_id}{path}", method=method, json=body, headers=headers)
            assert answer.status_code == 404 and answer.content_type == PROBLEM, (method, path)
            assert {k: answer.get_json()[k] for k in missing} == missing  # word for word a missing id's
    assert client.get("/api/v1/cashiers/999999").get_json()["detail"] == "No cashier 999999 in your brand."
    with app.app_context():
        assert db.session().get(Cashier, manager["theirs"]).active  # nothing changed

    far = client.post("/api/v1/tills", headers=key, json={"name": "Far", "store_id": manager["other"]}).get_json()
    assert far["id"] not in {t["id"] for t in client.get("/api/v1/tills").get_json()}
    assert client.delete(f"/api/v1/tills/{far['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/tills", headers=key).get_json()[-1]["revoked_at"] is None


def test_an_owner_and_an_api_key_are_not_limited_to_stores(client: FlaskClient, owner: dict[str, Any]) -> None:  # noqa: F811
    headers, other = {"X-CSRF-Token": csrf(client)}, owner["store_ids"][1]
    for who in (headers, bearer(owner["api_key"])):
        for store_id in (other, None):
            made = client.post("/api/v1/cashiers", headers=who, json={"name": "Eva", "store_id": store_id})
            assert made.status_code == 201, made.get_json()
            till = client.post("/api/v1/tills", headers=who, json={"name": "T", "store_id": store_id})
            assert till.status_code == 201
            assert client.delete(f"/api/v1/tills/{till.get_json()['id']}", headers=who).status_code == 200
            assert client.patch(f"/api/v1/cashiers/{made.get_json()['id']}", headers=who,
                                json={"active": False}).status_code == 200
        listed = client.get("/api/v1/cashiers", headers=who).get_json()
        assert None in {c["store_id"] for c in listed} and other in {c["store_id"] for c in listed}


def test_a_store_manager_of_no_store_sees_no_cashier_and_makes_none(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        accounts.create_account(session, session.get(Brand, seeded["brand_id"]), "new@example.com", PASSWORD,
                                "store_manager", [])
        session.commit()
    client = app.test_client()
    assert sign_in(client, "new@example.com", PASSWORD).status_code == 302
    assert client.get("/api/v1/cashiers").get_json() == [] and client.get("/api/v1/tills").get_json() == []
    refused = client.post("/api/v1/cashiers", headers={"X-CSRF-Token": csrf(client)},
                          json={"name": "Eva", "store_id": seeded["store_ids"][0]})
    _refused_for(refused, seeded["store_ids"][0])
    assert refused.get_json()["your_store_ids"] == [] and "none yet" in refused.get_json()["detail"]
