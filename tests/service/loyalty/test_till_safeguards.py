"""The till's safeguards through the brand API: each limit at its boundary (clock held by
time-machine, the program's own time zone for the day), refusals counted by rule and store, and
undo of each kind of entry (earn, redeem, purchase on points / cashback / discount, stamp, a stamp
that filled a card and carried stamps over, card_full), with what undo refuses and who may undo."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.demo import create_cashier
from service.models import AuditEntry, Brand, Card, HeldReward, LedgerEntry, Store
from service.platform import db
from tests.helpers import bearer

T0 = dt.datetime(2026, 12, 3, 9, 14, tzinfo=dt.UTC)  # 10:14 in Amsterdam (winter, UTC+1)


# --- helpers ---------------------------------------------------------------------------------


def program(client: FlaskClient, seeded: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"name": "Limited", "kind": "points", "points_per_unit": "1", "time_zone": "Europe/Amsterdam", **fields}
    response = client.post("/api/v1/programs", json=body, headers=bearer(seeded["api_key"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stamp_program(client: FlaskClient, seeded: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return program(client, seeded, kind="stamps", stamps_required=10, **fields)


def issue(client: FlaskClient, seeded: dict[str, Any], program_id: int) -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{program_id}/cards", json={"customer": {"name": "Anna Smith"}},
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post(client: FlaskClient, token: str, card_id: int, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post(f"/api/v1/cards/{card_id}/transactions", json=body, headers=headers)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def reverse(client: FlaskClient, token: str, entry_id: int, key: str | None = None, **body: Any) -> Any:
    headers = {**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post(f"/api/v1/transactions/{entry_id}/reverse", json=body, headers=headers)


def card_row(app: Flask, card_id: int) -> Card:
    with app.app_context():
        card = db.session().get(Card, card_id)
        assert card is not None
        db.session().expunge(card)
        return card


def ledger_sum(app: Flask, card_id: int) -> int:
    with app.app_context():
        return int(db.session().scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                                       .where(LedgerEntry.card_id == card_id)) or 0)


def kinds(app: Flask, card_id: int) -> list[tuple[str, int, int | None]]:
    with app.app_context():
        rows = db.session().scalars(select(LedgerEntry).where(LedgerEntry.card_id == card_id).order_by(LedgerEntry.id))
        return [(row.kind, row.points, row.reversed_entry_id) for row in rows]


def refused(response: Any, status: int, type_: str) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == "application/problem+json"
    assert body["type"] == type_, body
    return body


def other_cashier(app: Flask, seeded: dict[str, Any]) -> str:
    with app.app_context():
        session = db.session()
        brand = session.get(Brand, seeded["brand_id"])
        store = session.get(Store, seeded["store_ids"][1])
        assert brand is not None and store is not None
        token = create_cashier(session, brand, "Second Cashier", store)
        session.commit()
        return token


def held(app: Flask, card_id: int) -> list[tuple[str, int | None, bool]]:
    """The card's held rewards: (name, the reversal that cancelled it, redeemed)."""
    with app.app_context():
        return [(row.name, row.cancelled_entry_id, row.redeemed_at is not None) for row in db.session().scalars(
            select(HeldReward).where(HeldReward.card_id == card_id).order_by(HeldReward.id))]


# --- limits at their boundaries ----------------------------------------------------------------


def test_once_a_day_refuses_until_exactly_24_hours_later(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, stamp_program(client, seeded, earn_once_per_hours=24)["id"])
    cashier = seeded["cashier_token"]
    with time_machine.travel(T0, tick=False):
        ok(post(client, cashier, card["id"], {"type": "stamp"}))
    with time_machine.travel(T0 + dt.timedelta(hours=24, seconds=-1), tick=False):
        body = refused(post(client, cashier, card["id"], {"type": "stamp"}), 409, "/problems/limit/once-per-hours")
        assert body["rule"] == "once_per_hours" and body["limit"] == 24
        assert body["next_allowed_at"] == (T0 + dt.timedelta(hours=24)).isoformat()
        assert "already got a stamp at 10:14 on 2026-12-03" in body["detail"]
        assert "from 10:14 on 2026-12-04" in body["detail"]
    with time_machine.travel(T0 + dt.timedelta(hours=24), tick=False):
        assert ok(post(client, cashier, card["id"], {"type": "stamp"}))["stamps"] == 2


def test_daily_cap_counts_the_local_day_and_allows_exactly_the_cap(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, program(client, seeded, daily_cap=100)["id"])
    cashier = seeded["cashier_token"]
    with time_machine.travel(T0, tick=False):
        ok(post(client, cashier, card["id"], {"type": "purchase", "amount": "60.00"}))
        assert ok(post(client, cashier, card["id"], {"type": "purchase", "amount": "40.00"}))["balance"] == 100
        body = refused(post(client, cashier, card["id"], {"type": "purchase", "amount": "1.00"}), 409,
                       "/problems/limit/daily-cap")
        assert "already got 100 points today" in body["detail"] and "allows 100 a day" in body["detail"]
        assert body["next_allowed_at"] == "2026-12-03T23:00:00+00:00"  # midnight in Amsterdam
    with time_machine.travel(dt.datetime(2026, 12, 3, 22, 59, 59, tzinfo=dt.UTC), tick=False):
        refused(post(client, cashier, card["id"], {"type": "earn", "points": 1}), 409, "/problems/limit/daily-cap")
    with time_machine.travel(dt.datetime(2026, 12, 3, 23, 0, tzinfo=dt.UTC), tick=False):  # a new day there
        assert ok(post(client, cashier, card["id"], {"type": "earn", "points": 100}))["balance"] == 200


def test_daily_cap_says_how_much_is_left(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, stamp_program(client, seeded, daily_cap=3)["id"])
    with time_machine.travel(T0, tick=False):
        ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 2}))
        body = refused(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 2}), 409,
                       "/problems/limit/daily-cap")
        assert "it can get 1 more today" in body["detail"] and body["left"] == 1
        ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 1}))


def test_per_transaction_cap_refuses_a_purchase_over_it(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, program(client, seeded, per_transaction_cap=500)["id"])
    cashier = seeded["cashier_token"]
    assert ok(post(client, cashier, card["id"], {"type": "purchase", "amount": "500.99"}))["points"] == 500
    body = refused(post(client, cashier, card["id"], {"type": "purchase", "amount": "501.00"}), 422,
                   "/problems/limit/per-transaction-cap")
    assert body["detail"] == ("This purchase would earn 501 points; this program allows at most 500 in one "
                              "transaction. Nothing was posted.")
    assert card_row(client.application, card["id"]).balance == 500


def test_per_transaction_cap_on_stamps(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, stamp_program(client, seeded, per_transaction_cap=2)["id"])
    ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 2}))
    refused(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 3}), 422,
            "/problems/limit/per-transaction-cap")


def test_brand_points_adjustment_is_not_limited_but_its_purchases_are(client: FlaskClient,
                                                                     seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, program(client, seeded, per_transaction_cap=5)["id"])
    ok(post(client, seeded["api_key"], card["id"], {"type": "earn", "points": 50, "reason": "apology"}))
    refused(post(client, seeded["api_key"], card["id"], {"type": "purchase", "amount": "6.00"}), 422,
            "/problems/limit/per-transaction-cap")
    refused(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 6}), 422,
            "/problems/limit/per-transaction-cap")


def test_a_replay_is_not_refused_and_a_reversed_stamp_does_not_count(client: FlaskClient,
                                                                      seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, stamp_program(client, seeded, earn_once_per_hours=24)["id"])
    cashier = seeded["cashier_token"]
    first = ok(post(client, cashier, card["id"], {"type": "stamp"}, key="k1"))
    again = post(client, cashier, card["id"], {"type": "stamp"}, key="k1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    ok(reverse(client, cashier, first["id"]))
    assert ok(post(client, cashier, card["id"], {"type": "stamp"}))["stamps"] == 1


def test_refusals_are_counted_by_rule_and_store(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    created = program(client, seeded, earn_once_per_hours=24, per_transaction_cap=10)
    card = issue(client, seeded, created["id"])
    other = other_cashier(app, seeded)
    with time_machine.travel(T0, tick=False):
        ok(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 5}))
        for token in (seeded["cashier_token"], seeded["cashier_token"], other):
            refused(post(client, token, card["id"], {"type": "earn", "points": 5}), 409,
                    "/problems/limit/once-per-hours")
        refused(post(client, other, card["id"], {"type": "earn", "points": 11}), 422,
                "/problems/limit/per-transaction-cap")
    assert ledger_sum(app, card["id"]) == 5  # nothing refused reached the ledger
    answer = client.get(f"/api/v1/programs/{created['id']}/refusals", headers=bearer(seeded["api_key"]))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    first_store, second_store = seeded["store_ids"][0], seeded["store_ids"][1]
    assert body["total"] == 4
    assert body["by_rule"] == {"once_per_hours": 3, "daily_cap": 0, "per_transaction_cap": 1}
    assert body["counts"] == [{"rule": "once_per_hours", "store_id": first_store, "count": 2},
                              {"rule": "once_per_hours", "store_id": second_store, "count": 1},
                              {"rule": "per_transaction_cap", "store_id": second_store, "count": 1}]
    later = client.get(f"/api/v1/programs/{created['id']}/refusals",
                       query_string={"from": (T0 + dt.timedelta(minutes=1)).isoformat()},
                       headers=bearer(seeded["api_key"]))
    assert later.get_json()["total"] == 0


def test_limit_fields_are_program_settings(client: FlaskClient, seeded: dict[str, Any]) -> None:
    created = program(client, seeded)
    assert (created["earn_once_per_hours"], created["daily_cap"], created["per_transaction_cap"],
            created["undo_window_minutes"]) == (None, None, None, 10)
    patched = client.patch(f"/api/v1/programs/{created['id']}", json={"daily_cap": 3, "undo_window_minutes": 5},
                           headers=bearer(seeded["api_key"]))
    assert patched.status_code == 200 and patched.get_json()["daily_cap"] == 3
    bad = client.patch(f"/api/v1/programs/{created['id']}", json={"earn_once_per_hours": 0},
                       headers=bearer(seeded["api_key"]))
    assert bad.status_code == 422


@pytest.mark.parametrize("field_value", [{"undo_window_minutes": 3}, {"point_value": "0.01"},
                                         {"undo_window_minutes": 4, "point_value": "0.02"}])
def test_settings_no_pass_shows_resend_no_card(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                               field_value: dict[str, Any]) -> None:
    created = program(client, seeded)
    card = issue(client, seeded, created["id"])
    version = card_row(app, card["id"]).version
    patched = client.patch(f"/api/v1/programs/{created['id']}", json=field_value, headers=bearer(seeded["api_key"]))
    assert patched.status_code == 200
    assert card_row(app, card["id"]).version == version


# --- undo of each kind of entry ------------------------------------------------------------------


def test_undo_an_earn_restores_balance_lifetime_tier_and_the_pass(client: FlaskClient, seeded: dict[str, Any],
                                                                  app: Flask) -> None:
    created = program(client, seeded)
    assert client.post(f"/api/v1/programs/{created['id']}/tiers", json={"name": "Gold", "threshold": "100"},
                       headers=bearer(seeded["api_key"])).status_code == 201
    card = issue(client, seeded, created["id"])
    earned = ok(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 120}))
    assert earned["tier"] == "Gold"
    version = card_row(app, card["id"]).version
    undone = ok(reverse(client, seeded["cashier_token"], earned["id"], reason="wrong card"))
    assert (undone["type"], undone["points"], undone["balance"], undone["lifetime_points"]) == ("reversal", -120, 0, 0)
    assert undone["reverses"] == earned["id"] and undone["tier"] is None and undone["tier_change"] == "down"
    row = card_row(app, card["id"])
    assert (row.balance, row.lifetime_points, row.tier) == (0, 0, None) and row.version > version
    assert kinds(app, card["id"])[-1] == ("reversal", -120, earned["id"])
    with app.app_context():
        audit = db.session().scalars(select(AuditEntry).where(AuditEntry.action == "transaction.reversed")).one()
        assert audit.actor_kind == "cashier" and audit.target_id == card["id"]
        assert audit.changes["ledger_entry_id"] == earned["id"] and audit.changes["reason"] == "wrong card"
        assert audit.changes["balance"] == {"before": 120, "after": 0}
    from tests.console_helpers import as_role

    assert "Transaction reversed" in as_role(app, "owner").get("/console/audit").get_data(as_text=True)


def test_undo_a_redeem_gives_the_points_back(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded, program(client, seeded)["id"])
    ok(post(client, seeded["cashier_token"], card["id"], {"type": "purchase", "amount": "100.00"}))
    redeemed = ok(post(client, seeded["cashier_token"], card["id"], {"type": "redeem", "points": 30}))
    undone = ok(reverse(client, seeded["cashier_token"], redeemed["id"]))
    assert (undone["points"], undone["balance"], undone["lifetime_points"]) == (30, 100, 100)
    assert ledger_sum(app, card["id"]) == 100


@pytest.mark.parametrize(("kind", "fields", "points", "balance_after"), [
    ("points", {"points_per_unit": "2"}, 50, 0),
    ("cashback", {"cashback_percent": "5"}, 125, 0),
    ("discount", {"discount_percent": "10", "tier_basis": "lifetime_spend"}, 0, 0),
])
def test_undo_a_purchase_on_each_kind(client: FlaskClient, seeded: dict[str, Any], app: Flask, kind: str,
                                      fields: dict[str, Any], points: int, balance_after: int) -> None:
    created = program(client, seeded, kind=kind, **fields)
    if kind == "discount":
        assert client.post(f"/api/v1/programs/{created['id']}/tiers",
                           json={"name": "VIP", "threshold": "20", "discount_percent": "15"},
                           headers=bearer(seeded["api_key"])).status_code == 201
    card = issue(client, seeded, created["id"])
    bought = ok(post(client, seeded["cashier_token"], card["id"], {"type": "purchase", "amount": "25.00"}))
    assert bought["points"] == points and bought["lifetime_spend"] == "25.00"
    undone = ok(reverse(client, seeded["cashier_token"], bought["id"]))
    assert (undone["points"], undone["balance"], undone["lifetime_spend"]) == (-points, balance_after, "0.00")
    assert undone["amount"] == "25.00"
    row = card_row(app, card["id"])
    assert (row.balance, row.lifetime_points, str(row.lifetime_spend), row.tier) == (0, 0, "0.00", None)
    if kind == "discount":
        assert bought["discount_percent"] == "15" and undone["discount_percent"] == "10"


def test_undo_a_stamp(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded, stamp_program(client, seeded)["id"])
    ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 3}))
    second = ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 2}))
    undone = ok(reverse(client, seeded["cashier_token"], second["id"]))
    assert (undone["stamps"], undone["stamp_cards_completed"], undone["lifetime_points"]) == (3, 0, 3)
    assert ledger_sum(app, card["id"]) == 3


def test_undo_a_stamp_that_filled_a_card_and_carried_stamps_over(client: FlaskClient, seeded: dict[str, Any],
                                                                 app: Flask) -> None:
    card = issue(client, seeded, stamp_program(client, seeded, starter_stamps=2)["id"])
    ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 6}))  # 8 of 10
    filled = ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 13}))  # 21: 2 cards + 1
    assert (filled["stamps"], filled["stamp_cards_completed"]) == (1, 2)
    version = card_row(app, card["id"]).version
    undone = ok(reverse(client, seeded["cashier_token"], filled["id"]))
    assert (undone["stamps"], undone["stamp_cards_completed"], undone["balance_change"]) == (8, 0, 7)
    assert undone["lifetime_points"] == 6  # the 6 stamped before (starter stamps are not earned)
    row = card_row(app, card["id"])
    assert (row.balance, row.stamp_cards_completed) == (8, 0) and row.version > version
    assert ledger_sum(app, card["id"]) == 8
    entries = kinds(app, card["id"])
    full_ids = [entry_id for entry_id in undone["reversed_entries"][1:]]
    assert len(full_ids) == 2
    assert [entry for entry in entries if entry[0] == "reversal"] == [
        ("reversal", -13, filled["id"]), ("reversal", 10, full_ids[0]), ("reversal", 10, full_ids[1])]
    # the two full cards' rewards it earned are cancelled by the reversal, not deleted
    assert [(cancelled_by, redeemed) for _, cancelled_by, redeemed in held(app, card["id"])] == [
        (undone["id"], False), (undone["id"], False)]
    # the full cards are reversed now too: each at most once
    refused(reverse(client, seeded["api_key"], filled["id"]), 409, "/problems/reversal-already-reversed")


def test_undo_cancels_the_rewards_an_entry_earned_unless_one_was_redeemed(client: FlaskClient,
                                                                          seeded: dict[str, Any], app: Flask) -> None:
    program_id = stamp_program(client, seeded, stamp_ladder=[{"at": 5, "reward": "A pastry"}])["id"]
    card = issue(client, seeded, program_id)
    reached = ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 5}))
    undone = ok(reverse(client, seeded["cashier_token"], reached["id"]))
    assert undone["stamps"] == 0 and held(app, card["id"]) == [("A pastry", undone["id"], False)]
    # earned again and redeemed: the stamp that earned it cannot be undone until the redemption is undone
    earned = ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 5}))
    listed = client.get(f"/api/v1/cards/{card['id']}/rewards", headers=bearer(seeded["api_key"])).get_json()
    held_id = [one for one in listed if one["name"] == "A pastry"][0]["id"]
    redeemed = client.post(f"/api/v1/cards/{card['id']}/rewards/{held_id}/redeem", json={},
                           headers={**bearer(seeded["cashier_token"]), "Idempotency-Key": str(uuid.uuid4())})
    assert redeemed.status_code == 201, redeemed.get_json()
    body = refused(reverse(client, seeded["cashier_token"], earned["id"]), 409, "/problems/reversal-rewards-earned")
    assert "earned “A pastry”, which was redeemed since" in body["detail"] and body["rewards"] == ["A pastry"]
    assert card_row(app, card["id"]).balance == 5
    # undo the redemption (the reward is held again), then the stamp (the reward is cancelled)
    redemption = redeemed.get_json()
    ok(reverse(client, seeded["api_key"], redemption["transaction"]["id"]))
    assert [one[2] for one in held(app, card["id"])] == [False, False]
    second = ok(reverse(client, seeded["api_key"], earned["id"]))
    assert held(app, card["id"])[-1] == ("A pastry", second["id"], False)
    assert card_row(app, card["id"]).balance == ledger_sum(app, card["id"]) == 0


def test_a_card_full_entry_is_undone_through_the_stamp_that_filled_it(client: FlaskClient, seeded: dict[str, Any],
                                                                      app: Flask) -> None:
    card = issue(client, seeded, stamp_program(client, seeded)["id"])
    ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 11}))
    with app.app_context():
        full_id = db.session().scalar(select(LedgerEntry.id).where(LedgerEntry.card_id == card["id"],
                                                                   LedgerEntry.kind == "card_full"))
    body = refused(reverse(client, seeded["api_key"], full_id), 422, "/problems/reversal-not-reversible")
    assert "reversing the stamp or purchase that filled it" in body["detail"]


def test_undo_refuses_what_it_cannot_put_back(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    card = issue(client, seeded, program(client, seeded)["id"])
    key = seeded["api_key"]
    earned = ok(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 100}))
    ok(post(client, seeded["cashier_token"], card["id"], {"type": "redeem", "points": 80}))
    body = refused(reverse(client, key, earned["id"]), 409, "/problems/reversal-balance-negative")
    assert body["detail"] == ("Reversing this earn would take 100 points off, but the card has 20 (the rest was "
                              "spent since). Nothing was changed.")
    small = ok(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 5}))
    first = reverse(client, key, small["id"], key="undo-1")
    undone = ok(first)
    replay = reverse(client, key, small["id"], key="undo-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == undone
    refused(reverse(client, key, small["id"]), 409, "/problems/reversal-already-reversed")
    body = refused(reverse(client, key, undone["id"]), 422, "/problems/reversal-not-reversible")
    assert "A reversal cannot itself be reversed" in body["detail"]
    with app.app_context():
        session = db.session()
        expired = LedgerEntry(card_id=card["id"], kind="expire", points=-1)
        session.add(expired)
        session.get(Card, card["id"]).balance -= 1  # type: ignore[union-attr]
        session.commit()
        expired_id = expired.id
    refused(reverse(client, key, expired_id), 422, "/problems/reversal-not-reversible")
    refused(reverse(client, key, 10**9), 404, "/problems/transaction-not-found")
    assert card_row(app, card["id"]).balance == ledger_sum(app, card["id"]) == 19


def test_undo_of_a_stamp_later_stamps_built_on_is_refused(client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded, stamp_program(client, seeded)["id"])
    first = ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 3}))
    last = ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp", "stamps": 8}))  # fills: 1 left
    refused(reverse(client, seeded["api_key"], first["id"]), 409, "/problems/reversal-later-stamps")
    ok(reverse(client, seeded["api_key"], last["id"]))  # newest first
    assert ok(reverse(client, seeded["api_key"], first["id"]))["stamps"] == 0


def test_a_cashier_undoes_only_their_own_and_only_within_the_window(client: FlaskClient, seeded: dict[str, Any],
                                                                   app: Flask) -> None:
    card = issue(client, seeded, program(client, seeded, undo_window_minutes=10)["id"])
    cashier, other = seeded["cashier_token"], other_cashier(app, seeded)
    with time_machine.travel(T0, tick=False):
        mine = ok(post(client, cashier, card["id"], {"type": "earn", "points": 10}))
        theirs = ok(post(client, other, card["id"], {"type": "earn", "points": 20}))
        late = ok(post(client, cashier, card["id"], {"type": "earn", "points": 30}))
        refused(reverse(client, cashier, theirs["id"]), 403, "/problems/reversal-not-yours")
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):  # the window's last moment
        ok(reverse(client, cashier, mine["id"]))
    with time_machine.travel(T0 + dt.timedelta(minutes=10, seconds=1), tick=False):
        body = refused(reverse(client, cashier, late["id"]), 403, "/problems/reversal-window-closed")
        assert "undo window of 10 minutes" in body["detail"]
        ok(reverse(client, seeded["api_key"], late["id"]))  # the brand's key: any time
    assert card_row(app, card["id"]).balance == 20


def test_a_store_manager_reverses_their_stores_transactions_only(client: FlaskClient, seeded: dict[str, Any],
                                                                 app: Flask) -> None:
    from tests.console_helpers import api_headers, as_role

    card = issue(client, seeded, program(client, seeded)["id"])
    here = ok(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 10}))
    there = ok(post(client, other_cashier(app, seeded), card["id"], {"type": "earn", "points": 20}))
    manager = as_role(app, "store_manager", store_ids=[seeded["store_ids"][0]])
    headers = {**api_headers(manager), "Idempotency-Key": "m1"}
    assert manager.post(f"/api/v1/transactions/{here['id']}/reverse", json={}, headers=headers).status_code == 201
    headers["Idempotency-Key"] = "m2"
    response = manager.post(f"/api/v1/transactions/{there['id']}/reverse", json={}, headers=headers)
    refused(response, 403, "/problems/store-not-yours")
    with app.app_context():
        audit = db.session().scalars(select(AuditEntry).where(AuditEntry.action == "transaction.reversed")).one()
        assert audit.actor_kind == "staff"


def test_another_brands_transaction_is_not_found(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    from tests.console_helpers import api_headers, as_role

    card = issue(client, seeded, program(client, seeded)["id"])
    earned = ok(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 10}))
    stranger = as_role(app, "owner", brand_name="Other Brand")
    headers = {**api_headers(stranger), "Idempotency-Key": "x1"}
    refused(stranger.post(f"/api/v1/transactions/{earned['id']}/reverse", json={}, headers=headers), 404,
            "/problems/transaction-not-found")


def test_two_tills_at_once_on_postgresql_only_one_stamp_passes_once_a_day(client: FlaskClient,
                                                                          seeded: dict[str, Any],
                                                                          app: Flask) -> None:
    """The limit is checked with the card row locked: of many simultaneous stamps, exactly one wins."""
    if not app.config["PASSCAST"].database_url.startswith("postgresql"):
        pytest.skip("row-lock concurrency runs against PostgreSQL (set TEST_DATABASE_URL)")
    card = issue(client, seeded, stamp_program(client, seeded, earn_once_per_hours=24)["id"])
    tokens = [seeded["cashier_token"], other_cashier(app, seeded)]
    barrier = threading.Barrier(8)

    def stamp(index: int) -> int:
        own = app.test_client()
        barrier.wait(timeout=30)
        return post(own, tokens[index % 2], card["id"], {"type": "stamp"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(stamp, range(8), timeout=120))
    assert statuses == [201] + [409] * 7
    assert card_row(app, card["id"]).balance == ledger_sum(app, card["id"]) == 1


# --- the console ---------------------------------------------------------------------------------


def test_the_members_card_log_offers_reverse_to_those_allowed(client: FlaskClient, seeded: dict[str, Any],
                                                              app: Flask) -> None:
    from tests.console_helpers import as_role

    card = issue(client, seeded, program(client, seeded)["id"])
    here = ok(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 10}))
    there = ok(post(client, other_cashier(app, seeded), card["id"], {"type": "earn", "points": 20}))
    undone = ok(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 5}))
    ok(reverse(client, seeded["api_key"], undone["id"]))
    page = f"/console/members/{card['id']}"

    def reverse_forms(html: str) -> set[int]:
        return {int(entry_id) for entry_id in re.findall(r'data-api="POST /api/v1/transactions/(\d+)/reverse"', html)}

    owner = as_role(app, "owner").get(page).get_data(as_text=True)
    assert reverse_forms(owner) == {here["id"], there["id"]}  # not the issue, the reversed one or the reversal
    assert ">reversed<" in owner
    manager = as_role(app, "store_manager", store_ids=[seeded["store_ids"][0]]).get(page).get_data(as_text=True)
    assert reverse_forms(manager) == {here["id"]}
    assert reverse_forms(as_role(app, "analyst").get(page).get_data(as_text=True)) == set()


def test_the_designer_page_sets_the_limits_through_the_api(client: FlaskClient, seeded: dict[str, Any],
                                                           app: Flask) -> None:
    from tests.console_helpers import api_headers, as_role

    marketer = as_role(app, "marketer")
    html = marketer.get(f"/console/design?program={seeded['program_id']}").get_data(as_text=True)
    assert f'id="design-limits-form" data-api="PATCH /api/v1/programs/{seeded["program_id"]}"' in html
    for name in ("earn_once_per_hours", "daily_cap", "per_transaction_cap", "undo_window_minutes"):
        assert f'name="{name}"' in html and f'for="design-{name}"' in html
    # what console.js sends for the form: blank boxes as null (off)
    answer = marketer.patch(f"/api/v1/programs/{seeded['program_id']}", headers=api_headers(marketer), json={
        "earn_once_per_hours": 24, "daily_cap": None, "per_transaction_cap": 50, "undo_window_minutes": 5})
    assert answer.status_code == 200, answer.get_json()
    assert 'value="24"' in marketer.get(f"/console/design?program={seeded['program_id']}").get_data(as_text=True)
    russian = marketer.get(f"/console/design?program={seeded['program_id']}&lang=ru").get_data(as_text=True)
    assert "Защита на кассе" in russian


def test_two_reversals_of_one_transaction_at_once_on_postgresql_one_wins(client: FlaskClient,
                                                                         seeded: dict[str, Any],
                                                                         app: Flask) -> None:
    if not app.config["PASSCAST"].database_url.startswith("postgresql"):
        pytest.skip("row-lock concurrency runs against PostgreSQL (set TEST_DATABASE_URL)")
    card = issue(client, seeded, program(client, seeded)["id"])
    earned = ok(post(client, seeded["cashier_token"], card["id"], {"type": "earn", "points": 40}))
    barrier = threading.Barrier(6)

    def undo(index: int) -> int:
        own = app.test_client()
        barrier.wait(timeout=30)
        token = seeded["cashier_token"] if index % 2 else seeded["api_key"]
        return reverse(own, token, earned["id"]).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(undo, range(6), timeout=120))
    assert statuses == [201] + [409] * 5
    assert card_row(app, card["id"]).balance == ledger_sum(app, card["id"]) == 0


def test_the_limits_cost_one_ledger_read_on_the_stamp_path(client: FlaskClient, seeded: dict[str, Any],
                                                           app: Flask) -> None:
    """The hot path's budget: with every limit on, a stamp costs exactly one statement more (the
    indexed read of the card's recent ledger), and the per-transaction cap alone costs none."""
    from sqlalchemy import event

    engine = app.extensions["db_engine"]

    def statements_for_a_stamp(**limits: Any) -> int:
        card = issue(client, seeded, stamp_program(client, seeded, **limits)["id"])
        ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp"}))  # warm: the program is loaded
        seen: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=2), tick=False):
                ok(post(client, seeded["cashier_token"], card["id"], {"type": "stamp"}))
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    plain = statements_for_a_stamp()
    assert statements_for_a_stamp(per_transaction_cap=5) == plain
    assert statements_for_a_stamp(earn_once_per_hours=24, daily_cap=5, per_transaction_cap=5) == plain + 1


def test_the_limits_are_in_the_programs_terms_in_both_languages(client: FlaskClient, seeded: dict[str, Any],
                                                                app: Flask) -> None:
    """A customer refused at the till could have read why: the terms on the pass's back say it."""
    from service.loyalty import terms as program_terms
    from service.models import Program

    created = stamp_program(client, seeded, earn_once_per_hours=24, daily_cap=3, per_transaction_cap=2)
    hourly = program(client, seeded, earn_once_per_hours=5)
    with app.app_context():
        stamps = db.session().get(Program, created["id"])
        points = db.session().get(Program, hourly["id"])
        assert stamps is not None and points is not None
        english, russian = program_terms.rules(stamps, "en"), program_terms.rules(stamps, "ru")
        assert {"Stamps are given at most once a day.", "At most 3 stamps a day.",
                "At most 2 stamps per transaction."} <= set(english)
        assert {"Штампы начисляются не чаще одного раза в день.", "Лимит в день: 3 штампа.",
                "Лимит за одну операцию: 2 штампа."} <= set(russian)
        assert "Points are given at most once every 5 hours." in program_terms.rules(points, "en")
        assert "Баллы начисляются не чаще одного раза в 5 часов." in program_terms.rules(points, "ru")
    # the undo window is not on the pass: changing it updates no card
    card = issue(client, seeded, created["id"])
    version = card_row(app, card["id"]).version
    assert client.patch(f"/api/v1/programs/{created['id']}", json={"undo_window_minutes": 3},
                        headers=bearer(seeded["api_key"])).status_code == 200
    assert card_row(app, card["id"]).version == version
    assert client.patch(f"/api/v1/programs/{created['id']}", json={"daily_cap": 4},
                        headers=bearer(seeded["api_key"])).status_code == 200
    assert card_row(app, card["id"]).version > version


@pytest.mark.parametrize("undone", ["earn", "redeem"])
def test_an_undo_leaves_points_expiring_as_if_the_undone_entry_never_was(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], undone: str) -> None:
    """Points expire oldest first: an undone earn gives no points a date, and the points an undone
    redemption gives back keep the date they were earned (not the moment of the undo)."""
    from service.loyalty import engine

    key = seeded["api_key"]
    card = issue(client, seeded, program(client, seeded, points_expire_days=365)["id"])
    with time_machine.travel(T0, tick=False):
        ok(post(client, key, card["id"], {"type": "earn", "points": 100, "reason": "first lot"}))
    with time_machine.travel(T0 + dt.timedelta(days=300), tick=False):
        later = ok(post(client, key, card["id"], {"type": "earn", "points": 50, "reason": "second lot"})
                   if undone == "earn" else post(client, key, card["id"], {"type": "redeem", "points": 40,
                                                                           "reason": "spent"}))
    with time_machine.travel(T0 + dt.timedelta(days=301), tick=False):
        assert reverse(client, key, later["id"]).status_code == 201
    assert card_row(app, card["id"]).points_expire_at == T0 + dt.timedelta(days=365)
    with app.app_context():
        run = engine.expire_points(db.session(), T0 + dt.timedelta(days=366))
    assert (run.cards, run.points) == (1, 100)  # the whole first lot, nothing more, nothing less
    assert card_row(app, card["id"]).balance == 0
