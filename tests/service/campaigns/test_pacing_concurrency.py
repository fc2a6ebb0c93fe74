"""Two workers at once on PostgreSQL: two campaigns racing for a card's last place under the cap
take it once between them, and two jobs sending the same deferred messages send each once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.campaigns import deferred, sending
from service.models import Campaign, CardMessage, PacedRecipient, PushDelivery
from service.platform import db
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue

CARDS = 30
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (TEST_DATABASE_URL)")


def side_by_side(app: Flask, *work: Callable[[Any], int]) -> list[int]:
    """Run each function with its own session in its own thread, started together."""
    start, results, errors = threading.Barrier(len(work)), [0] * len(work), []

    def run(index: int) -> None:
        try:
            with app.app_context():
                session = app.extensions["db_sessionmaker"]()
                try:
                    start.wait()
                    results[index] = work[index](session)
                finally:
                    session.close()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def campaigns(client: FlaskClient, seeded: dict[str, Any], app: Flask, count: int) -> list[int]:
    ids = []
    for n in range(count):
        draft = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
            "name": f"Race {n}", "message": f"Offer {n}", "audience": {"all_cards": True},
            "holdout_percent": 0}).get_json()
        ids.append(int(draft["id"]))
    with app.app_context():
        for campaign_id in ids:
            campaign = db.session().get(Campaign, campaign_id)
            assert campaign is not None
            campaign.status, campaign.send_at = "scheduled", NOW
        db.session().commit()
    return ids


def test_two_campaigns_at_once_take_the_last_place_under_the_cap_once(client: FlaskClient, seeded: dict[str, Any],
                                                                      app: Flask) -> None:
    for n in range(CARDS):
        issue(client, seeded, f"Member {n}", email=f"m{n}@example.com")
    client.put(f"/api/v1/programs/{seeded['program_id']}/messaging-rules", headers=bearer(seeded["api_key"]),
               json={"cap_count": 1, "over_cap": "drop"})
    first, second = campaigns(client, seeded, app, 2)
    reached = side_by_side(app, *(lambda session, c=c: sending.send(session, c, now=NOW) for c in (first, second)))
    assert sum(reached) == 2 * CARDS  # both recorded every card as a recipient...
    with app.app_context():
        session = db.session()
        per_card = session.execute(select(CardMessage.card_id, func.count()).group_by(CardMessage.card_id)).all()
        assert len(per_card) == CARDS and {n for _, n in per_card} == {1}  # ...but each card got one message
        pushed = session.scalar(select(func.count(func.distinct(PushDelivery.card_id)))
                                .where(PushDelivery.campaign_id.in_([first, second])))
        dropped = session.scalar(select(func.count()).select_from(PacedRecipient)
                                 .where(PacedRecipient.state == "dropped", PacedRecipient.reason == "cap"))
        messages = session.scalar(select(func.count()).select_from(CardMessage))
        assert dropped == CARDS and messages == CARDS and pushed in (0, CARDS)  # no phones registered here


def test_two_jobs_send_each_deferred_message_once(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    for n in range(CARDS):
        issue(client, seeded, f"Member {n}", email=f"m{n}@example.com")
    client.put(f"/api/v1/programs/{seeded['program_id']}/messaging-rules", headers=bearer(seeded["api_key"]),
               json={"quiet_start": "00:00", "quiet_end": "13:00"})
    campaign, = campaigns(client, seeded, app, 1)
    with app.app_context():
        sending.send(db.session(), campaign, now=NOW)  # 12:00 UTC: quiet until 13:00
        assert db.session().scalar(select(func.count()).select_from(PacedRecipient)
                                   .where(PacedRecipient.state == "deferred")) == CARDS
    later = NOW + dt.timedelta(hours=1)
    sent = side_by_side(app, *(lambda session: deferred.send_due(session, later) for _ in range(2)))
    assert sum(sent) == CARDS
    with app.app_context():
        session = db.session()
        states = session.execute(select(PacedRecipient.state, func.count()).group_by(PacedRecipient.state)).all()
        assert states == [("sent", CARDS)]
        per_card = session.execute(select(CardMessage.card_id, func.count()).group_by(CardMessage.card_id)).all()
        assert len(per_card) == CARDS and {n for _, n in per_card} == {1}
