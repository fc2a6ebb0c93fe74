"""Birthday automation: points and a message on the customer's birthday, once a year."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.campaigns import tasks
from service.models import Card, GoogleMessage, LedgerEntry
from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue, news, pass_json, register, token

# Figures here depend on "now": each test runs at the awkward moments of tests/conftest.py.
pytestmark = pytest.mark.usefixtures("awkward_moment")

TODAY = dt.datetime(2026, 6, 15, 8, 3, tzinfo=dt.UTC)


def run(app: Flask, now: dt.datetime) -> dict[str, int]:
    with app.app_context():
        return tasks.run_birthdays(now)


def test_birthday_points_and_message_once_a_year(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                 apns: ApnsDouble) -> None:
    key, program = seeded["api_key"], seeded["program_id"]
    put = client.put(f"/api/v1/programs/{program}/birthday", headers=bearer(key),
                     json={"points": 100, "message": "Happy birthday, {name}! 100 points are on your card."})
    assert put.status_code == 200 and put.get_json()["points"] == 100
    today = issue(client, seeded, "Anna Smith", email="anna@example.com", birthday="1990-06-15")["id"]
    tomorrow = issue(client, seeded, "Bob", email="bob@example.com", birthday="1990-06-16")["id"]
    unknown = issue(client, seeded, "Cleo", email="cleo@example.com")["id"]
    register(app, today, token(1))

    assert run(app, TODAY) == {"cards": 1, "points": 100}
    assert run(app, TODAY + dt.timedelta(hours=3)) == {"cards": 0, "points": 0}  # the job ran twice
    data = pass_json(client, app, today)
    assert news(data)["value"] == "Happy birthday, Anna! 100 points are on your card."
    assert data["storeCard"]["primaryFields"][0]["value"] == 100
    assert [r.token for r in apns.requests] == [token(1)]  # one version, one push
    with app.app_context():
        session = db.session()
        entries = session.scalars(select(LedgerEntry).where(LedgerEntry.card_id == today,
                                                            LedgerEntry.kind == "earn")).all()
        assert [(e.points, e.idempotency_key) for e in entries] == [(100, f"birthday:{today}:2026")]
        for card_id in (tomorrow, unknown):
            card = session.get(Card, card_id)
            assert card is not None and card.balance == 0 and card.news is None
    # A year later, again once.
    assert run(app, TODAY.replace(year=2027)) == {"cards": 1, "points": 100}
    with app.app_context():
        card = db.session().get(Card, today)
        assert card is not None and card.balance == 200
    # A birthday gift is not activity for the "active" audience.
    count = client.post("/api/v1/campaigns/preview", headers=bearer(key),
                        json={"audience": {"active": {"days": 30}}}).get_json()
    assert count == {"count": 0}


def test_leap_day_message_only_and_switch_off(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    key, program = seeded["api_key"], seeded["program_id"]
    client.put(f"/api/v1/programs/{program}/birthday", headers=bearer(key), json={"message": "Happy birthday!"})
    leap = issue(client, seeded, "Leap", email="leap@example.com", birthday="2000-02-29")["id"]
    assert run(app, dt.datetime(2027, 2, 28, 8, 3, tzinfo=dt.UTC)) == {"cards": 1, "points": 0}
    assert run(app, dt.datetime(2027, 3, 1, 8, 3, tzinfo=dt.UTC)) == {"cards": 0, "points": 0}
    with app.app_context():
        card = db.session().get(Card, leap)
        assert card is not None and card.news == "Happy birthday!" and card.balance == 0
    off = client.put(f"/api/v1/programs/{program}/birthday", headers=bearer(key), json={})
    assert off.get_json() == {"program_id": program, "points": None, "message": None, "reward_id": None}
    assert run(app, dt.datetime(2028, 2, 29, 8, 3, tzinfo=dt.UTC)) == {"cards": 0, "points": 0}
    bad = client.put(f"/api/v1/programs/{program}/birthday", headers=bearer(key), json={"points": -5})
    assert bad.status_code == 422


def test_birthday_message_reaches_google_wallet_cards(client: FlaskClient, seeded: dict[str, Any],
                                                      app: Flask) -> None:
    client.put(f"/api/v1/programs/{seeded['program_id']}/birthday", headers=bearer(seeded["api_key"]),
               json={"message": "Happy birthday, {name}!"})
    card_id = issue(client, seeded, "Gina Rossi", email="gina@example.com", birthday="1991-06-15")["id"]
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        card.google_synced_version = card.version
        db.session().commit()
    run(app, TODAY)
    run(app, TODAY)
    with app.app_context():
        rows = db.session().scalars(select(GoogleMessage).where(GoogleMessage.card_id == card_id)).all()
        assert [(row.header, row.body) for row in rows] == [("Demo Coffee Rewards", "Happy birthday, Gina!")]
