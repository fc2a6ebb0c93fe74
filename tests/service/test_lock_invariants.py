"""Invariants that rest on a row lock hold on SQLite too, where FOR UPDATE does nothing.

Real threads, each with its own connection, released together by a barrier, against the
SQLite file database (and PostgreSQL with TEST_DATABASE_URL), over several rounds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service import db
from service.models import ApiKey
from tests.helpers import bearer

ROUNDS = 8
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
