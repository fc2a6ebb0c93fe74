"""A phone may fetch its pass before the provider has written down APNs' answer.

In a campaign storm the first pushes of a chunk reach their phones while the rest of the
chunk is still on the wire; a phone that fetches at once confirms its push ("confirmed")
before the chunk's "accepted" is written. That late "accepted" must not overwrite the
confirmation, or the campaign report counts fewer confirmed than the phones that fetched.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import Card, PushDelivery, Registration
from service.platform import db
from service.push.fanout import bump_cards
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer

PASS_TYPE = "pass.dev.passcast.loyalty"


def test_a_fetch_before_the_answer_is_recorded_stays_confirmed(client: FlaskClient, seeded: dict[str, Any],
                                                                 app: Flask, apns: ApnsDouble) -> None:
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", json={"customer": {"name": "Early"}},
                       headers=bearer(seeded["api_key"])).get_json()
    token = "ab" * 32
    with app.app_context():
        session = db.session()
        row = session.get(Card, card["id"])
        assert row is not None
        authorization = {"Authorization": f"ApplePass {row.authentication_token}"}
        session.add(Registration(device_library_identifier="early-phone", card_id=row.id,
                                 pass_type_identifier=PASS_TYPE, push_token=token, client_kind="apple"))
        session.commit()

    fetched: list[int] = []

    def phone_fetches_at_once(pushed: str) -> None:
        # on the double's thread, before its answer leaves: the provider is still waiting
        with app.app_context():
            status = db.session().scalar(select(PushDelivery.status).where(PushDelivery.push_token == pushed))
        assert status == "sending"
        fetched.append(client.get(f"/passkit/v1/passes/{PASS_TYPE}/{card['serial_number']}",
                                  headers=authorization).status_code)

    apns.on_accepted = phone_fetches_at_once
    with app.app_context():
        session = db.session()
        assert bump_cards(session, [card["id"]], values={"news": "Storm"}, campaign_id=None) == 1
        session.commit()  # the outbox sends the push now (jobs run immediately in tests)
        statuses = session.scalars(select(PushDelivery.status).where(PushDelivery.push_token == token)).all()
    assert fetched == [200]
    assert statuses == ["confirmed"]
    assert [request.token for request in apns.requests] == [token]
