"""Changing many cards at once: one version bump each, strictly later Last-Modified, every
registered device pushed once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.models import Card, PushDelivery, Registration, utcnow
from service.platform import db
from service.push.fanout import bump_cards
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer


def make_cards(client: FlaskClient, seeded: dict[str, Any], app: Flask, count: int) -> list[int]:
    ids = []
    for n in range(count):
        card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards",
                           json={"customer": {"name": f"Member {n}"}}, headers=bearer(seeded["api_key"])).get_json()
        ids.append(card["id"])
    with app.app_context():
        session = db.session()
        for n, card_id in enumerate(ids):
            session.add(Registration(device_library_identifier=f"dev-{n}", card_id=card_id,
                                     pass_type_identifier="pass.dev.passcast.loyalty",
                                     push_token=f"{n:064x}", client_kind="apple"))
        # Two devices of one phone share a token: it must be pushed once.
        session.add(Registration(device_library_identifier="dev-0-again", card_id=ids[0],
                                 pass_type_identifier="pass.dev.passcast.loyalty",
                                 push_token=f"{0:064x}", client_kind="apple"))
        session.commit()
    return ids


def test_bump_cards_versions_stamps_and_pushes(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                               apns: ApnsDouble) -> None:
    ids = make_cards(client, seeded, app, 5)
    with app.app_context():
        session = db.session()
        future = utcnow().replace(microsecond=0) + dt.timedelta(seconds=30)
        session.get(Card, ids[1]).updated_at = future  # type: ignore[union-attr]
        session.commit()
        before = {card.id: (card.version, card.updated_at) for card in session.scalars(select(Card))}
        queued = bump_cards(session, ids, values={"news": "Double points this weekend"}, campaign_id=7)
        session.commit()
        assert queued == 5
        for card in session.scalars(select(Card)):
            version, stamp = before[card.id]
            assert card.version == version + 1
            assert card.updated_at > stamp
            assert card.news == "Double points this weekend"
        assert session.get(Card, ids[1]).updated_at == future + dt.timedelta(seconds=1)  # type: ignore[union-attr]
        statuses = session.execute(select(PushDelivery.status, func.count()).group_by(PushDelivery.status)).all()
        assert dict(statuses) == {"accepted": 5}
    assert sorted(r.token for r in apns.requests) == sorted(f"{n:064x}" for n in range(5))


def test_design_change_pushes_every_card(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                         apns: ApnsDouble) -> None:
    make_cards(client, seeded, app, 3)
    response = client.patch(f"/api/v1/programs/{seeded['program_id']}", json={"background_color": "#112233"},
                            headers=bearer(seeded["api_key"]))
    assert response.status_code == 200
    assert len(apns.requests) == 3
