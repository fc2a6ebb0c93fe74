"""The brand API's own resources: stores, card look-up/edit/void, program rules and tiers, API keys."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import Card, LedgerEntry, PushDelivery, Registration, Store
from service.platform import db
from tests.helpers import bearer


def issue(client: FlaskClient, seeded: dict[str, Any], name: str, **customer: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": name, **customer}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def register_phone(app: Flask, card_id: int, token: str = "ab" * 32) -> None:
    with app.app_context():
        session = db.session()
        card = session.get(Card, card_id)
        session.add(Registration(device_library_identifier=f"dev-{card_id}", card_id=card_id,
                                 pass_type_identifier=card.program.pass_type_identifier, push_token=token,
                                 client_kind="apple"))
        session.commit()


def versions(app: Flask, *card_ids: int) -> list[int]:
    with app.app_context():
        return [db.session().get(Card, card_id).version for card_id in card_ids]


def next_link(response: Any) -> str | None:
    link = response.headers.get("Link")
    if not link:
        return None
    url = link.split(";")[0].strip("<>")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# -- stores ------------------------------------------------------------------------------------


def test_store_crud_with_beacon_updates_passes(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    card = issue(client, seeded, "Anna")
    register_phone(app, card["id"])
    [before] = versions(app, card["id"])
    created = client.post("/api/v1/stores", headers=key, json={
        "name": "Demo Coffee Zuid", "address": "Zuidas 1", "latitude": 52.338, "longitude": 4.872,
        "relevant_text": "Coffee time?", "beacon_uuid": "E2C56DB5-DFFB-48D2-B060-D0F5A71096E0",
        "beacon_major": 1, "beacon_minor": 7})
    assert created.status_code == 201, created.get_json()
    store = created.get_json()
    assert (store["beacon_uuid"], store["beacon_major"], store["beacon_minor"]) == (
        "E2C56DB5-DFFB-48D2-B060-D0F5A71096E0", 1, 7)
    [after_create] = versions(app, card["id"])
    assert after_create > before
    with app.app_context():
        pushes = db.session().scalars(select(PushDelivery.card_version).where(PushDelivery.card_id == card["id"]))
        assert after_create in set(pushes)

    patched = client.patch(f"/api/v1/stores/{store['id']}", headers=key, json={"relevant_text": "Free cookie"})
    assert patched.status_code == 200
    assert patched.get_json()["relevant_text"] == "Free cookie"
    assert patched.get_json()["name"] == "Demo Coffee Zuid"
    assert versions(app, card["id"])[0] > after_create
    # Half a beacon is refused, also when completing an existing store.
    bad = client.patch(f"/api/v1/stores/{store['id']}", headers=key, json={"beacon_uuid": None})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "beacon_uuid"
    bad = client.post("/api/v1/stores", headers=key, json={"name": "X", "latitude": 91, "longitude": 0,
                                                           "beacon_major": 70000})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.get_json()["errors"]} == {"latitude", "beacon_major"}

    assert client.get(f"/api/v1/stores/{store['id']}", headers=key).get_json()["id"] == store["id"]
    assert client.delete(f"/api/v1/stores/{store['id']}", headers=key).status_code == 204
    assert client.get(f"/api/v1/stores/{store['id']}", headers=key).status_code == 404


def test_store_in_use_is_not_deleted(client: FlaskClient, seeded: dict[str, Any]) -> None:
    # The demo cashier works at the first store.
    response = client.delete(f"/api/v1/stores/{seeded['store_ids'][0]}", headers=bearer(seeded["api_key"]))
    assert response.status_code == 409
    assert response.get_json()["type"] == "/problems/store-in-use"


def test_store_list_paginates_with_link(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    for n in range(4):
        client.post("/api/v1/stores", headers=key, json={"name": f"S{n}", "latitude": 1, "longitude": 2})
    seen: list[int] = []
    url: str | None = "/api/v1/stores?limit=3"
    pages = 0
    while url:
        response = client.get(url, headers=key)
        assert response.status_code == 200
        seen += [store["id"] for store in response.get_json()]
        url = next_link(response)
        pages += 1
    assert pages == 3 and len(seen) == 7 and seen == sorted(seen)
    assert client.get("/api/v1/stores?cursor=garbage", headers=key).status_code == 422
    assert client.get("/api/v1/stores?limit=0", headers=key).status_code == 422


# -- cards ---------------------------------------------------------------------------------------


def test_find_cards_by_serial_phone_email_and_filters(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    anna = issue(client, seeded, "Anna Smith", email="Anna@Example.com", phone="+31 6 1111 1111")
    bob = issue(client, seeded, "Bob Jones", phone="+31 6 2222 2222")
    carl = issue(client, seeded, "Carl Smith")

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/cards?{query}", headers=key)
        assert response.status_code == 200, response.get_json()
        return [card["id"] for card in response.get_json()]

    assert ids(f"serial_number={bob['serial_number']}") == [bob["id"]]
    assert ids("email=anna@example.com") == [anna["id"]]
    assert ids("phone=%2B31 6 2222 2222") == [bob["id"]]
    assert ids("name=smith") == [carl["id"], anna["id"]]
    assert ids(f"program_id={seeded['program_id']}&limit=2") == [carl["id"], bob["id"]]
    assert ids("voided=true") == []
    assert ids("tier=Gold") == []
    response = client.get("/api/v1/cards?limit=2", headers=key)
    second = client.get(next_link(response), headers=key).get_json()
    assert [card["id"] for card in second] == [anna["id"]]


def test_patch_holder_updates_the_pass(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    card = issue(client, seeded, "Anna", email="anna@example.com")
    other = issue(client, seeded, "Bob", email="bob@example.com")
    register_phone(app, card["id"])
    [before] = versions(app, card["id"])
    response = client.patch(f"/api/v1/cards/{card['id']}", headers=key, json={
        "name": "Anna de Vries", "phone": "+31 6 3333 3333", "birthday": "1990-04-01",
        "home_store_id": seeded["store_ids"][1]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["customer"]["name"] == "Anna de Vries"
    assert body["customer"]["birthday"] == "1990-04-01"
    assert body["customer"]["home_store_id"] == seeded["store_ids"][1]
    assert body["version"] == before + 1
    with app.app_context():
        assert db.session().scalar(select(PushDelivery.id).where(
            PushDelivery.card_id == card["id"], PushDelivery.card_version == before + 1)) is not None
    # Unchanged values change nothing.
    again = client.patch(f"/api/v1/cards/{card['id']}", headers=key, json={"name": "Anna de Vries"})
    assert again.get_json()["version"] == before + 1
    # Another card's email is refused, as is garbage.
    taken = client.patch(f"/api/v1/cards/{card['id']}", headers=key, json={"email": "bob@example.com"})
    assert taken.status_code == 409
    assert client.patch(f"/api/v1/cards/{card['id']}", headers=key, json={"email": "nope"}).status_code == 422
    assert client.patch(f"/api/v1/cards/{card['id']}", headers=key, json={"home_store_id": 999999}).status_code == 422
    assert client.get(f"/api/v1/cards/{other['id']}", headers=key).get_json()["customer"]["email"] == "bob@example.com"


def test_void_card(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    card = issue(client, seeded, "Anna")
    register_phone(app, card["id"])
    response = client.post(f"/api/v1/cards/{card['id']}/void", headers=key, json={"reason": "fraud"})
    assert response.status_code == 200
    assert response.get_json()["voided"] is True
    assert response.get_json()["version"] == card["version"] + 1
    again = client.post(f"/api/v1/cards/{card['id']}/void", headers=key, json={})
    assert again.get_json()["version"] == card["version"] + 1  # idempotent
    refused = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**key, "Idempotency-Key": "k"},
                          json={"type": "earn", "points": 5})
    assert refused.status_code == 409
    with app.app_context():
        session = db.session()
        reasons = session.scalars(select(LedgerEntry.reason).where(LedgerEntry.card_id == card["id"])).all()
        assert "voided: fraud" in reasons
        assert session.scalar(select(PushDelivery.id).where(PushDelivery.card_id == card["id"])) is not None
    assert [c["id"] for c in client.get("/api/v1/cards?voided=true", headers=key).get_json()] == [card["id"]]


# -- programs and tiers --------------------------------------------------------------------------


def test_program_rules_change_recomputes_cards(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    program = seeded["program_id"]
    card = issue(client, seeded, "Anna")
    earned = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**key, "Idempotency-Key": "p1"},
                         json={"type": "purchase", "amount": "12.34"}).get_json()
    assert earned["points"] == 123  # demo: 10 points per euro, rounded down
    version_before = client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json()["version"]
    response = client.patch(f"/api/v1/programs/{program}", headers=key, json={
        "points_per_unit": "2.5", "rounding": "up", "points_expire_days": None, "terms": "New terms"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["points_per_unit"], body["rounding"], body["points_expire_days"]) == ("2.5000", "up", None)
    assert client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json()["version"] > version_before
    earned = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**key, "Idempotency-Key": "p2"},
                         json={"type": "purchase", "amount": "1.01"}).get_json()
    assert earned["points"] == 3  # 2.525 rounded up
    assert earned["points_expire_at"] is None
    bad = client.patch(f"/api/v1/programs/{program}", headers=key, json={"kind": "lottery", "rounding": "sideways",
                                                                        "cashback_percent": "101"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.get_json()["errors"]} == {"kind", "rounding", "cashback_percent"}
    conflict = client.patch(f"/api/v1/programs/{program}", headers=key,
                            json={"kind": "discount", "tier_basis": "points"})
    assert conflict.status_code == 422
    assert client.get(f"/api/v1/programs/{program}", headers=key).get_json()["kind"] == "points"  # nothing written


def test_tiers_crud_moves_cards(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    program = seeded["program_id"]
    tiers = client.get(f"/api/v1/programs/{program}/tiers", headers=key).get_json()
    assert [t["name"] for t in tiers] == ["Silver", "Gold", "Platinum"]
    card = issue(client, seeded, "Anna")
    client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**key, "Idempotency-Key": "e1"},
                json={"type": "earn", "points": 60})
    before = client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json()
    assert before["tier"] is None
    bronze = client.post(f"/api/v1/programs/{program}/tiers", headers=key, json={
        "name": "Bronze", "threshold": "50", "earn_multiplier": "1.1", "background_color": "#8c5a2b"})
    assert bronze.status_code == 201, bronze.get_json()
    bronze_id = bronze.get_json()["id"]
    after = client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json()
    assert after["tier"] == "Bronze" and after["version"] == before["version"] + 1  # one new version, one push
    duplicate = client.post(f"/api/v1/programs/{program}/tiers", headers=key,
                            json={"name": "Bronze", "threshold": "70"})
    assert duplicate.status_code == 409
    renamed = client.patch(f"/api/v1/programs/{program}/tiers/{bronze_id}", headers=key,
                           json={"name": "Copper", "threshold": "55"})
    assert renamed.status_code == 200 and renamed.get_json()["threshold"] == "55.00"
    assert client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json()["tier"] == "Copper"
    raised = client.patch(f"/api/v1/programs/{program}/tiers/{bronze_id}", headers=key, json={"threshold": "80"})
    assert raised.status_code == 200
    assert client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json()["tier"] is None
    client.patch(f"/api/v1/programs/{program}/tiers/{bronze_id}", headers=key, json={"threshold": "10"})
    assert client.delete(f"/api/v1/programs/{program}/tiers/{bronze_id}", headers=key).status_code == 204
    assert client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json()["tier"] is None
    assert client.delete(f"/api/v1/programs/{program}/tiers/{bronze_id}", headers=key).status_code == 404
    bad = client.post(f"/api/v1/programs/{program}/tiers", headers=key, json={"name": "", "threshold": "-1",
                                                                             "label_color": "red"})
    assert {e["field"] for e in bad.get_json()["errors"]} == {"name", "threshold", "label_color"}


def test_create_program(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    response = client.post("/api/v1/programs", headers=key, json={
        "name": "Cashback Club", "kind": "cashback", "cashback_percent": "5", "currency": "EUR"})
    assert response.status_code == 201, response.get_json()
    program = response.get_json()
    assert program["certificate"]["dev"] is True
    card = client.post(f"/api/v1/programs/{program['id']}/cards", headers=key,
                       json={"customer": {"name": "Zed"}}).get_json()
    earned = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**key, "Idempotency-Key": "c1"},
                         json={"type": "purchase", "amount": "20.00"}).get_json()
    assert earned["balance_money"] == "1.00"
    assert [p["id"] for p in client.get("/api/v1/programs", headers=key).get_json()] == [
        seeded["program_id"], program["id"]]


def test_a_program_without_a_currency_gets_the_default_one(app: Flask, client: FlaskClient,
                                                            seeded: dict[str, Any]) -> None:
    import dataclasses

    key = bearer(seeded["api_key"])
    made = client.post("/api/v1/programs", headers=key, json={"name": "Plain"})
    assert made.status_code == 201 and made.get_json()["currency"] == "EUR"
    app.config["PASSCAST"] = dataclasses.replace(app.config["PASSCAST"], default_currency="RUB")
    made = client.post("/api/v1/programs", headers=key, json={"name": "Rouble club"})
    assert made.get_json()["currency"] == "RUB"
    # Now the brand's programs count in two currencies: its money figures carry none.
    summary = client.get("/api/v1/analytics/summary", headers=key).get_json()
    assert summary["currency"] is None


def test_default_currency_setting_is_an_iso_code() -> None:
    from service.platform.config import Settings

    assert Settings.from_env({"DEFAULT_CURRENCY": "rub"}).default_currency == "RUB"
    assert Settings.from_env({}).default_currency == "EUR"
    with pytest.raises(ValueError, match="DEFAULT_CURRENCY must be an ISO 4217 code"):
        Settings.from_env({"DEFAULT_CURRENCY": "euro"})


# -- API keys ------------------------------------------------------------------------------------


def test_api_keys_create_list_revoke(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    created = client.post("/api/v1/api-keys", headers=key, json={"name": "POS sync"})
    assert created.status_code == 201
    new = created.get_json()
    assert new["key"].startswith(f"pk_{new['prefix']}_")
    listed = client.get("/api/v1/api-keys", headers=key).get_json()
    assert [k["name"] for k in listed] == ["demo", "POS sync"]
    assert all("key" not in k for k in listed)
    assert client.get(f"/api/v1/api-keys/{new['id']}", headers=key).get_json()["revoked_at"] is None
    # The new key works, sees the same brand, and can revoke the old one.
    assert client.get("/api/v1/programs", headers=bearer(new["key"])).status_code == 200
    old_id = listed[0]["id"]
    revoked = client.delete(f"/api/v1/api-keys/{old_id}", headers=bearer(new["key"]))
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"] is not None
    refused = client.get("/api/v1/programs", headers=key)
    assert refused.status_code == 401 and refused.headers["Content-Type"] == "application/problem+json"
    # The last active key stays.
    last = client.delete(f"/api/v1/api-keys/{new['id']}", headers=bearer(new["key"]))
    assert last.status_code == 409 and last.get_json()["type"] == "/problems/last-api-key"
    assert client.post("/api/v1/api-keys", headers=bearer(new["key"]), json={}).status_code == 422


def test_errors_are_problem_json(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    for method, url, body in [("get", "/api/v1/stores/999999", None), ("post", "/api/v1/stores", {"name": 1}),
                              ("get", "/api/v1/cards?limit=abc", None), ("get", "/api/v1/nothing-here", None),
                              ("delete", "/api/v1/programs", None)]:
        response = client.open(url, method=method.upper(), headers=key, json=body)
        assert response.status_code in (404, 405, 422), (url, response.status_code)
        assert response.headers["Content-Type"] == "application/problem+json", url
        problem = response.get_json()
        assert problem["status"] == response.status_code and problem["title"]
    assert client.get("/api/v1/stores").status_code == 401
    with client.application.app_context():
        assert db.session().scalar(select(Store.id).where(Store.name == "1")) is None


def test_broken_json_is_a_clear_problem(client: FlaskClient, seeded: dict[str, Any]) -> None:
    response = client.post("/api/v1/stores", headers=bearer(seeded["api_key"]), data="{bad",
                           content_type="application/json")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json()["detail"] == "The request body is not valid JSON."


def test_tier_strip_image(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    import io

    from PIL import Image

    key = bearer(seeded["api_key"])
    program = seeded["program_id"]
    gold = next(t for t in client.get(f"/api/v1/programs/{program}/tiers", headers=key).get_json()
                if t["name"] == "Gold")
    assert gold["has_strip"] is False
    card = issue(client, seeded, "Anna")
    buffer = io.BytesIO()
    Image.new("RGB", (375, 123), "gold").save(buffer, "PNG")
    url = f"/api/v1/programs/{program}/tiers/{gold['id']}/strip"
    assert client.put(url, headers=key, data=b"not an image", content_type="image/png").status_code == 422
    response = client.put(url, headers=key, data=buffer.getvalue(), content_type="image/png")
    assert response.status_code == 200 and response.get_json()["has_strip"] is True
    assert versions(app, card["id"])[0] == card["version"] + 1
    assert client.delete(url, headers=key).get_json()["has_strip"] is False
    assert client.put(f"/api/v1/programs/{program}/tiers/999999/strip", headers=key, data=buffer.getvalue(),
                      content_type="image/png").status_code == 404
