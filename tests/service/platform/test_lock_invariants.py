"""Invariants that rest on a row lock hold on SQLite too, where FOR UPDATE does nothing.

Real threads, each with its own connection, released together by a barrier, against the
SQLite file database (and PostgreSQL with TEST_DATABASE_URL), over several rounds.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.analytics import rollups as analytics_rollups
from service.models import AnalyticsDaily, ApiKey, WebhookDelivery, WebhookEndpoint, WebhookEvent
from service.platform import db
from service.webhooks import events as webhooks
from tests.helpers import bearer

ROUNDS = 8
ROLL_UP_NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)  # every entry is older than the roll-ups' LAG
T = TypeVar("T")


def together(calls: list[Callable[[], T]]) -> list[T]:
    """Run each call in its own thread, all released at once."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls, timeout=120))


def _active_keys(app: Flask, brand_id: int) -> int:
    with app.app_context():
        return int(db.session().scalar(select(func.count(ApiKey.id)).where(
            ApiKey.brand_id == brand_id, ApiKey.revoked_at.is_(None))) or 0)


def test_two_revokes_of_the_last_two_keys_leave_one(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    keys = [seeded["api_key"]]
    ids = [client.get("/api/v1/api-keys", headers=bearer(keys[0])).get_json()[0]["id"]]
    for round_ in range(ROUNDS):
        created = client.post("/api/v1/api-keys", headers=bearer(keys[-1]), json={"name": f"round {round_}"})
        assert created.status_code == 201, created.get_json()
        keys, ids = [keys[-1], created.get_json()["key"]], [ids[-1], created.get_json()["id"]]
        assert _active_keys(app, seeded["brand_id"]) == 2

        def revoke(key: str, key_id: int) -> Callable[[], int]:
            return lambda: app.test_client().delete(f"/api/v1/api-keys/{key_id}", headers=bearer(key)).status_code

        # each key revokes the other one, so both requests authenticate and then race
        statuses = together([revoke(keys[0], ids[1]), revoke(keys[1], ids[0])])
        # the loser is refused as the last key (409), or was already revoked when it signed in (401)
        assert sorted(statuses) in ([200, 401], [200, 409]), (round_, statuses)
        assert _active_keys(app, seeded["brand_id"]) == 1, round_
        survivor = 0 if statuses[0] == 200 else 1
        keys, ids = [keys[survivor]], [ids[survivor]]


def test_two_dispatchers_of_the_same_events_fan_each_out_once(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        session.add(WebhookEndpoint(brand_id=seeded["brand_id"], url="http://127.0.0.1:9/hook", events=["*"],
                                    secret="s" * 32))
        session.commit()
    factory = db.session_factory(app)
    for round_ in range(ROUNDS):
        with factory() as session:
            events = [WebhookEvent(brand_id=seeded["brand_id"], uid=str(uuid.uuid4()), type="card.issued",
                                   data={"round": round_}, dispatched=False) for _ in range(5)]
            session.add_all(events)
            session.commit()
            ids = [event.id for event in events]

        def dispatch(event_ids: list[int]) -> Callable[[], list[int]]:
            def run() -> list[int]:
                with factory() as own:
                    return webhooks.dispatch(own, event_ids)
            return run

        made = together([dispatch(ids), dispatch(ids)])
        with factory() as session:
            deliveries = session.scalar(select(func.count(WebhookDelivery.id))
                                        .where(WebhookDelivery.event_id.in_(ids)))
        assert deliveries == len(ids) and sum(len(m) for m in made) == len(ids), (round_, made)


def _daily(factory: Any) -> list[tuple[Any, ...]]:
    with factory() as session:
        return [tuple(row) for row in session.execute(
            select(AnalyticsDaily.brand_id, AnalyticsDaily.day, AnalyticsDaily.points_issued,
                   AnalyticsDaily.points_redeemed, AnalyticsDaily.purchases, AnalyticsDaily.revenue)
            .order_by(AnalyticsDaily.brand_id, AnalyticsDaily.day))]


def test_two_roll_up_runs_at_once_count_each_entry_once(app: Flask, client: FlaskClient,
                                                        seeded: dict[str, Any]) -> None:
    factory = db.session_factory(app)
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                       json={"customer": {"name": "Roll Up"}}).get_json()
    with factory() as session:
        analytics_rollups.step(session, ROLL_UP_NOW)  # the backfill
    for round_ in range(ROUNDS):
        for n in range(3):
            response = client.post(f"/api/v1/cards/{card['id']}/transactions", json={"type": "purchase",
                                   "amount": "4.50"}, headers={**bearer(seeded["api_key"]),
                                                               "Idempotency-Key": f"roll-{round_}-{n}"})
            assert response.status_code == 201, response.get_json()

        def step() -> int:
            with factory() as own:
                return analytics_rollups.step(own, ROLL_UP_NOW)

        together([step, step])
        raced = _daily(factory)
        with factory() as session:
            analytics_rollups.rebuild(session)
            analytics_rollups.run(session, ROLL_UP_NOW)
        assert raced == _daily(factory), round_
