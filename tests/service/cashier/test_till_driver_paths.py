"""The till's two requests answer and write exactly the same whether their statements run straight from
the PostgreSQL driver (service/loyalty/card_rows.py, counter_rows.py, webhooks.emit: issue 18) or
through the ORM, as they do on SQLite and wherever `db.session_driver_rows` declines."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from service.models import Card, LedgerEntry, PushDelivery, Registration, WebhookEvent
from service.platform import db
from tests.helpers import bearer, terminate_backend
from tests.service.loyalty.test_loyalty import issue, make_program, ok, transact
from tests.service.loyalty.test_rewards import buy, catalogue_reward


def _orm_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every driver path declines, as on another database: the ORM answers."""
    monkeypatch.setattr(db, "session_driver_rows", lambda *_args, **_kwargs: None)


def _register(app: Flask, card_id: int, token: str) -> None:
    with app.app_context():
        session = db.session()
        now = dt.datetime.now(dt.UTC)
        session.add(Registration(device_library_identifier=f"device-{card_id}", card_id=card_id,
                                 pass_type_identifier="pass.dev.passcast.loyalty", push_token=token,
                                 client_kind="apple", active=True, created_at=now, updated_at=now))
        session.commit()


def _card_with_history(client: FlaskClient, seeded: dict[str, Any], app: Flask, program_id: int | None = None,
                       name: str = "Anna Smith") -> dict[str, Any]:
    card = issue(client, seeded, program_id, name=name)
    cashier, key = seeded["cashier_token"], seeded["api_key"]
    ok(transact(client, cashier, card["id"], {"type": "purchase", "amount": "120.50"}))
    ok(transact(client, key, card["id"], {"type": "earn", "points": 300, "reason": "goodwill"}))
    ok(transact(client, cashier, card["id"], {"type": "redeem", "points": 20}))
    undone = ok(transact(client, cashier, card["id"], {"type": "purchase", "amount": "3.10"}))
    reversed_ = client.post(f"/api/v1/transactions/{undone['id']}/reverse", json={"reason": "wrong card"},
                            headers={**bearer(cashier), "Idempotency-Key": f"undo-{card['id']}"})
    assert reversed_.status_code == 201, reversed_.get_json()
    return card


def test_a_scan_answers_byte_for_byte_as_through_the_orm(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    coffee = catalogue_reward(client, seeded, name="Free coffee", cost_points=50)
    catalogue_reward(client, seeded, name="Cake", cost_points=400)
    catalogue_reward(client, seeded, name="Mug", cost_points=50)  # same cost: by id
    catalogue_reward(client, seeded, name="A coupon", cost_points=None)  # not sold for points
    retired = catalogue_reward(client, seeded, name="Old offer", cost_points=10)
    assert client.delete(f"/api/v1/programs/{seeded['program_id']}/rewards/{retired['id']}",
                         headers=bearer(seeded["api_key"])).status_code == 200
    card = _card_with_history(client, seeded, app)
    assert buy(client, seeded["cashier_token"], card["id"], coffee["id"]).status_code == 201  # a held reward
    for _ in range(8):  # more entries than the counter lists
        ok(transact(client, seeded["cashier_token"], card["id"], {"type": "purchase", "amount": "1.00"}))
    cashback = _card_with_history(client, seeded, app, make_program(app, seeded, kind="cashback",
                                                                   cashback_percent=Decimal(2)), name="Ben")
    stamps = issue(client, seeded, make_program(app, seeded, kind="stamps", stamps_required=3), name="Cleo")
    for _ in range(4):  # a full card and its reward
        ok(transact(client, seeded["cashier_token"], stamps["id"], {"type": "stamp"}))

    def scans() -> list[bytes]:
        answers = []
        for code in (card["barcode_message"], card["number"], cashback["barcode_message"],
                     stamps["barcode_message"], "PC1:garbage", "123 456 789 0"):
            response = client.post("/api/v1/cashier/scan", json={"code": code}, headers=bearer(seeded["cashier_token"]))
            answers.append(f"{response.status_code} {response.content_type}\n".encode() + response.data)
        return answers

    lean = scans()
    assert lean[0].startswith(b"200") and b'"rewards_for_points"' in lean[0]
    with monkeypatch.context() as patched:
        _orm_only(patched)
        through_orm = scans()
    assert lean == through_orm


def _row(app: Flask, card_id: int) -> dict[str, Any]:
    skip = {"id", "customer_id", "number", "serial_number", "authentication_token", "created_at", "updated_at",
            "last_visit_at", "points_expire_at", "referral_code"}
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        return {column.key: getattr(card, column.key) for column in Card.__table__.columns if column.key not in skip}


def _what_was_queued(app: Flask, card_id: int) -> tuple[int, list[Any]]:
    with app.app_context():
        session = db.session()
        pushes = session.scalar(select(func.count()).select_from(PushDelivery).where(PushDelivery.card_id == card_id))
        events = [event.data for event in session.scalars(
            select(WebhookEvent).where(WebhookEvent.type == "transaction.created").order_by(WebhookEvent.id))
            if event.data["card_id"] == card_id]
        return int(pushes or 0), events


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key not in ("id", "card_id", "idempotency_key",
                                                                        "created_at", "points_expire_at", "instance")}


def test_a_purchase_writes_and_answers_as_through_the_orm(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Two cards of the same history: the same purchases (one moving the card up a tier, one replayed,
    one with a reused key) through each path leave the same card row, pushes, webhook events and answers."""
    program = make_program(app, seeded, points_per_unit=Decimal(1), tiers=(
        {"name": "Silver", "threshold": Decimal(0), "earn_multiplier": Decimal(1)},
        {"name": "Gold", "threshold": Decimal(500), "earn_multiplier": Decimal(2)}))
    first, second = (issue(client, seeded, program, name=name) for name in ("Anna", "Ben"))
    cashier = seeded["cashier_token"]

    def purchases(card_id: int) -> list[tuple[int, Any, str | None]]:
        answers = []
        for amount, key in (("120.50", "a"), ("400.00", "b"), ("5.00", "c")):
            response = transact(client, cashier, card_id, {"type": "purchase", "amount": amount}, key=key)
            answers.append((response.status_code, _comparable(response.get_json()),
                            response.headers.get("Idempotent-Replayed")))
        for body in ({"type": "purchase", "amount": "5.00"}, {"type": "purchase", "amount": "6.00"}):
            response = transact(client, cashier, card_id, body, key="c")  # a replay, then a reuse (per card)
            answers.append((response.status_code, _comparable(response.get_json()),
                            response.headers.get("Idempotent-Replayed")))
        redeem = transact(client, cashier, card_id, {"type": "redeem", "points": 10 ** 6})  # refused: 409
        answers.append((redeem.status_code, redeem.get_json()["type"], None))
        return answers

    _register(app, first["id"], "a" * 64)
    _register(app, second["id"], "b" * 64)
    lean = purchases(first["id"])
    with monkeypatch.context() as patched:
        _orm_only(patched)
        through_orm = purchases(second["id"])
    assert lean == through_orm
    assert [answer[1]["tier"] for answer in lean[:3]] == ["Silver", "Gold", "Gold"]
    assert _row(app, first["id"]) == _row(app, second["id"])
    lean_pushes, lean_events = _what_was_queued(app, first["id"])
    orm_pushes, orm_events = _what_was_queued(app, second["id"])
    assert lean_pushes == orm_pushes == 3  # one per purchase (registered after the issue)
    assert [_comparable(event) for event in lean_events] == [_comparable(event) for event in orm_events]
    assert len(lean_events) == 3
    with app.app_context():
        for card_id in (first["id"], second["id"]):  # the balance is the ledger's sum
            card = db.session().get(Card, card_id)
            assert card is not None
            assert card.balance == db.session().scalar(
                select(func.sum(LedgerEntry.points)).where(LedgerEntry.card_id == card_id))


def test_a_connection_used_a_moment_ago_is_not_pinged_and_an_idle_one_is(app: Flask,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    engine = app.extensions["db_engine"]
    if engine.dialect.name == "sqlite":
        pytest.skip("a SQLite file has no connection to lose: no ping")
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(1) or real_ping(connection))
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with engine.connect() as connection:  # back in the pool a moment ago: no round trip
        connection.execute(text("SELECT 1"))
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    time.sleep(0.01)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert pings == [1]


def test_an_idle_connection_the_database_dropped_is_replaced_before_use(app: Flask,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = app.extensions["db_engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("a backend to terminate is PostgreSQL's")
    connection = engine.connect()
    first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.connect() as admin:  # another connection: `first` is checked out
        connection.close()  # back in the pool, then killed there
        terminate_backend(admin, first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as after a second in the pool
    with app.app_context():
        session = db.session()
        second = session.execute(text("SELECT pg_backend_pid()")).scalar_one()  # no error: replaced
        assert second != first
