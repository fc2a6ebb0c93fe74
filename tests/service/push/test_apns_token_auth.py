"""APNs token auth: with an auth key of the pass type's team, pushes carry an ES256 provider
token (verified by the double with the key's public half) instead of the client
certificate, and one token serves many pushes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.models import Registration
from service.platform import db
from service.platform.config import Settings
from tests.doubles.apns import ApnsDouble
from tests.doubles.pki import Pki
from tests.helpers import bearer
from tests.service.apple.test_passkit import TOKEN_A, wait_for


@pytest.fixture
def settings(settings: Settings, apns_pki: Pki) -> Settings:
    return dataclasses.replace(settings, apns_auth_key_file=str(apns_pki.token_key), apns_key_id=apns_pki.key_id,
                               apns_team_id=apns_pki.team_id)


def test_token_auth_is_used_for_the_team_of_the_auth_key(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                          apns: ApnsDouble) -> None:
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", json={"customer": {"name": "T"}},
                       headers=bearer(seeded["api_key"])).get_json()
    with app.app_context():
        session = db.session()
        session.add(Registration(device_library_identifier="d", card_id=card["id"], push_token=TOKEN_A,
                                 pass_type_identifier="pass.dev.passcast.loyalty", client_kind="apple"))
        session.commit()
    for n in range(2):
        response = client.post(f"/api/v1/cards/{card['id']}/transactions", json={"type": "earn", "points": 1},
                               headers={**bearer(seeded["api_key"]), "Idempotency-Key": f"tok-{n}"})
        assert response.status_code == 201
    pushes = wait_for(lambda: [r for r in apns.requests if r.token == TOKEN_A and r.status == 200])
    assert len(pushes) == 2 and {push.auth for push in pushes} == {"token"}
    assert len({push.headers["authorization"] for push in pushes}) == 1  # one JWT, reused
