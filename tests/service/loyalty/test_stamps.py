"""Stamp cards through the brand API: each earning rule, the ladder, starter stamps, carry-over,
happy hours (with the clock held by time-machine), the fixed names (program create with kind
stamps, transaction type stamp, the card's `stamps`), problem+json for what makes no sense, and
the pass: signed (openssl), its strip showing exactly the card's stamps, Google's object valid."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from passes.stamps import slot_centres
from service.google_wallet import sync
from service.loyalty import stamps as stamp_rules
from service.models import Card, HeldReward, LedgerEntry, Program
from service.platform import db
from service.platform.config import Settings
from tests.doubles import wallet_schema
from tests.helpers import bearer, verified_pass

PROBLEM = "application/problem+json"


# --- helpers ---------------------------------------------------------------------------------


def create_program(client: FlaskClient, seeded: dict[str, Any], **fields: Any) -> Any:
    body = {"name": "Coffee Stamps", "kind": "stamps", "stamps_required": 10, **fields}
    return client.post("/api/v1/programs", json=body, headers=bearer(seeded["api_key"]))


def stamp_program(client: FlaskClient, seeded: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = create_program(client, seeded, **fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def issue(client: FlaskClient, seeded: dict[str, Any], program_id: int, name: str = "Anna Smith") -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{program_id}/cards", json={"customer": {"name": name}},
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post(client: FlaskClient, seeded: dict[str, Any], card_id: int, body: dict[str, Any],
         key: str | None = None) -> Any:
    headers = {**bearer(seeded["api_key"]), "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post(f"/api/v1/cards/{card_id}/transactions", json=body, headers=headers)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def card_of(client: FlaskClient, seeded: dict[str, Any], card_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/cards/{card_id}", headers=bearer(seeded["api_key"]))
    assert response.status_code == 200
    return response.get_json()


def ledger_sum(app: Flask, card_id: int) -> int:
    with app.app_context():
        return int(db.session().scalar(select(func.sum(LedgerEntry.points)).where(LedgerEntry.card_id == card_id)))


def rewards(app: Flask, card_id: int) -> list[tuple[str, int, int, bool]]:
    with app.app_context():
        rows = db.session().scalars(select(HeldReward).where(HeldReward.card_id == card_id).order_by(HeldReward.id))
        return [(row.name, row.card_cycle, row.at_stamp, row.full_card) for row in rows]


def problem_fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM
    return [error["field"] for error in response.get_json()["errors"]]


def filled_slots(png: bytes, total: int, scale: int, foreground: tuple[int, int, int],
                 background: tuple[int, int, int]) -> int:
    """Slots whose centre pixel is nearer the stamp colour than the ground: the stamps drawn."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (375 * scale, 123 * scale)

    def distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
        return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))

    pixels = [image.getpixel(centre) for centre in slot_centres(total, scale)]
    marks = [distance(pixel, foreground) < distance(pixel, background) for pixel in pixels]  # type: ignore[arg-type]
    assert marks == sorted(marks, reverse=True), "stamps fill the slots in order"
    return sum(marks)


WHITE, BROWN = (255, 255, 255), (0x3B, 0x24, 0x17)


# --- the fixed names ------------------------------------------------------------------------


def test_a_stamp_program_is_created_and_a_stamp_fills_a_slot(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = stamp_program(client, seeded)
    assert (program["kind"], program["stamps_required"], program["starter_stamps"], program["stamp_rule"]) == (
        "stamps", 10, 0, "visit")
    card = issue(client, seeded, program["id"])
    assert (card["stamps"], card["stamps_required"], card["stamp_cards_completed"], card["stamp_rewards"]) == (
        0, 10, 0, [])
    answer = ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 2}))
    assert (answer["stamps"], answer["stamps_earned"], answer["stamp_multiplier"], answer["rewards_earned"]) == (
        2, 2, 1, [])
    assert answer["type"] == "stamp" and answer["balance"] == 2
    one = ok(post(client, seeded, card["id"], {"type": "stamp"}))  # no count: one visit, one stamp
    assert one["stamps"] == 3
    assert card_of(client, seeded, card["id"])["stamps"] == 3
    assert ledger_sum(app, card["id"]) == 3
    # the cashier's scan answers the same count
    scanned = client.post("/api/v1/cashier/scan", json={"code": card["barcode_message"]},
                          headers=bearer(seeded["cashier_token"]))
    assert scanned.status_code == 200 and scanned.get_json()["stamps"] == 3
    assert scanned.get_json()["stamps_required"] == 10


def test_a_points_card_answers_stamps_null_and_refuses_a_stamp(
        client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, seeded["program_id"])
    assert card["stamps"] is None and card["stamp_rewards"] is None
    refused = post(client, seeded, card["id"], {"type": "stamp", "stamps": 1})
    assert problem_fields(refused) == ["type"]
    assert "only stamp-card programs take stamps" in refused.get_json()["errors"][0]["message"]
    # the stamps field belongs to stamp transactions only
    assert problem_fields(post(client, seeded, card["id"], {"type": "earn", "points": 5, "stamps": 2})) == ["stamps"]


def test_a_stamp_card_refuses_points_by_hand(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, stamp_program(client, seeded)["id"])
    for body in ({"type": "earn", "points": 5}, {"type": "redeem", "points": 1}):
        response = post(client, seeded, card["id"], body)
        assert problem_fields(response) == ["type"]
        assert "stamp card" in response.get_json()["errors"][0]["message"]
    assert problem_fields(post(client, seeded, card["id"], {"type": "stamp", "stamps": 0})) == ["stamps"]
    assert problem_fields(post(client, seeded, card["id"], {"type": "stamp", "amount": "3.00"})) == ["amount"]


def test_a_replayed_stamp_changes_nothing(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, stamp_program(client, seeded, stamps_required=3)["id"])
    first = ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 4}, key="visit-1"))
    again = post(client, seeded, card["id"], {"type": "stamp", "stamps": 4}, key="visit-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first
    assert card_of(client, seeded, card["id"])["stamps"] == 1
    assert len(rewards(app, card["id"])) == 1


# --- invalid programs -------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "errors"), [
    ({"stamp_ladder": [{"at": 11, "reward": "Cake"}]}, ["stamp_ladder.0.at"]),
    ({"stamp_ladder": [{"at": 0, "reward": "Cake"}]}, ["stamp_ladder.0.at"]),
    ({"stamp_ladder": [{"at": 6, "reward": "Cake"}, {"at": 5, "reward": "Tea"}]}, ["stamp_ladder.1.at"]),
    ({"stamp_ladder": [{"at": 5, "reward": "Cake"}, {"at": 5, "reward": "Tea"}]}, ["stamp_ladder.1.at"]),
    ({"starter_stamps": 10}, ["starter_stamps"]),
    ({"starter_stamps": 3, "stamp_ladder": [{"at": 3, "reward": "Cake"}]}, ["stamp_ladder.0.at"]),
    ({"stamp_rule": "per_amount"}, ["stamp_rule_amount"]),
    ({"stamp_rule": "sometimes"}, ["stamp_rule"]),
    ({"stamps_required": 0}, ["stamps_required"]),
    ({"stamps_required": None}, ["stamps_required"]),
    ({"points_expire_days": 30}, ["points_expire_days"]),
    ({"time_zone": "Mars/Olympus"}, ["time_zone"]),
    ({"happy_hours": [{"weekdays": [1], "from": "17:00", "to": "15:00", "multiplier": 2}]}, ["happy_hours.0.to"]),
    ({"happy_hours": [{"weekdays": [8], "from": "15:00", "to": "17:00", "multiplier": 2}]},
     ["happy_hours.0.weekdays.0"]),
    ({"happy_hours": [{"weekdays": [1], "from": "15:00", "to": "17:00", "multiplier": 1}]},
     ["happy_hours.0.multiplier"]),
    ({"happy_hours": [{"stores": [999999], "weekdays": [1], "from": "15:00", "to": "17:00", "multiplier": 2}]},
     ["happy_hours.0.stores"]),
])
def test_invalid_stamp_settings_are_problems(client: FlaskClient, seeded: dict[str, Any],
                                             fields: dict[str, Any], errors: list[str]) -> None:
    body = {"name": "Coffee Stamps", "kind": "stamps", "stamps_required": 10, **fields}
    if fields.get("stamps_required", 1) is None:
        body.pop("stamps_required")
    response = client.post("/api/v1/programs", json=body, headers=bearer(seeded["api_key"]))
    assert problem_fields(response) == errors


def test_stamp_settings_on_a_points_program_are_problems(client: FlaskClient, seeded: dict[str, Any]) -> None:
    response = client.post("/api/v1/programs", headers=bearer(seeded["api_key"]), json={
        "name": "Points", "kind": "points", "stamps_required": 10, "stamp_ladder": [{"at": 5, "reward": "Cake"}]})
    assert problem_fields(response) == ["stamps_required", "stamp_ladder"]
    patched = client.patch(f"/api/v1/programs/{seeded['program_id']}", json={"stamps_required": 8},
                           headers=bearer(seeded["api_key"]))
    assert problem_fields(patched) == ["stamps_required"]


def test_a_ladder_patch_is_checked_against_the_card_size_and_kinds_do_not_switch_with_cards(
        client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = stamp_program(client, seeded, stamps_required=6)
    headers = bearer(seeded["api_key"])
    refused = client.patch(f"/api/v1/programs/{program['id']}", json={"stamp_ladder": [{"at": 7, "reward": "Tea"}]},
                           headers=headers)
    assert problem_fields(refused) == ["stamp_ladder.0.at"]
    accepted = client.patch(f"/api/v1/programs/{program['id']}", headers=headers,
                            json={"stamp_ladder": [{"at": 3, "reward": "Tea"}, {"at": 6, "reward": "Lunch"}]})
    assert accepted.status_code == 200 and accepted.get_json()["stamp_ladder"][1] == {"at": 6, "reward": "Lunch"}
    issue(client, seeded, program["id"])
    switched = client.patch(f"/api/v1/programs/{program['id']}", json={"kind": "points"}, headers=headers)
    assert switched.status_code == 409 and switched.mimetype == PROBLEM
    issue(client, seeded, seeded["program_id"])
    points = client.patch(f"/api/v1/programs/{seeded['program_id']}", json={"kind": "stamps", "stamps_required": 5},
                          headers=headers)
    assert points.status_code == 409


# --- earning rules ------------------------------------------------------------------------------


def test_visit_rule_one_stamp_per_purchase_whatever_the_amount(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, stamp_program(client, seeded, stamp_rule="visit")["id"])
    assert ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "0.50"}))["stamps"] == 1
    answer = ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "99.00"}))
    assert (answer["stamps"], answer["stamps_earned"], answer["lifetime_spend"]) == (2, 1, "99.50")


def test_purchase_over_rule_stamps_from_the_amount_up(client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = stamp_program(client, seeded, stamp_rule="purchase_over", stamp_rule_amount="5.00")
    assert program["stamp_rule_amount"] == "5.00"
    card = issue(client, seeded, program["id"])
    below = ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "4.99"}))
    assert (below["stamps"], below["stamps_earned"]) == (0, 0)
    assert ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "5.00"}))["stamps"] == 1
    assert ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "48.00"}))["stamps"] == 2  # one, not 9


def test_per_amount_rule_one_stamp_per_whole_amount_spent(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, stamp_program(client, seeded, stamp_rule="per_amount",
                                               stamp_rule_amount="2.50")["id"])
    assert ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "2.49"}))["stamps"] == 0
    assert ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "7.50"}))["stamps_earned"] == 3
    assert ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "9.99"}))["stamps"] == 6


def test_a_qualifying_product_rule_does_not_exist() -> None:
    """Transactions carry no product data, so there is no product rule to offer (documented)."""
    assert stamp_rules.STAMP_RULES == ("visit", "purchase_over", "per_amount")


# --- starter stamps, the ladder, carry-over --------------------------------------------------


def test_a_new_card_starts_with_the_starter_stamps(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = stamp_program(client, seeded, starter_stamps=2)
    card = issue(client, seeded, program["id"])
    assert card["stamps"] == 2
    assert ledger_sum(app, card["id"]) == 2  # the issue entry carries them: the ledger still sums to the card
    with app.app_context():
        entry = db.session().scalars(select(LedgerEntry).where(LedgerEntry.card_id == card["id"])).one()
        assert (entry.kind, entry.points) == ("issue", 2)
    # the same customer again gets the same card, not two more stamps
    bo = {"customer": {"name": "Bo", "email": "b@x.io"}}
    first = client.post(f"/api/v1/programs/{program['id']}/cards", json=bo, headers=bearer(seeded["api_key"]))
    assert first.status_code == 201 and first.get_json()["stamps"] == 2
    ok(post(client, seeded, first.get_json()["id"], {"type": "stamp"}))
    repeat = client.post(f"/api/v1/programs/{program['id']}/cards", json=bo, headers=bearer(seeded["api_key"]))
    assert repeat.status_code == 200 and repeat.get_json()["stamps"] == 3


def test_the_ladder_records_each_reward_once_as_it_is_crossed(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = stamp_program(client, seeded, stamp_ladder=[{"at": 5, "reward": "A pastry"},
                                                          {"at": 10, "reward": "A coffee"}])
    card = issue(client, seeded, program["id"])
    assert ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 4}))["rewards_earned"] == []
    crossed = ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 1}))
    assert crossed["rewards_earned"] == [{"name": "A pastry", "card_cycle": 1, "at": 5, "full_card": False}]
    assert ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 3}))["rewards_earned"] == []
    full = ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 2}))
    assert full["rewards_earned"] == [{"name": "A coffee", "card_cycle": 1, "at": 10, "full_card": True}]
    assert (full["stamps"], full["stamp_cards_completed"]) == (0, 1)
    assert rewards(app, card["id"]) == [("A pastry", 1, 5, False), ("A coffee", 1, 10, True)]
    held = card_of(client, seeded, card["id"])["stamp_rewards"]
    assert [(r["name"], r["card_cycle"], r["full_card"]) for r in held] == [("A coffee", 1, True),
                                                                            ("A pastry", 1, False)]
    assert held[0]["ledger_entry_id"] == full["id"]


def test_a_full_card_carries_the_stamps_beyond_over_and_may_fill_twice(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = stamp_program(client, seeded, stamps_required=4, stamp_rule="per_amount", stamp_rule_amount="1.00",
                            stamp_ladder=[{"at": 2, "reward": "Biscuit"}])
    card = issue(client, seeded, program["id"])
    ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 3}))
    answer = ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "7.00"}))  # 3 + 7 = 10 = 4 + 4 + 2
    assert (answer["stamps"], answer["stamp_cards_completed"], answer["stamps_earned"]) == (2, 2, 7)
    assert [(r["name"], r["card_cycle"], r["at"]) for r in answer["rewards_earned"]] == [
        ("Full card reward", 1, 4), ("Biscuit", 2, 2), ("Full card reward", 2, 4), ("Biscuit", 3, 2)]
    assert ledger_sum(app, card["id"]) == 2
    with app.app_context():
        kinds = db.session().execute(select(LedgerEntry.kind, LedgerEntry.points).where(
            LedgerEntry.card_id == card["id"]).order_by(LedgerEntry.id)).all()
    assert [tuple(row) for row in kinds] == [("issue", 0), ("stamp", 3), ("purchase", 7),
                                             ("card_full", -4), ("card_full", -4)]
    assert card_of(client, seeded, card["id"])["lifetime_points"] == 10  # every stamp ever earned


def test_fill_is_exact_at_the_boundary() -> None:
    program = Program(kind="stamps", stamps_required=5, stamp_ladder=[{"at": 5, "reward": "Free"}])
    exactly = stamp_rules.fill(program, 4, 0, 1)
    assert (exactly.stamps, exactly.cards_filled) == (0, 1)
    assert exactly.rewards == (stamp_rules.Reward("Free", 1, 5, True),)
    short = stamp_rules.fill(program, 3, 2, 1)
    assert (short.stamps, short.cards_filled, short.rewards) == (4, 0, ())
    assert stamp_rules.next_reward(program, 4) == (5, "Free")


# --- happy hours ------------------------------------------------------------------------------


def test_happy_hours_multiply_at_chosen_stores_and_local_times(
        client: FlaskClient, seeded: dict[str, Any]) -> None:
    centre, other = seeded["store_ids"][0], seeded["store_ids"][1]
    program = stamp_program(client, seeded, stamps_required=40, time_zone="Europe/Amsterdam", happy_hours=[
        {"stores": [centre], "weekdays": [1, 2, 3, 4, 5], "from": "15:00", "to": "17:00", "multiplier": 2},
        {"stores": None, "weekdays": [6], "from": "09:00", "to": "12:00", "multiplier": 3},
    ])
    card = issue(client, seeded, program["id"])

    def stamps_at(moment: dt.datetime, store_id: int | None) -> tuple[int, int]:
        body: dict[str, Any] = {"type": "stamp", "stamps": 1}
        if store_id is not None:
            body["store_id"] = store_id
        with time_machine.travel(moment, tick=False):
            answer = ok(post(client, seeded, card["id"], body))
        return answer["stamps_earned"], answer["stamp_multiplier"]

    # Wednesday 2026-01-14, Amsterdam is UTC+1 in winter: 15:00 local is 14:00 UTC
    assert stamps_at(dt.datetime(2026, 1, 14, 14, 0, tzinfo=dt.UTC), centre) == (2, 2)
    assert stamps_at(dt.datetime(2026, 1, 14, 13, 59, tzinfo=dt.UTC), centre) == (1, 1)  # 14:59 local
    assert stamps_at(dt.datetime(2026, 1, 14, 16, 0, tzinfo=dt.UTC), centre) == (1, 1)  # 17:00 local: over
    assert stamps_at(dt.datetime(2026, 1, 14, 14, 30, tzinfo=dt.UTC), other) == (1, 1)  # another store
    assert stamps_at(dt.datetime(2026, 1, 14, 14, 30, tzinfo=dt.UTC), None) == (1, 1)  # no store named
    # summer time: 15:00 local is 13:00 UTC
    assert stamps_at(dt.datetime(2026, 7, 15, 13, 0, tzinfo=dt.UTC), centre) == (2, 2)
    # Saturday morning, every store (and none named)
    assert stamps_at(dt.datetime(2026, 1, 17, 8, 0, tzinfo=dt.UTC), other) == (3, 3)
    assert stamps_at(dt.datetime(2026, 1, 17, 8, 0, tzinfo=dt.UTC), None) == (3, 3)
    # the local weekday counts: Saturday 00:30 in Amsterdam is still Friday in UTC
    assert stamps_at(dt.datetime(2026, 1, 16, 23, 30, tzinfo=dt.UTC), centre) == (1, 1)


def test_happy_hours_multiply_purchases_and_default_to_utc(client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = stamp_program(client, seeded, stamp_rule="per_amount", stamp_rule_amount="2.00", happy_hours=[
        {"weekdays": [1, 2, 3, 4, 5, 6, 7], "from": "08:00", "to": "09:00", "multiplier": 2}])
    assert program["time_zone"] is None
    card = issue(client, seeded, program["id"])
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC), tick=False):
        answer = ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "6.00"}))
    assert (answer["stamps_earned"], answer["stamp_multiplier"]) == (6, 2)
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        assert ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "6.00"}))["stamps_earned"] == 3
    # nothing earned: nothing multiplied
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC), tick=False):
        nothing = ok(post(client, seeded, card["id"], {"type": "purchase", "amount": "1.00"}))
    assert (nothing["stamps_earned"], nothing["stamp_multiplier"]) == (0, 1)


def test_a_cashiers_store_decides_the_happy_hour(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    from service.models import Cashier

    with app.app_context():
        store_id = db.session().scalars(select(Cashier.store_id)).first()
    assert store_id is not None  # the demo cashier works at a store
    program = stamp_program(client, seeded, happy_hours=[
        {"stores": [store_id], "weekdays": [1, 2, 3, 4, 5, 6, 7], "from": "00:00",
         "to": "24:00", "multiplier": 2}])
    card = issue(client, seeded, program["id"])
    response = client.post(f"/api/v1/cards/{card['id']}/transactions", json={"type": "stamp"},
                           headers={**bearer(seeded["cashier_token"]), "Idempotency-Key": "till-1"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["stamps_earned"] == 2


# --- the pass -----------------------------------------------------------------------------------


def _pass(client: FlaskClient, card: dict[str, Any], seeded: dict[str, Any],
          tmp_path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    response = client.get(card["apple_pass_url"].removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200 and response.mimetype == "application/vnd.apple.pkpass"
    return verified_pass(response.data, seeded["dev_ca_file"], tmp_path)


def test_the_pass_shows_the_stamps_in_its_strip_and_header(
        client: FlaskClient, seeded: dict[str, Any], tmp_path: Path) -> None:
    program = stamp_program(client, seeded, stamps_required=8, background_color="#3b2417",
                            foreground_color="#ffffff", stamp_ladder=[{"at": 4, "reward": "A pastry"}])
    card = issue(client, seeded, program["id"])
    ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 3}))
    pass_json, files = _pass(client, card, seeded, tmp_path)
    header = pass_json["storeCard"]["headerFields"][0]
    assert (header["key"], header["value"], header["changeMessage"]) == ("stamps", "3/8", "Stamps: %@")
    assert "primaryFields" not in pass_json["storeCard"] or pass_json["storeCard"]["primaryFields"] == []
    back = {field["key"]: field["value"] for field in pass_json["storeCard"]["backFields"]}
    assert back["next_reward"] == "A pastry (4)" and back["cards_filled"] == 0
    assert "Штампы: %@" in files["ru.lproj/pass.strings"].decode("utf-16")
    for scale, name in ((1, "strip.png"), (2, "strip@2x.png"), (3, "strip@3x.png")):
        assert filled_slots(files[name], 8, scale, WHITE, BROWN) == 3, name
    # another stamp: a new pass version, one more slot filled
    ok(post(client, seeded, card["id"], {"type": "stamp"}))
    pass_json, files = _pass(client, card, seeded, tmp_path)
    assert pass_json["storeCard"]["headerFields"][0]["value"] == "4/8"
    assert filled_slots(files["strip@3x.png"], 8, 3, WHITE, BROWN) == 4


def test_the_strip_is_drawn_from_the_brands_stamp_image(
        client: FlaskClient, seeded: dict[str, Any], tmp_path: Path) -> None:
    program = stamp_program(client, seeded, stamps_required=12, background_color="#3b2417",
                            foreground_color="#ffffff")
    red = io.BytesIO()
    Image.new("RGB", (300, 300), (220, 30, 30)).save(red, "PNG")
    upload = client.put(f"/api/v1/programs/{program['id']}/images/stamp", data=red.getvalue(),
                        headers={**bearer(seeded["api_key"]), "Content-Type": "image/png"})
    assert upload.status_code == 200 and upload.get_json()["has_stamp_image"] is True
    card = issue(client, seeded, program["id"])
    ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 7}))
    _, files = _pass(client, card, seeded, tmp_path)
    assert filled_slots(files["strip@3x.png"], 12, 3, (220, 30, 30), BROWN) == 7


def test_the_strip_is_drawn_once_per_look(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two cards with the same stamps share one drawing; the pass of a version is signed once."""
    from passes import stamps as drawing

    calls: list[int] = []
    real = drawing._draw
    monkeypatch.setattr(drawing, "_draw", lambda *args: calls.append(args[0]) or real(*args))
    drawing._strip_set.cache_clear()
    program = stamp_program(client, seeded, stamps_required=9)
    first, second = issue(client, seeded, program["id"]), issue(client, seeded, program["id"], "Bob Jones")
    for card in (first, second):
        ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 5}))
        _pass(client, card, seeded, tmp_path)
        _pass(client, card, seeded, tmp_path)
    assert calls == [5]


# --- Google ----------------------------------------------------------------------------------


def test_googles_object_shows_the_count_and_the_same_picture(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], settings: Settings, tmp_path: Path) -> None:
    program = stamp_program(client, seeded, stamps_required=10, background_color="#3b2417",
                            foreground_color="#ffffff")
    card = issue(client, seeded, program["id"])
    ok(post(client, seeded, card["id"], {"type": "stamp", "stamps": 6}))
    with app.app_context():
        body = sync.object_resource(settings, db.session().get(Card, card["id"]))
    assert wallet_schema.problems("LoyaltyObject", body) == []
    assert body["loyaltyPoints"]["label"] == "Stamps" and body["loyaltyPoints"]["balance"] == {"string": "6/10"}
    uri = body["heroImage"]["sourceUri"]["uri"]
    assert f"/google/programs/{program['id']}/stamps/6.png?v=" in uri
    served = client.get(uri.removeprefix("http://127.0.0.1:8000"))
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert filled_slots(served.data, 10, 3, WHITE, BROWN) == 6
    _, files = _pass(client, card, seeded, tmp_path)
    assert served.data == files["strip@3x.png"]  # the same picture as the Apple strip
    assert client.get(f"/google/programs/{program['id']}/stamps/11.png").status_code == 404
    assert client.get(f"/google/programs/{seeded['program_id']}/stamps/1.png").status_code == 404
    # a points card's object has no hero image and stays valid
    with app.app_context():
        points_card = db.session().scalars(select(Card).where(Card.program_id == seeded["program_id"])).first()
        if points_card is not None:
            plain = sync.object_resource(settings, points_card)
            assert "heroImage" not in plain and wallet_schema.problems("LoyaltyObject", plain) == []


# --- terms and preview ---------------------------------------------------------------------------


def test_the_terms_say_the_stamp_rules_in_both_languages(client: FlaskClient, seeded: dict[str, Any],
                                                         app: Flask) -> None:
    from service.loyalty import terms

    program = stamp_program(client, seeded, stamps_required=10, starter_stamps=1, stamp_rule="purchase_over",
                            stamp_rule_amount="5.00", stamp_ladder=[{"at": 5, "reward": "A pastry"}],
                            happy_hours=[{"weekdays": [1, 2], "from": "15:00", "to": "17:00", "multiplier": 2}])
    with app.app_context():
        row = db.session().get(Program, program["id"])
        english = " ".join(terms.rules(row, "en"))
        russian = " ".join(terms.rules(row, "ru"))
    assert "Every purchase of 5 EUR or more earns a stamp." in english
    assert "10 stamps fill a card; stamps beyond start the next one." in english
    assert "Rewards: 5 stamps: A pastry." in english and "A new card starts with 1 stamp." in english
    assert "Happy hours: stamps ×2, Mon, Tue, 15:00–17:00 (UTC), at every store." in english
    assert "Points" not in english
    assert "Штамп за каждую покупку от 5 EUR." in russian and "На новой карте сразу 1 штамп." in russian


def test_the_preview_of_a_stamp_program_draws_its_strip(client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = stamp_program(client, seeded, stamps_required=6)
    response = client.get(f"/api/v1/programs/{program['id']}/preview.png?platform=apple&side=front",
                          headers=bearer(seeded["api_key"]))
    assert response.status_code == 200 and response.mimetype == "image/png"
    google = client.get(f"/api/v1/programs/{program['id']}/preview.png?platform=google",
                        headers=bearer(seeded["api_key"]))
    assert google.status_code == 200
