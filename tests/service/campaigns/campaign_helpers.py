"""Shared by the campaign, geo, restock and birthday tests: cards with phones, another brand."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from passes.package import read_pkpass
from service.demo import create_api_key, create_brand
from service.models import Card, Registration
from service.platform import db
from tests.helpers import bearer

PASS_TYPE = "pass.dev.passcast.loyalty"


def issue(client: FlaskClient, seeded: dict[str, Any], name: str, **customer: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards",
                           json={"customer": {"name": name, **customer}}, headers=bearer(seeded["api_key"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def register(app: Flask, card_id: int, token: str, kind: str = "apple") -> None:
    with app.app_context():
        session = db.session()
        session.add(Registration(device_library_identifier=f"device-{token}", card_id=card_id,
                                 pass_type_identifier=PASS_TYPE, push_token=token, client_kind=kind))
        session.commit()


def token(n: int) -> str:
    return f"{n:064x}"


def other_brand_key(app: Flask) -> str:
    with app.app_context():
        brand = create_brand(db.session(), "Other Tea", "other-tea")
        key = create_api_key(db.session(), brand)
        db.session().commit()
        return key


def pass_json(client: FlaskClient, app: Flask, card_id: int) -> dict[str, Any]:
    """The card's current pass as the phone fetches it (this also confirms its pushes)."""
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        serial, auth = card.serial_number, card.authentication_token
    response = client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}", headers={"Authorization": f"ApplePass {auth}"})
    assert response.status_code == 200
    return json.loads(read_pkpass(response.data)["pass.json"])


def news(pass_data: dict[str, Any]) -> dict[str, Any]:
    return next(field for field in pass_data["storeCard"]["backFields"] if field["key"] == "news")
