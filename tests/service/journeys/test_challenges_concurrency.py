"""Two tills completing the same card's challenge at the same moment, against the real PostgreSQL
server: the card lock serialises them, so exactly one of them completes the window and the bonus is
given once; the same request twice at once is one transaction. Skipped on SQLite (see
tests/service/loyalty/test_concurrency.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.service.journeys.test_challenges import bonuses, buy, card_of, make_challenge, windows
from tests.service.loyalty.test_concurrency import all_at_once, second_cashier
from tests.service.loyalty.test_loyalty import issue, transact

THREADS = 8


@pytest.fixture(autouse=True)
def postgresql_only(app: Flask) -> None:
    if not app.config["PASSCAST"].database_url.startswith("postgresql"):
        pytest.skip("row-lock concurrency runs against PostgreSQL (set TEST_DATABASE_URL)")


def test_simultaneous_qualifying_transactions_complete_the_window_once(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    make_challenge(client, seeded, target=2)
    card = issue(client, seeded)
    buy(client, seeded, card["id"])
    tokens = [seeded["cashier_token"], second_cashier(app, seeded)]
    calls = [(lambda c, token=tokens[i % 2]: transact(c, token, card["id"], {"type": "purchase", "amount": "1.00"}))
             for i in range(THREADS)]
    results = all_at_once(app, calls)
    assert [status for status, _, _ in results] == [201] * THREADS
    completions = [body for _, body, _ in results if body.get("challenges_completed")]
    assert len(completions) == 1
    assert len(bonuses(app, card["id"])) == 1
    [window] = windows(app, card["id"])
    assert window.count == 2 and window.completed_at is not None
    assert card_of(client, seeded, card["id"])["balance"] == 10 * (THREADS + 1) + 100


def test_the_same_completing_request_twice_at_once_gives_one_bonus(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    make_challenge(client, seeded, target=2)
    card = issue(client, seeded)
    buy(client, seeded, card["id"])
    calls = [(lambda c: transact(c, seeded["cashier_token"], card["id"], {"type": "purchase", "amount": "1.00"},
                                 "same-till-press")) for _ in range(4)]
    results = all_at_once(app, calls)
    assert {status for status, _, _ in results} == {201}
    assert sum(replayed for _, _, replayed in results) == 3
    assert len({body["id"] for _, body, _ in results}) == 1
    assert all(body["challenges_completed"] for _, body, _ in results), "the replays answer with the bonus too"
    assert len(bonuses(app, card["id"])) == 1
    assert card_of(client, seeded, card["id"])["balance"] == 120
