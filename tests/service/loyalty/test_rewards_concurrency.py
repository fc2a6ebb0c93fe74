"""Two cashiers redeeming the same coupon at the same moment, against the real PostgreSQL server:
each thread has its own client (its own connection and transaction), a barrier releases them
together, and exactly one redemption wins; the other gets the 409 "already redeemed".

Skipped on SQLite, which serialises every write anyway; these need TEST_DATABASE_URL.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.models import HeldReward, LedgerEntry
from service.platform import db
from tests.helpers import bearer
from tests.service.loyalty.test_concurrency import all_at_once, postgresql_only, second_cashier  # noqa: F401
from tests.service.loyalty.test_loyalty import issue, ok, transact

ROUNDS = 5


def _coupon(client: FlaskClient, seeded: dict[str, Any], card_id: int) -> int:
    response = client.post(f"/api/v1/cards/{card_id}/coupons", json={"name": "Free coffee"},
                           headers={**bearer(seeded["api_key"]), "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["reward"]["id"])


def _redeem(token: str, card_id: int, held_id: int, key: str | None = None) -> Any:
    def call(client: FlaskClient) -> Any:
        return client.post(f"/api/v1/cards/{card_id}/rewards/{held_id}/redeem", json={},
                           headers={**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())})
    return call


def _redemptions(app: Flask, card_id: int) -> int:
    with app.app_context():
        return int(db.session().scalar(select(func.count()).where(LedgerEntry.card_id == card_id,
                                                                  LedgerEntry.kind == "reward_redeem")) or 0)


def test_two_cashiers_redeeming_one_coupon_at_once_exactly_one_wins(
        client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    tokens = [seeded["cashier_token"], second_cashier(app, seeded)]
    card = issue(client, seeded)
    for _ in range(ROUNDS):  # several rounds: each one a fresh race
        held_id = _coupon(client, seeded, card["id"])
        results = all_at_once(app, [_redeem(tokens[0], card["id"], held_id), _redeem(tokens[1], card["id"], held_id)])
        assert sorted(status for status, _, _ in results) == [201, 409], results
        (winner,) = [body for status, body, _ in results if status == 201]
        (loser,) = [body for status, body, _ in results if status == 409]
        assert loser["type"] == "/problems/reward-redeemed"
        assert winner["reward"]["state"] == "redeemed"
        with app.app_context():
            row = db.session().get(HeldReward, held_id)
            assert row is not None and row.redeemed_entry_id == winner["transaction"]["id"]
            assert row.redeemed_cashier_id == winner["transaction"]["cashier_id"]
    assert _redemptions(app, card["id"]) == ROUNDS


def test_the_same_redemption_sent_twice_at_once_is_one_redemption_and_one_replay(
        client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded)
    held_id = _coupon(client, seeded, card["id"])
    results = all_at_once(app, [_redeem(seeded["cashier_token"], card["id"], held_id, key="till-retry")] * 2)
    assert [status for status, _, _ in results] == [201, 201]
    assert sorted(replayed for _, _, replayed in results) == [False, True]
    assert results[0][1] == results[1][1]
    assert _redemptions(app, card["id"]) == 1


def test_buying_at_two_tills_at_once_never_goes_past_the_balance(
        client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    reward = client.post(f"/api/v1/programs/{seeded['program_id']}/rewards", json={"name": "Cake", "cost_points": 40},
                         headers=bearer(seeded["api_key"])).get_json()
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 100}))
    tokens = [seeded["cashier_token"], second_cashier(app, seeded)]

    def buy(token: str) -> Any:
        return lambda c: c.post(f"/api/v1/cards/{card['id']}/rewards", json={"reward_id": reward["id"]},
                                headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())})

    results = all_at_once(app, [buy(tokens[i % 2]) for i in range(6)])
    assert sorted(status for status, _, _ in results) == [201, 201, 409, 409, 409, 409]
    assert sorted(body["transaction"]["balance"] for status, body, _ in results if status == 201) == [20, 60]
