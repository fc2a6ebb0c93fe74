"""A brand's marketer switches a ready-made journey on through the API; the engine runs it: what
the playbook's text promises ({name}, {balance}, ...) is what lands on the customer's pass."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from service.journeys import messages
from service.models import Card, JourneyEntry
from service.platform import db
from tests.helpers import bearer
from tests.service.journeys.journey_helpers import events


def test_a_welcome_switched_on_in_the_api_greets_a_new_member_on_the_pass_by_name(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    headers = bearer(seeded["api_key"])
    program_id = seeded["program_id"]
    switched = client.post(f"/api/v1/programs/{program_id}/playbooks/welcome", headers=headers)
    assert switched.status_code == 201, switched.get_json()
    (journey,) = switched.get_json()["journeys"]
    assert journey["enabled"] is True and journey["trigger"] == "joined"
    # keep every new member in the treated group for this check
    assert client.patch(f"/api/v1/journeys/{journey['id']}", headers=headers,
                        json={"holdout_percent": 0}).status_code == 200
    card = client.post(f"/api/v1/programs/{program_id}/cards", headers=headers,
                       json={"customer": {"name": "Anna Smith", "language": "ru"}}).get_json()
    with app.app_context():
        run = events(db.session())
        assert run.entered == 1, run
        entry = db.session().query(JourneyEntry).filter_by(card_id=card["id"]).one()
        assert (entry.outcome, entry.message) == ("done", "sent")
        stored = db.session().get(Card, card["id"])
        assert stored is not None and stored.news is not None
        assert "Anna" in stored.news and "{" not in stored.news  # placeholders filled, Russian variant
        assert any("\u0400" <= letter <= "\u04ff" for letter in stored.news)


def test_placeholders_that_read_the_card_are_filled_when_the_message_goes(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    from tests.service.journeys.journey_helpers import card as make_card
    from tests.service.journeys.journey_helpers import journey, purchase

    with app.app_context():
        session = db.session()
        journey_id = journey(session, seeded["program_id"], "first_purchase", actions=[
            {"type": "message", "text": "{name}, you have {balance} points now."}])
        card_id = make_card(session, seeded["program_id"], "Bob Jones")
        purchase(session, card_id, "12.50", "first")
        events(session, dt.datetime.now(dt.UTC))
        stored = session.get(Card, card_id)
        assert stored is not None
        assert stored.news == f"Bob, you have {stored.balance} points now."
        assert messages.needs_card("{balance}") and not messages.needs_card("{name} only")
        assert session.query(JourneyEntry).filter_by(journey_id=journey_id).one().message == "sent"
