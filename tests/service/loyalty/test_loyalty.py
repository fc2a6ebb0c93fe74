"""The loyalty engine through the brand API: each transaction, then the pass served next.

Every scenario checks three things: the API answer, the ledger (Card.balance is its sum),
and pass.json of the .pkpass a phone would download afterwards.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from passes.package import read_pkpass
from service.loyalty import engine as loyalty
from service.loyalty.engine import TransactionRequest, post_transaction, purchase_points, round_points
from service.models import Card, Cashier, LedgerEntry, Program, Tier, utcnow
from service.platform import db
from tests.helpers import bearer

# --- helpers (also used by test_scan and test_concurrency) ---------------------------------


def make_program(app: Flask, seeded: dict[str, Any], *, kind: str = "points",
                 tiers: tuple[dict[str, Any], ...] = (), **columns: Any) -> int:
    """A program of the demo brand with the given rules, signed like the demo program."""
    with app.app_context():
        session = db.session()
        demo = session.get(Program, seeded["program_id"])
        assert demo is not None
        program = Program(brand_id=demo.brand_id, name=f"{kind.title()} Club", kind=kind, currency="EUR",
                          description=f"{kind} card", pass_type_identifier=demo.pass_type_identifier,
                          team_identifier=demo.team_identifier, certificate_id=demo.certificate_id, **columns)
        session.add(program)
        session.flush()
        for tier in tiers:
            session.add(Tier(program_id=program.id, **tier))
        session.commit()
        return program.id


def issue(client: FlaskClient, seeded: dict[str, Any], program_id: int | None = None,
          name: str = "Anna Smith") -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{program_id or seeded['program_id']}/cards",
                           json={"customer": {"name": name}}, headers=bearer(seeded["api_key"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def transact(client: FlaskClient, token: str, card_id: int, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post(f"/api/v1/cards/{card_id}/transactions", json=body, headers=headers)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def download_pass(client: FlaskClient, card: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    response = client.get(card["apple_pass_url"].removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200
    files = read_pkpass(response.data)
    return json.loads(files["pass.json"]), files


def pass_field(pass_json: dict[str, Any], key: str) -> dict[str, Any] | None:
    for group in pass_json["storeCard"].values():
        for item in group:
            if item["key"] == key:
                return item
    return None


def card_state(app: Flask, card_id: int) -> tuple[int, int, int, int]:
    """(balance, ledger sum, ledger entries, version): the invariants every test checks."""
    with app.app_context():
        session = db.session()
        card = session.get(Card, card_id)
        assert card is not None
        entries = session.scalar(select(func.count()).where(LedgerEntry.card_id == card_id))
        return card.balance, loyalty.ledger_balance(session, card_id), int(entries or 0), card.version


def assert_ledger_matches(app: Flask, card_id: int, balance: int) -> None:
    current, ledger_sum, _, _ = card_state(app, card_id)
    assert current == ledger_sum == balance


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (750, 246), colour).save(buffer, format="PNG")
    return buffer.getvalue()


# --- pure rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "down", "nearest", "up"), [
    ("30.25", 30, 30, 31),
    ("30.5", 30, 31, 31),
    ("30.75", 30, 31, 31),
    ("30", 30, 30, 30),
    ("0.01", 0, 0, 1),
])
def test_rounding_modes(value: str, down: int, nearest: int, up: int) -> None:
    assert [round_points(Decimal(value), mode) for mode in ("down", "nearest", "up")] == [down, nearest, up]


def test_purchase_rules_per_kind_use_decimal_and_the_tier_rate() -> None:
    gold = Tier(name="Gold", threshold=Decimal(500), earn_multiplier=Decimal("1.5"))
    points = Program(kind="points", points_per_unit=Decimal("2.5"), rounding="down")
    cashback = Program(kind="cashback", cashback_percent=Decimal("3"), rounding="nearest")
    discount = Program(kind="discount", discount_percent=Decimal("10"), rounding="down")
    assert purchase_points(points, None, Decimal("0.30")) == 0  # 0.75 rounds down: floats would not matter here
    assert purchase_points(points, None, Decimal("12.10")) == 30  # 30.25
    assert purchase_points(points, gold, Decimal("12.10")) == 45  # 45.375
    assert purchase_points(cashback, None, Decimal("19.99")) == 60  # 59.97 cents -> 0.60
    assert purchase_points(cashback, gold, Decimal("19.99")) == 90  # 89.955 cents -> 0.90
    assert purchase_points(discount, gold, Decimal("100.00")) == 0


# --- points ---------------------------------------------------------------------------------


def test_earn_and_redeem_show_in_the_next_pass(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded)
    earned = ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 80, "reason": "welcome"}))
    assert (earned["type"], earned["points"], earned["balance"], earned["lifetime_points"]) == ("earn", 80, 80, 80)
    pass_json, _ = download_pass(client, card)
    balance = pass_field(pass_json, "balance")
    assert balance == {"key": "balance", "label": "Points", "value": 80, "changeMessage": "Balance: %@"}

    redeemed = ok(transact(client, seeded["api_key"], card["id"], {"type": "redeem", "points": 30}))
    assert (redeemed["points"], redeemed["balance"], redeemed["lifetime_points"]) == (-30, 50, 80)
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "balance")["value"] == 50  # type: ignore[index]
    assert_ledger_matches(app, card["id"], 50)

    ledger = client.get(f"/api/v1/cards/{card['id']}/transactions", headers=bearer(seeded["api_key"])).get_json()
    assert [(entry["type"], entry["points"]) for entry in ledger] == [("redeem", -30), ("earn", 80), ("issue", 0)]
    assert ledger[1]["reason"] == "welcome"


@pytest.mark.parametrize(("rounding", "amount", "points"), [
    ("down", "12.10", 30), ("nearest", "12.10", 30), ("up", "12.10", 31),
    ("down", "12.20", 30), ("nearest", "12.20", 31), ("up", "12.20", 31),
])
def test_points_purchase_rounds_by_the_program_rule(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                    rounding: str, amount: str, points: int) -> None:
    program_id = make_program(app, seeded, points_per_unit=Decimal("2.5"), rounding=rounding)
    card = issue(client, seeded, program_id)
    result = ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": amount}))
    assert (result["points"], result["balance"], result["amount"], result["lifetime_spend"]) == (
        points, points, amount, amount)
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "balance")["value"] == points  # type: ignore[index]
    assert_ledger_matches(app, card["id"], points)


def test_redeeming_more_than_the_balance_is_409_and_writes_nothing(client: FlaskClient, seeded: dict[str, Any],
                                                                    app: Flask) -> None:
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 40}))
    before = card_state(app, card["id"])
    response = transact(client, seeded["api_key"], card["id"], {"type": "redeem", "points": 41})
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert (problem["type"], problem["balance"], problem["requested"]) == ("/problems/insufficient-balance", 40, 41)
    assert card_state(app, card["id"]) == before
    assert ok(transact(client, seeded["api_key"], card["id"], {"type": "redeem", "points": 40}))["balance"] == 0


# --- cashback and discount ------------------------------------------------------------------


def test_cashback_earns_money_and_redeems_as_money(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    program_id = make_program(app, seeded, kind="cashback", cashback_percent=Decimal("5"), rounding="down")
    card = issue(client, seeded, program_id)
    first = ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "12.50"}))
    assert (first["points"], first["balance"], first["balance_money"]) == (62, 62, "0.62")  # 0.625 down
    assert first["currency"] == "EUR", "the answer says which money its amounts are in"
    second = ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "100.00"}))
    assert (second["balance"], second["balance_money"]) == (562, "5.62")
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "balance") == {"key": "balance", "label": "Cashback", "value": 5.62,
                                                "currencyCode": "EUR", "changeMessage": "Balance: %@"}

    redeemed = ok(transact(client, seeded["api_key"], card["id"], {"type": "redeem", "amount": "5.00"}))
    assert (redeemed["points"], redeemed["amount"], redeemed["balance_money"]) == (-500, "5.00", "0.62")
    too_much = transact(client, seeded["api_key"], card["id"], {"type": "redeem", "amount": "0.63"})
    assert too_much.status_code == 409 and too_much.get_json()["requested"] == 63
    by_points = ok(transact(client, seeded["api_key"], card["id"], {"type": "redeem", "points": 62}))
    assert (by_points["amount"], by_points["balance"], by_points["balance_money"]) == ("0.62", 0, "0.00")
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "balance")["value"] == 0  # type: ignore[index]
    assert_ledger_matches(app, card["id"], 0)


def test_money_redemption_needs_a_cashback_program(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 500}))
    before = card_state(app, card["id"])
    response = transact(client, seeded["api_key"], card["id"], {"type": "redeem", "amount": "1.00"})
    assert response.status_code == 422
    assert [error["field"] for error in response.get_json()["errors"]] == ["amount"]
    assert card_state(app, card["id"]) == before


def test_discount_card_shows_its_percentage_and_totals_purchases(client: FlaskClient, seeded: dict[str, Any],
                                                                 app: Flask) -> None:
    vip = {"name": "VIP", "threshold": Decimal("100.00"), "discount_percent": Decimal("15")}
    program_id = make_program(app, seeded, kind="discount", discount_percent=Decimal("10"),
                              tier_basis="lifetime_spend", tiers=(vip,))
    card = issue(client, seeded, program_id)
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "discount") == {"key": "discount", "label": "Discount", "value": "10%",
                                                 "changeMessage": "Your discount is now %@"}
    assert pass_field(pass_json, "balance") is None and pass_field(pass_json, "tier") is None

    first = ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "60.25"}))
    assert (first["points"], first["balance"], first["lifetime_spend"], first["discount_percent"]) == (
        0, 0, "60.25", "10")
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "spend") == {"key": "spend", "label": "Purchases", "value": 60.25,
                                              "currencyCode": "EUR", "changeMessage": "Purchases: %@"}

    second = ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "39.75"}))
    assert (second["lifetime_spend"], second["tier"], second["tier_change"], second["discount_percent"]) == (
        "100.00", "VIP", "up", "15")
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "discount")["value"] == "15%"  # type: ignore[index]
    assert pass_field(pass_json, "tier")["value"] == "VIP"  # type: ignore[index]
    assert pass_field(pass_json, "spend")["value"] == 100  # type: ignore[index]

    before = card_state(app, card["id"])
    refused = transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 10})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "type"
    assert card_state(app, card["id"]) == before


# --- tiers ------------------------------------------------------------------------------------

SILVER = {"name": "Silver", "threshold": Decimal(100), "background_color": "#4b5563", "label_color": "#e5e7eb"}
GOLD = {"name": "Gold", "threshold": Decimal(500), "earn_multiplier": Decimal(2),
        "background_color": "#7c5e10", "foreground_color": "#000000", "strip_png": png((200, 0, 0))}


def strip_colour(files: dict[str, bytes]) -> tuple[int, ...]:
    with Image.open(io.BytesIO(files["strip@2x.png"])) as image:
        return tuple(image.convert("RGB").getpixel((image.width // 2, image.height // 2)))


def test_tier_up_and_down_changes_pass_colours_strip_and_rate(client: FlaskClient, seeded: dict[str, Any],
                                                              app: Flask) -> None:
    program_id = make_program(app, seeded, points_per_unit=Decimal(10), tier_basis="points",
                              background_color="#102030", tiers=(SILVER, GOLD))
    card = issue(client, seeded, program_id)
    plain, plain_files = download_pass(client, card)
    assert pass_field(plain, "tier") is None and plain["backgroundColor"] == "rgb(16, 32, 48)"

    silver = ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "15.00"}))
    assert (silver["balance"], silver["tier"], silver["tier_change"]) == (150, "Silver", "up")
    pass_json, files = download_pass(client, card)
    assert pass_field(pass_json, "tier") == {"key": "tier", "label": "Tier", "value": "Silver",
                                             "changeMessage": "Your tier is now %@"}
    assert (pass_json["backgroundColor"], pass_json["labelColor"]) == ("rgb(75, 85, 99)", "rgb(229, 231, 235)")
    assert files["strip@2x.png"] != plain_files["strip@2x.png"]  # the default strip follows the tier colour

    gold = ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 350}))
    assert (gold["balance"], gold["tier"], gold["tier_change"]) == (500, "Gold", "up")
    pass_json, files = download_pass(client, card)
    assert pass_field(pass_json, "tier")["value"] == "Gold"  # type: ignore[index]
    assert (pass_json["backgroundColor"], pass_json["foregroundColor"]) == ("rgb(124, 94, 16)", "rgb(0, 0, 0)")
    assert strip_colour(files) == (200, 0, 0)
    doubled = ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "1.55"}))
    assert doubled["points"] == 31  # 1.55 x 10 x 2 at Gold

    down = ok(transact(client, seeded["api_key"], card["id"], {"type": "redeem", "points": 400}))
    assert (down["balance"], down["tier"], down["tier_change"]) == (131, "Silver", "down")
    pass_json, files = download_pass(client, card)
    assert pass_field(pass_json, "tier")["value"] == "Silver"  # type: ignore[index]
    assert pass_field(pass_json, "balance")["value"] == 131  # type: ignore[index]
    assert pass_json["backgroundColor"] == "rgb(75, 85, 99)" and strip_colour(files) != (200, 0, 0)

    gone = ok(transact(client, seeded["api_key"], card["id"], {"type": "redeem", "points": 100}))
    assert (gone["tier"], gone["tier_change"]) == (None, "down")
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "tier") is None and pass_json["backgroundColor"] == "rgb(16, 32, 48)"
    assert_ledger_matches(app, card["id"], 31)


def test_lifetime_spend_tiers_and_a_raised_threshold_moves_cards_down(client: FlaskClient, seeded: dict[str, Any],
                                                                      app: Flask) -> None:
    tiers = ({**SILVER, "threshold": Decimal("50.00")}, {**GOLD, "threshold": Decimal("200.00")})
    program_id = make_program(app, seeded, tier_basis="lifetime_spend", tiers=tiers)
    card = issue(client, seeded, program_id)
    result = ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "120.00"}))
    assert (result["tier"], result["lifetime_spend"]) == ("Silver", "120.00")
    ok(transact(client, seeded["api_key"], card["id"], {"type": "redeem", "points": 100}))  # spend stays
    result = ok(transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "80.00"}))
    assert (result["tier"], result["tier_change"], result["lifetime_spend"]) == ("Gold", "up", "200.00")

    with app.app_context():
        session = db.session()
        program = session.get(Program, program_id)
        assert program is not None
        gold = next(tier for tier in program.tiers if tier.name == "Gold")
        gold.threshold = Decimal("250.00")
        version = card_state(app, card["id"])[3]
        assert loyalty.refresh_program(session, program) == 1
        session.commit()
    assert card_state(app, card["id"])[3] == version + 1
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "tier")["value"] == "Silver"  # type: ignore[index]


# --- expiry -------------------------------------------------------------------------------------


def _post_at(app: Flask, card_id: int, when: dt.datetime, **body: Any) -> dict[str, Any]:
    """A transaction as if made at `when` (the engine takes the clock as an argument)."""
    with app.app_context():
        session = db.session()
        outcome = post_transaction(session, card_id, TransactionRequest(**body), str(uuid.uuid4()), now=when)
        session.commit()
        return outcome.response


@pytest.mark.usefixtures("awkward_moment")  # "now" decides these figures
def test_points_expire_oldest_first_and_the_pass_says_when(client: FlaskClient, seeded: dict[str, Any],
                                                          app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    program_id = make_program(app, seeded, points_expire_days=30, tier_basis="points",
                              tiers=({**SILVER, "threshold": Decimal(100)},))
    card = issue(client, seeded, program_id)
    now = utcnow().replace(microsecond=0)
    first_lot, second_lot = now - dt.timedelta(days=40), now - dt.timedelta(days=10)
    _post_at(app, card["id"], first_lot, type="earn", points=100)
    _post_at(app, card["id"], second_lot, type="earn", points=50)
    spent = _post_at(app, card["id"], now - dt.timedelta(days=5), type="redeem", points=30)
    assert spent["tier"] == "Silver"  # 120 points
    assert dt.datetime.fromisoformat(spent["points_expire_at"]) == first_lot + dt.timedelta(days=30)
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "expiry") == {
        "key": "expiry", "label": "Points expire on", "value": (first_lot + dt.timedelta(days=30)).isoformat(),
        "dateStyle": "PKDateStyleMedium", "changeMessage": "Points expire on %@"}

    # The daily job, as the worker runs it, with the test's session.
    from contextlib import contextmanager

    from service.loyalty import tasks as loyalty_tasks

    @contextmanager
    def test_session() -> Any:
        with app.app_context():
            yield db.session()

    monkeypatch.setattr(loyalty_tasks, "job_session", test_session)
    monkeypatch.setattr(loyalty_tasks, "utcnow", lambda: now)
    assert loyalty_tasks.expire_points_daily.call_local() == {"cards": 1, "points": 70}  # 100 - 30 spent

    with app.app_context():
        entry = db.session().scalars(select(LedgerEntry).where(LedgerEntry.card_id == card["id"])
                                     .order_by(LedgerEntry.id.desc())).first()
        assert entry is not None and (entry.kind, entry.points) == ("expire", -70)
        stored = db.session().get(Card, card["id"])
        assert stored is not None and stored.points_expire_at == second_lot + dt.timedelta(days=30)
    assert_ledger_matches(app, card["id"], 50)
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "balance")["value"] == 50  # type: ignore[index]
    assert pass_field(pass_json, "tier") is None  # 50 points is below Silver
    assert pass_field(pass_json, "expiry")["value"] == (second_lot + dt.timedelta(days=30)).isoformat()  # type: ignore[index]

    with app.app_context():
        assert loyalty.expire_points(db.session(), now).cards == 0  # a second run the same day: nothing
        later = loyalty.expire_points(db.session(), second_lot + dt.timedelta(days=30))
        assert (later.cards, later.points) == (1, 50)
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "balance")["value"] == 0  # type: ignore[index]
    assert pass_field(pass_json, "expiry") is None
    assert_ledger_matches(app, card["id"], 0)


@pytest.mark.usefixtures("awkward_moment")  # "now" decides these figures
def test_cached_expiry_date_always_equals_the_ledgers_answer(client: FlaskClient, seeded: dict[str, Any],
                                                             app: Flask) -> None:
    """Earning skips the ledger query for the expiry date (FIFO: new points are never the
    oldest unless the card was empty); after every step of a random walk of earns, purchases
    and redemptions, the stored date is what the full ledger computation says."""
    import random

    program_id = make_program(app, seeded, points_expire_days=30)
    card = issue(client, seeded, program_id)
    rng = random.Random(20261123)
    when = utcnow().replace(microsecond=0) - dt.timedelta(days=200)
    balance = 0
    for _ in range(40):
        when += dt.timedelta(days=rng.randint(0, 6), seconds=rng.randint(1, 3600))
        choice = rng.random()
        if choice < 0.35 and balance > 0:
            answer = _post_at(app, card["id"], when, type="redeem", points=rng.randint(1, balance))
        elif choice < 0.45 and balance > 0:
            answer = _post_at(app, card["id"], when, type="redeem", points=balance)  # empties the card
        elif choice < 0.7:
            answer = _post_at(app, card["id"], when, type="purchase",
                              amount=Decimal(f"{rng.randint(1, 90)}.50"))
        else:
            answer = _post_at(app, card["id"], when, type="earn", points=rng.randint(1, 40))
        balance = answer["balance"]
        with app.app_context():
            session = db.session()
            stored = session.get(Card, card["id"])
            assert stored is not None
            expected = loyalty.next_expiry(session, stored)
            assert stored.points_expire_at == expected, (answer, expected)
            assert (answer["points_expire_at"] or None) == (expected.isoformat() if expected else None)
    assert_ledger_matches(app, card["id"], balance)


def test_expiry_job_is_scheduled_daily() -> None:
    from service.loyalty import tasks as loyalty_tasks

    name = loyalty_tasks.expire_points_daily.task_class.__name__
    minutes = (dt.datetime(2027, 1, 1) + dt.timedelta(minutes=m) for m in range(2 * 24 * 60))
    runs = [moment for moment in minutes
            if name in [task.name for task in loyalty_tasks.maintenance_queue.read_periodic(moment)]]
    assert runs == [dt.datetime(2027, 1, 1, 3, 17), dt.datetime(2027, 1, 2, 3, 17)]


# --- idempotency ------------------------------------------------------------------------------


def test_same_key_same_body_returns_the_first_answer(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded)
    first = transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "12.5"}, key="till-7-0001")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    state = card_state(app, card["id"])
    again = transact(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "12.50"}, key="till-7-0001")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert card_state(app, card["id"]) == state
    assert first.get_json()["balance"] == 125

    other_card = issue(client, seeded, name="Bob Jones")
    separate = transact(client, seeded["api_key"], other_card["id"], {"type": "purchase", "amount": "12.50"},
                        key="till-7-0001")
    assert separate.status_code == 201 and "Idempotent-Replayed" not in separate.headers


def test_same_key_different_body_is_422_and_writes_nothing(client: FlaskClient, seeded: dict[str, Any],
                                                           app: Flask) -> None:
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 10}, key="k-1"))
    state = card_state(app, card["id"])
    response = transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 11}, key="k-1")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/idempotency-key-reused"
    assert card_state(app, card["id"]) == state


@pytest.mark.parametrize(("key", "type_"), [
    (None, "/problems/idempotency-key-missing"),
    ("   ", "/problems/idempotency-key-missing"),
    ("x" * 201, "/problems/idempotency-key-invalid"),
    ("cl\u00e9", "/problems/idempotency-key-invalid"),
    ("a\tb", "/problems/idempotency-key-invalid"),
])
def test_transactions_need_a_valid_idempotency_key(client: FlaskClient, seeded: dict[str, Any], app: Flask,
                                                   key: str | None, type_: str) -> None:
    card = issue(client, seeded)
    state = card_state(app, card["id"])
    headers = bearer(seeded["api_key"]) | ({"Idempotency-Key": key} if key is not None else {})
    response = client.post(f"/api/v1/cards/{card['id']}/transactions", json={"type": "earn", "points": 5},
                           headers=headers)
    assert response.status_code == 400
    assert response.get_json()["type"] == type_
    assert card_state(app, card["id"]) == state


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "earn", "points": -5}, "points"),
    ({"type": "earn", "points": 0}, "points"),
    ({"type": "earn", "points": "5"}, "points"),
    ({"type": "earn", "points": 5.0}, "points"),
    ({"type": "earn", "points": True}, "points"),
    ({"type": "earn", "points": 10**30}, "points"),
    ({"type": "earn", "points": 10_000_001}, "points"),
    ({"type": "earn"}, "points"),
    ({"type": "earn", "points": 5, "amount": "1.00"}, "amount"),
    ({"type": "purchase", "amount": "12.345"}, "amount"),
    ({"type": "purchase", "amount": 12.5}, "amount"),
    ({"type": "purchase", "amount": "-1.00"}, "amount"),
    ({"type": "purchase", "amount": "0.00"}, "amount"),
    ({"type": "purchase", "amount": "1e3"}, "amount"),
    ({"type": "purchase", "amount": "12,50"}, "amount"),
    ({"type": "purchase", "amount": "1000000.01"}, "amount"),
    ({"type": "purchase", "amount": "9" * 40}, "amount"),
    ({"type": "purchase"}, "amount"),
    ({"type": "purchase", "amount": "1.00", "points": 5}, "points"),
    ({"type": "redeem"}, "points"),
    ({"type": "redeem", "points": 5, "amount": "1.00"}, "points"),
    ({"points": 5}, "type"),
    ({"type": "gift", "points": 5}, "type"),
    ({"type": "earn", "points": 5, "bonus": 1}, "bonus"),
    ({"type": "earn", "points": 5, "reason": "x" * 301}, "reason"),
    ({"type": "earn", "points": 5, "store_id": "1"}, "store_id"),
])
def test_bad_transaction_bodies_are_problems_and_write_nothing(client: FlaskClient, seeded: dict[str, Any],
                                                                app: Flask, body: dict[str, Any], field: str) -> None:
    card = issue(client, seeded)
    state = card_state(app, card["id"])
    response = transact(client, seeded["api_key"], card["id"], body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == "/problems/validation"
    assert field in [error["field"] for error in problem["errors"]]
    assert card_state(app, card["id"]) == state


def test_unknown_and_foreign_cards_are_404(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded)
    unknown = transact(client, seeded["api_key"], card["id"] + 1000, {"type": "earn", "points": 5})
    assert unknown.status_code == 404 and unknown.mimetype == "application/problem+json"
    with app.app_context():
        from service.demo import create_api_key, create_brand, create_cashier

        other = create_brand(db.session(), "Other Tea", "other-tea")
        other_key = create_api_key(db.session(), other)
        other_cashier = create_cashier(db.session(), other, "Tea Cashier", None)
        db.session().commit()
    state = card_state(app, card["id"])
    for token in (other_key, other_cashier):
        foreign = transact(client, token, card["id"], {"type": "earn", "points": 5})
        assert foreign.status_code == 404 and foreign.get_json()["title"] == "Card not found"
        listing = client.get(f"/api/v1/cards/{card['id']}/transactions", headers=bearer(token))
        assert listing.status_code == 404
    assert card_state(app, card["id"]) == state
    assert transact(client, "pk_000000000000_nope", card["id"], {"type": "earn", "points": 5}).status_code == 401


def test_voided_cards_take_no_transactions(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded)
    with app.app_context():
        stored = db.session().get(Card, card["id"])
        assert stored is not None
        stored.voided = True
        db.session().commit()
    state = card_state(app, card["id"])
    response = transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 5})
    assert response.status_code == 409 and response.get_json()["type"] == "/problems/card-voided"
    assert card_state(app, card["id"]) == state


# --- who and where ---------------------------------------------------------------------------------


def test_cashier_transactions_record_cashier_and_store(client: FlaskClient, seeded: dict[str, Any],
                                                       app: Flask) -> None:
    card = issue(client, seeded)
    result = ok(transact(client, seeded["cashier_token"], card["id"], {"type": "purchase", "amount": "3.00"}))
    with app.app_context():
        cashier = db.session().scalars(select(Cashier).where(Cashier.brand_id == seeded["brand_id"])).one()
        assert (result["cashier_id"], result["store_id"]) == (cashier.id, seeded["store_ids"][0])
        entry = db.session().get(LedgerEntry, result["id"])
        assert entry is not None and (entry.cashier_id, entry.store_id) == (cashier.id, seeded["store_ids"][0])

    wrong_store = transact(client, seeded["cashier_token"], card["id"],
                           {"type": "earn", "points": 1, "store_id": seeded["store_ids"][1]})
    assert wrong_store.status_code == 422 and wrong_store.get_json()["errors"][0]["field"] == "store_id"
    by_brand = ok(transact(client, seeded["api_key"], card["id"],
                           {"type": "earn", "points": 1, "store_id": seeded["store_ids"][2]}))
    assert (by_brand["cashier_id"], by_brand["store_id"]) == (None, seeded["store_ids"][2])
    not_ours = transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 1, "store_id": 99999})
    assert not_ours.status_code == 422

    with app.app_context():
        cashier = db.session().scalars(select(Cashier).where(Cashier.brand_id == seeded["brand_id"])).one()
        cashier.active = False
        db.session().commit()
    disabled = transact(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 1})
    assert disabled.status_code == 403
    assert_ledger_matches(app, card["id"], 31)


def test_openapi_documents_the_transaction_endpoint(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/cards/{card_id}/transactions"]["post"]
    assert {"in": "header", "name": "Idempotency-Key", "required": True} == {
        key: operation["parameters"][0][key] for key in ("in", "name", "required")}
    assert set(operation["responses"]) >= {"201", "400", "404", "409", "422"}
    assert "/api/v1/cashier/scan" in spec["paths"]
