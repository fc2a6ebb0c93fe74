"""Many tills at once against the real PostgreSQL server: row locks keep the ledger right.

Skipped on SQLite, which serialises every write anyway; these need TEST_DATABASE_URL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.demo import create_cashier
from service.loyalty import engine as loyalty
from service.models import Brand, LedgerEntry, Store
from service.platform import db
from tests.service.loyalty.test_loyalty import assert_ledger_matches, issue, ok, transact

THREADS = 24

Result = tuple[int, dict[str, Any], bool]  # status, body, replayed


@pytest.fixture(autouse=True)
def postgresql_only(app: Flask) -> None:
    if not app.config["PASSCAST"].database_url.startswith("postgresql"):
        pytest.skip("row-lock concurrency runs against PostgreSQL (set TEST_DATABASE_URL)")


def all_at_once(app: Flask, calls: list[Callable[[FlaskClient], Any]]) -> list[Result]:
    """Run each call in its own thread with its own client, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[FlaskClient], Any]) -> Result:
        client = app.test_client()
        barrier.wait(timeout=30)
        response = call(client)
        return response.status_code, response.get_json(), response.headers.get("Idempotent-Replayed") == "true"

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls, timeout=120))


def second_cashier(app: Flask, seeded: dict[str, Any]) -> str:
    with app.app_context():
        session = db.session()
        brand = session.get(Brand, seeded["brand_id"])
        store = session.get(Store, seeded["store_ids"][1])
        assert brand is not None and store is not None
        token = create_cashier(session, brand, "Second Cashier", store)
        session.commit()
        return token


def count(app: Flask, card_id: int, kind: str) -> int:
    with app.app_context():
        return int(db.session().scalar(select(func.count()).where(LedgerEntry.card_id == card_id,
                                                                  LedgerEntry.kind == kind)) or 0)


def test_simultaneous_redemptions_never_go_past_the_balance(client: FlaskClient, seeded: dict[str, Any],
                                                            app: Flask) -> None:
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 100}))
    tokens = [seeded["cashier_token"], second_cashier(app, seeded)]
    calls = [
        (lambda c, token=tokens[i % 2]: transact(c, token, card["id"], {"type": "redeem", "points": 30}))
        for i in range(THREADS)
    ]
    results = all_at_once(app, calls)

    statuses = sorted(status for status, _, _ in results)
    assert statuses == [201] * 3 + [409] * (THREADS - 3)
    assert sorted(body["balance"] for status, body, _ in results if status == 201) == [10, 40, 70]
    assert {body["type"] for status, body, _ in results if status == 409} == {"/problems/insufficient-balance"}
    assert count(app, card["id"], "redeem") == 3
    assert_ledger_matches(app, card["id"], 10)


def test_one_idempotency_key_from_many_threads_applies_once(client: FlaskClient, seeded: dict[str, Any],
                                                            app: Flask) -> None:
    card = issue(client, seeded)
    calls = [
        (lambda c: transact(c, seeded["cashier_token"], card["id"], {"type": "purchase", "amount": "4.20"},
                            key="till-1-receipt-991"))
        for _ in range(THREADS)
    ]
    results = all_at_once(app, calls)

    assert {status for status, _, _ in results} == {201}
    assert len({repr(sorted(body.items())) for _, body, _ in results}) == 1  # every answer is the first answer
    assert sum(replayed for _, _, replayed in results) == THREADS - 1
    assert count(app, card["id"], "purchase") == 1
    assert_ledger_matches(app, card["id"], 42)


def test_mixed_earning_and_redeeming_keeps_balance_equal_to_the_ledger(client: FlaskClient, seeded: dict[str, Any],
                                                                       app: Flask) -> None:
    card = issue(client, seeded)
    earn: Callable[[FlaskClient], Any] = lambda c: transact(  # noqa: E731
        c, seeded["api_key"], card["id"], {"type": "earn", "points": 7})
    redeem: Callable[[FlaskClient], Any] = lambda c: transact(  # noqa: E731
        c, seeded["cashier_token"], card["id"], {"type": "redeem", "points": 5})
    results = all_at_once(app, [earn, redeem] * (THREADS // 2))

    applied = sorted((body for status, body, _ in results if status == 201), key=lambda body: body["id"])
    refused = [body for status, body, _ in results if status == 409]
    earned = [body for body in applied if body["type"] == "earn"]
    assert len(earned) == THREADS // 2 and len(applied) + len(refused) == THREADS
    running = 0
    for body in applied:  # each answer saw exactly the entries before it: one transaction at a time
        running += body["points"]
        assert body["balance"] == running >= 0
    assert all(problem["balance"] < 5 for problem in refused)  # refused only when really short
    assert_ledger_matches(app, card["id"], running)


def test_a_locked_card_makes_the_next_transaction_wait(client: FlaskClient, seeded: dict[str, Any],
                                                       app: Flask) -> None:
    """The lock itself: while one transaction holds the card row, another one waits for it."""
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 50}))
    done = threading.Event()
    result: list[Any] = []

    def redeem() -> None:
        result.append(transact(app.test_client(), seeded["cashier_token"], card["id"],
                               {"type": "redeem", "points": 50}))
        done.set()

    with app.app_context():
        session = db.session()
        held = loyalty.lock_card(session, card["id"])
        assert held is not None
        waiter = threading.Thread(target=redeem)
        waiter.start()
        assert not done.wait(1.0), "the redemption did not wait for the row lock"
        held.balance -= 50  # what a competing redemption would have done
        session.add(LedgerEntry(card_id=held.id, kind="redeem", points=-50, reason="held the lock"))
        session.commit()
    assert done.wait(30)
    waiter.join()
    response = result[0]
    assert response.status_code == 409 and response.get_json()["balance"] == 0
    assert_ledger_matches(app, card["id"], 0)


def test_a_till_is_not_held_up_by_a_transaction_that_only_names_the_card(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    """A campaign batch inserting a row that names the card (here a ledger entry, as a recipient row
    or a push delivery would) holds a KEY SHARE lock on it until it commits. The till's card lock
    (FOR NO KEY UPDATE) must not wait for that: FOR UPDATE would, and with the batch then bumping
    the card that was a deadlock."""
    from sqlalchemy import create_engine, text

    card = issue(client, seeded)
    url = app.config["PASSCAST"].database_url
    engine = create_engine(url)
    try:
        with engine.connect() as batch, engine.connect() as till:
            batch.begin()
            batch.execute(text("INSERT INTO ledger_entries (card_id, kind, points, created_at) "
                               "VALUES (:card, 'adjust', 0, now())"), {"card": card["id"]})
            till.begin()
            till.execute(text("SET LOCAL lock_timeout = '2s'"))
            from sqlalchemy.orm import Session

            with Session(bind=till) as session:
                locked = loyalty.lock_card(session, card["id"])  # raises LockNotAvailable after 2 s if it waits
                assert locked is not None and locked.id == card["id"]
                also, _ = loyalty.lock_card_for_transaction(session, card["id"], "no-such-key")
                assert also is not None
            till.rollback()
            batch.rollback()
    finally:
        engine.dispose()
