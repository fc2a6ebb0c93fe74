"""The till: POST /api/v1/cashier/scan with what the scanner read, or the typed short number."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from passes.cardcode import encode_card_code, short_number
from service.demo import create_api_key, create_brand, create_cashier
from service.models import Brand, Card, Cashier
from service.platform import db
from tests.helpers import bearer
from tests.service.loyalty.test_loyalty import issue, make_program, ok, transact


def scan(client: FlaskClient, token: str, code: Any) -> Any:
    return client.post("/api/v1/cashier/scan", json={"code": code}, headers=bearer(token))


def test_scanning_the_qr_code_returns_the_card_for_the_till(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "15.00"}))
    ok(transact(client, seeded["cashier_token"], card["id"], {"type": "redeem", "points": 20}))

    response = scan(client, seeded["cashier_token"], card["barcode_message"])
    assert response.status_code == 200
    found = response.get_json()
    assert (found["id"], found["number"]) == (card["id"], card["number"])
    assert found["customer"] == {"id": card["customer"]["id"], "name": "Anna Smith"}  # no email or phone
    assert "serial_number" not in found and "apple_pass_url" not in found  # the counter view
    assert (found["balance"], found["tier"], found["lifetime_spend"]) == (130, "Silver", "15.00")
    assert found["program"]["kind"] == "points" and found["discount_percent"] is None
    assert found["points_expire_at"] is not None  # the demo program's points live 12 months
    assert [(entry["type"], entry["points"]) for entry in found["recent_transactions"]] == [
        ("redeem", -20), ("purchase", 150), ("issue", 0)]
    assert found["recent_transactions"][0]["cashier_id"] is not None


def test_scanner_noise_and_typed_short_numbers_find_the_same_card(client: FlaskClient,
                                                                  seeded: dict[str, Any]) -> None:
    card = issue(client, seeded)
    issue(client, seeded, name="Someone Else")
    digits = card["number"].replace(" ", "")
    for code in (f"  {card['barcode_message'].lower()}\n", card["number"], digits,
                 "-".join(card["number"].split())):
        response = scan(client, seeded["cashier_token"], code)
        assert response.status_code == 200, (code, response.get_json())
        assert response.get_json()["id"] == card["id"]


def test_discount_and_cashback_cards_show_what_the_till_needs(client: FlaskClient, seeded: dict[str, Any],
                                                              app: Flask) -> None:
    discount = issue(client, seeded, make_program(app, seeded, kind="discount", discount_percent=Decimal("12.5")))
    found = scan(client, seeded["cashier_token"], discount["barcode_message"]).get_json()
    assert (found["discount_percent"], found["balance_money"], found["program"]["kind"]) == ("12.5", None, "discount")

    cashback = issue(client, seeded, make_program(app, seeded, kind="cashback", cashback_percent=Decimal(2)))
    ok(transact(client, seeded["cashier_token"], cashback["id"], {"type": "purchase", "amount": "49.99"}))
    found = scan(client, seeded["cashier_token"], cashback["barcode_message"]).get_json()
    assert (found["balance"], found["balance_money"]) == (99, "0.99")  # 2 % of 49.99 = 0.9998, rounded down


def _flip_last(code: str) -> str:
    return code[:-1] + ("A" if code[-1] != "A" else "B")


def test_forged_and_altered_codes_are_refused(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded)
    with app.app_context():
        brand = db.session().get(Brand, seeded["brand_id"])
        assert brand is not None
        ref, number = brand.code_ref, db.session().get(Card, card["id"]).number  # type: ignore[union-attr]
    forged = encode_card_code(ref, number, b"not-the-brand-secret-at-all")
    other_number = encode_card_code(ref, number + 1, b"not-the-brand-secret-at-all")
    for code in (_flip_last(card["barcode_message"]), forged, other_number, "PC1:garbage", "hello", "PC2:X:1:Y"):
        response = scan(client, seeded["cashier_token"], code)
        assert response.status_code == 422, code
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "/problems/invalid-card-code"
    assert "signature" in scan(client, seeded["cashier_token"], forged).get_json()["detail"]


def test_another_brands_card_is_refused(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    with app.app_context():
        other = create_brand(db.session(), "Other Tea", "other-tea")
        other_token = create_cashier(db.session(), other, "Tea Cashier", None)
        other_code = encode_card_code(other.code_ref, 123456789, other.code_secret)
        db.session().commit()
    card = issue(client, seeded)
    ours_at_their_till = scan(client, other_token, card["barcode_message"])
    assert ours_at_their_till.status_code == 403
    assert ours_at_their_till.get_json()["type"] == "/problems/foreign-card"
    theirs_at_our_till = scan(client, seeded["cashier_token"], other_code)
    assert theirs_at_our_till.status_code == 403
    # Their cashier typing our short number finds nothing: numbers are looked up in their brand only.
    assert scan(client, other_token, card["number"]).status_code == 404


def test_typos_unknown_numbers_and_voided_cards(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded)
    digits = card["number"].replace(" ", "")
    typo = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    wrong = scan(client, seeded["cashier_token"], typo)
    assert wrong.status_code == 422 and "check digit" in wrong.get_json()["detail"]
    with app.app_context():
        number = db.session().get(Card, card["id"]).number  # type: ignore[union-attr]
    missing = scan(client, seeded["cashier_token"], short_number(number + 1))
    assert missing.status_code == 404 and missing.get_json()["type"] == "/problems/card-not-found"

    with app.app_context():
        stored = db.session().get(Card, card["id"])
        assert stored is not None
        stored.voided = True
        db.session().commit()
    for code in (card["barcode_message"], card["number"]):
        voided = scan(client, seeded["cashier_token"], code)
        assert voided.status_code == 409 and voided.get_json()["type"] == "/problems/card-voided"


@pytest.mark.parametrize(("body", "field"), [({}, "code"), ({"code": ""}, "code"), ({"code": 12345}, "code"),
                                             ({"code": "x" * 201}, "code")])
def test_bad_scan_bodies(client: FlaskClient, seeded: dict[str, Any], body: dict[str, Any], field: str) -> None:
    response = client.post("/api/v1/cashier/scan", json=body, headers=bearer(seeded["cashier_token"]))
    assert response.status_code == 422
    assert field in [error["field"] for error in response.get_json()["errors"]]


def test_only_active_cashiers_scan(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded)
    assert scan(client, seeded["api_key"], card["barcode_message"]).status_code == 401  # a brand key is no cashier
    assert client.post("/api/v1/cashier/scan", json={"code": card["number"]}).status_code == 401
    with app.app_context():
        cashier = db.session().scalars(select(Cashier).where(Cashier.brand_id == seeded["brand_id"])).one()
        cashier.active = False
        db.session().commit()
    disabled = scan(client, seeded["cashier_token"], card["barcode_message"])
    assert disabled.status_code == 403 and disabled.get_json()["title"] == "Cashier disabled"
    assert client.get("/api/v1/cashier/me", headers=bearer(seeded["cashier_token"])).status_code == 403


def test_cashier_me_names_store_brand_and_programs(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    response = client.get("/api/v1/cashier/me", headers=bearer(seeded["cashier_token"]))
    assert response.status_code == 200
    me = response.get_json()
    assert (me["name"], me["brand"]["name"]) == ("Demo Cashier", "Demo Coffee")
    assert (me["store"]["id"], me["store"]["name"]) == (seeded["store_ids"][0], "Demo Coffee Centraal")
    assert [(program["id"], program["kind"]) for program in me["programs"]] == [(seeded["program_id"], "points")]
    with app.app_context():
        brand = db.session().get(Brand, seeded["brand_id"])
        assert brand is not None
        key = create_api_key(db.session(), brand)
        db.session().commit()
    assert client.get("/api/v1/cashier/me", headers=bearer(key)).status_code == 401
