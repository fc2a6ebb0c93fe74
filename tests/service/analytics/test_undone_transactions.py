"""An undone (reversed) transaction counts nowhere in the figures: not as a purchase, revenue,
points issued or redeemed, nor as a visit; neither does the reversal. The daily roll-ups are
corrected when the reversal lands after the day was rolled up, the raw figures agree, and a
campaign's conversions (live, and stored once final) drop too. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.analytics import figures as analytics
from service.analytics import rollups
from service.analytics.figures import Period
from service.campaigns import outcomes
from service.models import Campaign, CampaignRecipient, Card, PushDelivery
from service.platform import db
from tests.helpers import bearer

LATER = dt.timedelta(hours=1)  # the roll-up job's "now": every entry is older than its LAG


def _issue(client: FlaskClient, seeded: dict[str, Any], email: str) -> int:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": email.split("@")[0], "email": email}})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def _post(client: FlaskClient, seeded: dict[str, Any], card_id: int, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1/cards/{card_id}/transactions", json=body,
                           headers={**bearer(seeded["cashier_token"]), "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _reverse(client: FlaskClient, seeded: dict[str, Any], entry_id: int) -> dict[str, Any]:
    response = client.post(f"/api/v1/transactions/{entry_id}/reverse", json={"reason": "wrong card"},
                           headers={**bearer(seeded["api_key"]), "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _today() -> Period:
    today = dt.datetime.now(dt.UTC).date()
    return Period(dt.datetime.combine(today, dt.time(), dt.UTC),
                  dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC))


def _figures(module: Any, brand_id: int, period: Period) -> dict[str, Any]:
    session = db.session()
    return {"purchases": module.purchases(session, brand_id, period),
            "points": module.redemption_rate(session, brand_id, period),
            "repeat": module.repeat_purchase_rate(session, brand_id, period),
            "active": module.active(session, brand_id, period, 1)}


def test_a_reversed_purchase_leaves_the_rolled_up_and_raw_figures(app: Flask, client: FlaskClient,
                                                                  seeded: dict[str, Any]) -> None:
    anna, boris = _issue(client, seeded, "anna@example.com"), _issue(client, seeded, "boris@example.com")
    wrong = _post(client, seeded, anna, {"type": "purchase", "amount": "12.50"})
    _post(client, seeded, boris, {"type": "purchase", "amount": "5.00"})
    _post(client, seeded, boris, {"type": "purchase", "amount": "3.00"})
    redeem = _post(client, seeded, boris, {"type": "redeem", "points": 20})
    period = _today()
    with app.app_context():
        session = db.session()
        brand = _brand(app)
        rollups.run(session, dt.datetime.now(dt.UTC) + LATER)  # the backfill: today is rolled up
        before = _figures(rollups, brand, period)
        assert before["purchases"] == {"count": 3, "revenue": "20.50", "average": "6.83"}
        assert before["points"]["points_issued"] == 125 + 50 + 30 and before["points"]["points_redeemed"] == 20
        assert before["active"] == 2 and before["repeat"]["buyers"] == 2
        assert before == _figures(analytics, brand, period)

    _reverse(client, seeded, wrong["id"])  # the day was rolled up already
    _reverse(client, seeded, redeem["id"])
    with app.app_context():
        session = db.session()
        raw = _figures(analytics, brand, period)
        assert raw["purchases"] == {"count": 2, "revenue": "8.00", "average": "4.00"}
        assert raw["points"]["points_issued"] == 80 and raw["points"]["points_redeemed"] == 0
        assert raw["active"] == 1, "the wrong card's customer was not at the counter"
        assert raw["repeat"] == {"buyers": 1, "repeat_buyers": 1, "rate": 1.0}
        assert _figures(rollups, brand, period) == raw, "the reversals as the tail"
        assert rollups.run(session, dt.datetime.now(dt.UTC) + LATER) > 0
        figures = rollups.Figures.open(session, brand)
        assert figures is not None and not figures.tail.daily, "everything rolled up"
        assert _figures(rollups, brand, period) == raw, "the rolled-up day was corrected"
        rollups.rebuild(session)
        rollups.run(session, dt.datetime.now(dt.UTC) + LATER)  # a backfill that meets the reversals
        assert rollups.ready(session)
        assert _figures(rollups, brand, period) == raw


def _brand(app: Flask) -> int:
    return int(db.session().scalar(select(Card.brand_id).limit(1)) or 0)


def test_a_reversed_purchase_is_no_campaign_conversion_even_once_stored(app: Flask, client: FlaskClient,
                                                                        seeded: dict[str, Any]) -> None:
    anna = _issue(client, seeded, "anna@example.com")
    with app.app_context():
        session = db.session()
        brand = _brand(app)
        started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        campaign = Campaign(brand_id=brand, name="June", message="Hi", status="finished", started_at=started,
                            holdout_percent=0)
        session.add(campaign)
        session.flush()
        session.add(CampaignRecipient(campaign_id=campaign.id, card_id=anna, holdout=False, reachable=True))
        session.add(PushDelivery(card_id=anna, card_version=2, push_token="a" * 64, client_kind="apple",
                                 topic="pass.dev.passcast.loyalty", campaign_id=campaign.id, status="confirmed"))
        session.commit()
        campaign_id = campaign.id
    wrong = _post(client, seeded, anna, {"type": "purchase", "amount": "12.50"})
    _post(client, seeded, anna, {"type": "purchase", "amount": "4.00"})
    with app.app_context():
        session = db.session()
        assert outcomes.purchases(session, campaign_id, started) == (1, 2, Decimal("16.50"))
        row = session.get(Campaign, campaign_id)
        row.buyers_7d, row.purchases_7d, row.revenue_7d = 1, 2, Decimal("16.50")  # as a final report keeps them
        session.commit()
    _reverse(client, seeded, wrong["id"])
    with app.app_context():
        session = db.session()
        assert outcomes.purchases(session, campaign_id, started) == (1, 1, Decimal("4.00"))
        groups = outcomes.campaign_groups(session, campaign_id, started)
        assert groups[False].purchases == 1 and groups[False].revenue == Decimal("4.00")
        row = session.get(Campaign, campaign_id)
        assert row.buyers_7d is None and row.revenue_7d is None, "stored figures cleared: counted again"
        figures = analytics.campaign_figures(session, analytics.campaign_rows(session, brand, Period(
            started - dt.timedelta(days=1), started + dt.timedelta(days=1)))[0])
        assert figures["purchases_7d"] == 1 and figures["revenue_7d"] == "4.00"
