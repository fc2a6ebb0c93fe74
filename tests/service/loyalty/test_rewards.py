"""Rewards and coupons through the brand API and the till: the catalogue, buying with points,
granting coupons, redeeming once, expiry (the clock held by time-machine), voided cards, the
stamp cards' rewards, the pass (front field with a changeMessage, the back's list) and Google's
object (checked against the discovery document), and the hourly job that takes ended rewards off."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.google_wallet import sync
from service.loyalty import rewards
from service.models import Card, HeldReward, LedgerEntry, utcnow
from service.platform import db
from service.platform.config import Settings
from tests.doubles import wallet_schema
from tests.helpers import bearer
from tests.service.loyalty.test_loyalty import download_pass, issue, ok, pass_field, transact

PROBLEM = "application/problem+json"


# --- helpers ---------------------------------------------------------------------------------------


def catalogue_reward(client: FlaskClient, seeded: dict[str, Any], program_id: int | None = None,
                     **fields: Any) -> dict[str, Any]:
    body = {"name": "Free coffee", "description": "Any size", "cost_points": 50, "valid_days": 30, **fields}
    response = client.post(f"/api/v1/programs/{program_id or seeded['program_id']}/rewards", json=body,
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def keyed(token: str, key: str | None = None) -> dict[str, str]:
    return {**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())}


def buy(client: FlaskClient, token: str, card_id: int, reward_id: int, key: str | None = None) -> Any:
    return client.post(f"/api/v1/cards/{card_id}/rewards", json={"reward_id": reward_id}, headers=keyed(token, key))


def grant(client: FlaskClient, seeded: dict[str, Any], card_id: int, key: str | None = None, **body: Any) -> Any:
    return client.post(f"/api/v1/cards/{card_id}/coupons", json=body or {"name": "Birthday cake"},
                       headers=keyed(seeded["api_key"], key))


def redeem(client: FlaskClient, token: str, card_id: int, held_id: int, key: str | None = None,
           **body: Any) -> Any:
    return client.post(f"/api/v1/cards/{card_id}/rewards/{held_id}/redeem", json=body, headers=keyed(token, key))


def held(client: FlaskClient, seeded: dict[str, Any], card_id: int, state: str = "redeemable") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/cards/{card_id}/rewards?state={state}", headers=bearer(seeded["api_key"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def problem(response: Any, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == type_, body
    return body


def scan(client: FlaskClient, seeded: dict[str, Any], card: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/cashier/scan", json={"code": card["barcode_message"]},
                           headers=bearer(seeded["cashier_token"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def entries(app: Flask, card_id: int, kind: str) -> list[LedgerEntry]:
    with app.app_context():
        return list(db.session().scalars(select(LedgerEntry).where(LedgerEntry.card_id == card_id,
                                                                   LedgerEntry.kind == kind)))


# --- the catalogue ------------------------------------------------------------------------------------


def test_the_catalogue_is_listed_changed_and_retired_and_checks_costs_against_the_kind(
        client: FlaskClient, seeded: dict[str, Any]) -> None:
    coffee = catalogue_reward(client, seeded)
    assert (coffee["name"], coffee["cost_points"], coffee["valid_days"], coffee["active"]) == (
        "Free coffee", 50, 30, True)
    key = bearer(seeded["api_key"])
    base = f"/api/v1/programs/{seeded['program_id']}/rewards"
    changed = client.patch(f"{base}/{coffee['id']}", json={"cost_points": 40}, headers=key)
    assert changed.status_code == 200
    assert (changed.get_json()["cost_points"], changed.get_json()["description"]) == (40, "Any size")
    # a cost a program cannot pay is a 422 naming the field
    both = client.patch(f"{base}/{coffee['id']}", json={"costs_full_card": True}, headers=key)
    assert [e["field"] for e in both.get_json()["errors"]] == ["costs_full_card", "costs_full_card"]
    assert client.get(f"{base}/{coffee['id']}", headers=key).get_json()["costs_full_card"] is False
    listed = client.get(base, headers=bearer(seeded["cashier_token"]))  # the till may read the catalogue
    assert [row["id"] for row in listed.get_json()] == [coffee["id"]]
    retired = client.delete(f"{base}/{coffee['id']}", headers=key)
    assert retired.status_code == 200 and retired.get_json()["active"] is False
    assert client.get(f"{base}/999999", headers=key).status_code == 404
    # the cashier may not change the catalogue
    assert client.post(base, json={"name": "x"}, headers=bearer(seeded["cashier_token"])).status_code in (401, 403)


# --- buying with points ---------------------------------------------------------------------------------


def test_a_reward_is_bought_with_points_once_per_key_and_never_past_the_balance(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    coffee = catalogue_reward(client, seeded)
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 120}))
    bought = buy(client, seeded["cashier_token"], card["id"], coffee["id"], key="buy-1")
    assert bought.status_code == 201, bought.get_json()
    answer = bought.get_json()
    assert answer["transaction"]["type"] == "reward_buy" and answer["transaction"]["points"] == -50
    assert answer["transaction"]["balance"] == 70
    reward = answer["reward"]
    assert (reward["name"], reward["source"], reward["state"], reward["reward_id"]) == (
        "Free coffee", "bought", "held", coffee["id"])
    ends = dt.datetime.fromisoformat(reward["expires_at"])
    assert dt.timedelta(days=29, hours=23) < ends - utcnow() <= dt.timedelta(days=30)
    again = buy(client, seeded["cashier_token"], card["id"], coffee["id"], key="buy-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == answer
    assert len(entries(app, card["id"], "reward_buy")) == 1
    ok(transact(client, seeded["api_key"], card["id"], {"type": "redeem", "points": 30}))  # 40 left
    short = buy(client, seeded["cashier_token"], card["id"], coffee["id"])
    body = problem(short, 409, "/problems/insufficient-balance")
    assert (body["balance"], body["requested"]) == (40, 50)
    assert client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()["balance"] == 40
    assert [r["id"] for r in held(client, seeded, card["id"])] == [reward["id"]]
    # the till's scan offers what points buy, and says what the balance reaches
    cookie = catalogue_reward(client, seeded, name="Cookie", cost_points=5)
    offers = scan(client, seeded, card)["rewards_for_points"]
    assert [(o["name"], o["cost_points"], o["affordable"]) for o in offers] == [
        ("Cookie", 5, True), ("Free coffee", 50, False)]
    # the same key with another body is refused
    problem(buy(client, seeded["cashier_token"], card["id"], cookie["id"], key="buy-1"), 422,
            "/problems/idempotency-key-reused")


def test_coupons_and_retired_rewards_are_not_for_sale(client: FlaskClient, seeded: dict[str, Any]) -> None:
    coupon = catalogue_reward(client, seeded, name="Welcome gift", cost_points=None)
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 100}))
    refused = buy(client, seeded["api_key"], card["id"], coupon["id"])
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "reward_id"
    coffee = catalogue_reward(client, seeded)
    client.delete(f"/api/v1/programs/{seeded['program_id']}/rewards/{coffee['id']}", headers=bearer(seeded["api_key"]))
    assert buy(client, seeded["api_key"], card["id"], coffee["id"]).status_code == 422
    assert buy(client, seeded["api_key"], card["id"], 999999).status_code == 404


# --- coupons and redeeming ----------------------------------------------------------------------------------


def test_a_granted_coupon_is_redeemed_once_by_the_cashier_from_the_scan(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded)
    granted = grant(client, seeded, card["id"], name="Birthday cake", valid_days=14, origin="birthday")
    assert granted.status_code == 201, granted.get_json()
    coupon = granted.get_json()["reward"]
    assert (coupon["source"], coupon["origin"], coupon["redeemable"]) == ("coupon", "birthday", True)
    assert granted.get_json()["transaction"]["type"] == "reward_grant"
    assert granted.get_json()["transaction"]["points"] == 0
    # the till's scan lists what can be redeemed
    listed = scan(client, seeded, card)["rewards"]
    assert [(r["id"], r["name"]) for r in listed] == [(coupon["id"], "Birthday cake")]
    first = redeem(client, seeded["cashier_token"], card["id"], coupon["id"], key="till-1")
    assert first.status_code == 201, first.get_json()
    done = first.get_json()
    assert (done["reward"]["state"], done["transaction"]["type"], done["transaction"]["points"]) == (
        "redeemed", "reward_redeem", 0)
    assert done["reward"]["redeemed_store_id"] == seeded["store_ids"][0]
    assert done["reward"]["redeemed_cashier_id"] == done["transaction"]["cashier_id"] is not None
    replay = redeem(client, seeded["cashier_token"], card["id"], coupon["id"], key="till-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == done
    twice = problem(redeem(client, seeded["cashier_token"], card["id"], coupon["id"]), 409,
                    "/problems/reward-redeemed")
    assert "already redeemed" in twice["detail"] and twice["redeemed_at"]
    assert scan(client, seeded, card)["rewards"] == []
    assert len(entries(app, card["id"], "reward_redeem")) == 1
    history = held(client, seeded, card["id"], state="all")
    assert [(r["id"], r["state"]) for r in history] == [(coupon["id"], "redeemed")]


def test_a_coupon_from_the_catalogue_takes_its_validity_and_a_campaign_may_grant_to_many(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    gift = catalogue_reward(client, seeded, name="Welcome gift", cost_points=None, valid_days=7)
    cards = [issue(client, seeded, name=f"Guest {n}") for n in range(3)]
    answer = grant(client, seeded, cards[0]["id"], reward_id=gift["id"]).get_json()
    assert answer["reward"]["name"] == "Welcome gift"
    ends = dt.datetime.fromisoformat(answer["reward"]["expires_at"])
    assert dt.timedelta(days=6, hours=23) < ends - utcnow() <= dt.timedelta(days=7)
    assert grant(client, seeded, cards[0]["id"], reward_id=999999).status_code == 404
    assert grant(client, seeded, cards[0]["id"], name="Late", expires_at="2020-01-01T00:00:00Z").status_code == 422
    with app.app_context():
        session = db.session()
        spec = rewards.CouponSpec(reward_id=gift["id"], origin="campaign")
        assert rewards.grant_to_cards(session, [c["id"] for c in cards], spec, "campaign-7") == 3
        session.commit()
        assert rewards.grant_to_cards(session, [c["id"] for c in cards], spec, "campaign-7") == 0  # a rerun
        session.commit()
    assert [len(held(client, seeded, c["id"])) for c in cards] == [2, 1, 1]


def test_a_reward_is_never_redeemed_after_its_end_and_the_hourly_job_takes_it_off_the_pass(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded)
    coupon = grant(client, seeded, card["id"], name="Free muffin", valid_days=1).get_json()["reward"]
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, "rewards")["value"] == "Free muffin"
    with time_machine.travel(utcnow() + dt.timedelta(days=1, minutes=1), tick=False):
        body = problem(redeem(client, seeded["cashier_token"], card["id"], coupon["id"]), 409,
                       "/problems/reward-expired")
        assert "expired" in body["detail"] and body["expires_at"] == coupon["expires_at"]
        assert scan(client, seeded, card)["rewards"] == []
        assert held(client, seeded, card["id"], state="all")[0]["state"] == "expired"
        with app.app_context():
            version = db.session().get(Card, card["id"]).version
            assert rewards.note_expired(db.session()) == 1
            assert rewards.note_expired(db.session()) == 0  # noted once
            assert db.session().get(Card, card["id"]).version == version + 1
        pass_json, _ = download_pass(client, card)
        assert pass_field(pass_json, "rewards") is None and pass_field(pass_json, "reward_list") is None
    assert entries(app, card["id"], "reward_redeem") == []


def test_a_voided_card_takes_no_rewards(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    coffee = catalogue_reward(client, seeded)
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 100}))
    coupon = grant(client, seeded, card["id"]).get_json()["reward"]
    with app.app_context():
        db.session().get(Card, card["id"]).voided = True
        db.session().commit()
    problem(redeem(client, seeded["api_key"], card["id"], coupon["id"]), 409, "/problems/card-voided")
    problem(buy(client, seeded["api_key"], card["id"], coffee["id"]), 409, "/problems/card-voided")
    problem(grant(client, seeded, card["id"]), 409, "/problems/card-voided")
    assert entries(app, card["id"], "reward_redeem") == []


def test_another_brands_card_and_a_cancelled_coupon_are_refused(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded)
    coupon = grant(client, seeded, card["id"]).get_json()["reward"]
    other = issue(client, seeded, name="Boris")
    assert redeem(client, seeded["cashier_token"], other["id"], coupon["id"]).status_code == 404
    cancelled = client.delete(f"/api/v1/cards/{card['id']}/rewards/{coupon['id']}", headers=bearer(seeded["api_key"]))
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    problem(redeem(client, seeded["cashier_token"], card["id"], coupon["id"]), 409, "/problems/reward-cancelled")
    assert redeem(client, seeded["cashier_token"], card["id"], 999999).status_code == 404


# --- stamp cards ---------------------------------------------------------------------------------------------


def test_a_stamp_cards_rewards_are_held_and_a_full_card_may_be_taken_as_a_catalogue_reward(
        client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = client.post("/api/v1/programs", json={"name": "Stamps", "kind": "stamps", "stamps_required": 4,
                                                    "stamp_ladder": [{"at": 2, "reward": "Biscuit"}]},
                          headers=bearer(seeded["api_key"])).get_json()
    cake = catalogue_reward(client, seeded, program["id"], name="Cake slice", cost_points=None, costs_full_card=True)
    points = client.post(f"/api/v1/programs/{program['id']}/rewards", json={"name": "x", "cost_points": 5},
                         headers=bearer(seeded["api_key"]))
    assert points.status_code == 422 and points.get_json()["errors"][0]["field"] == "cost_points"
    card = issue(client, seeded, program["id"])
    ok(transact(client, seeded["api_key"], card["id"], {"type": "stamp", "stamps": 4}))
    listed = scan(client, seeded, card)["rewards"]
    assert [(r["name"], r["source"]) for r in listed] == [("Biscuit", "ladder"), ("Full card reward", "full_card")]
    biscuit, full = listed
    # a ladder reward cannot be exchanged; the full card can
    assert redeem(client, seeded["cashier_token"], card["id"], biscuit["id"],
                  exchange_for=cake["id"]).status_code == 422
    taken = redeem(client, seeded["cashier_token"], card["id"], full["id"], exchange_for=cake["id"])
    assert taken.status_code == 201, taken.get_json()
    assert (taken.get_json()["reward"]["name"], taken.get_json()["reward"]["reward_id"]) == ("Cake slice", cake["id"])
    assert [r["name"] for r in scan(client, seeded, card)["rewards"]] == ["Biscuit"]
    states = {r["name"]: r["state"] for r in scan(client, seeded, card)["stamp_rewards"]}
    assert states == {"Biscuit": "held", "Cake slice": "redeemed"}
    assert taken.get_json()["exchanged_from"] == {"reward_id": None, "name": "Full card reward", "description": None}
    # undoing the redemption holds the full card's reward again, as it was before the exchange
    undone = client.post(f"/api/v1/transactions/{taken.get_json()['transaction']['id']}/reverse", json={},
                         headers=keyed(seeded["api_key"]))
    assert undone.status_code == 201, undone.get_json()
    back = [(r["name"], r["reward_id"], r["source"]) for r in scan(client, seeded, card)["rewards"]]
    assert back == [("Biscuit", None, "ladder"), ("Full card reward", None, "full_card")]


# --- the pass and Google -------------------------------------------------------------------------------------


def test_held_rewards_show_on_the_pass_with_a_change_message_and_on_googles_object(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], settings: Settings) -> None:
    card = issue(client, seeded)
    pass_json, files = download_pass(client, card)
    assert pass_field(pass_json, "rewards") is None
    grant(client, seeded, card["id"], name="Free coffee", expires_at="2099-12-12T10:00:00Z")
    grant(client, seeded, card["id"], name="Cookie")
    pass_json, files = download_pass(client, card)
    front = pass_field(pass_json, "rewards")
    assert front == {"key": "rewards", "label": "Rewards", "value": "Free coffee +1", "changeMessage": "Rewards: %@"}
    back = pass_field(pass_json, "reward_list")
    assert back["value"] == "Free coffee \N{EM DASH} 2099-12-12\nCookie"
    assert back["label"] == "Your rewards (valid until)"
    assert "Награды: %@" in files["ru.lproj/pass.strings"].decode("utf-16" if files["ru.lproj/pass.strings"][:2] in (
        b"\xff\xfe", b"\xfe\xff") else "utf-8")
    with app.app_context():
        body = sync.object_resource(settings, db.session().get(Card, card["id"]))
    assert wallet_schema.problems("LoyaltyObject", body) == []
    module = next(m for m in body["textModulesData"] if m["id"] == "rewards")
    assert module["body"] == "Free coffee \N{EM DASH} 2099-12-12\nCookie"
    assert module["header"] == "Your rewards (valid until)"


# --- undo: what a reversal does to rewards (the interface for reversal entries) ---------------------------------


def _entry(session: Any, card_id: int, kind: str, points: int = 0) -> LedgerEntry:
    entry = LedgerEntry(card_id=card_id, kind=kind, points=points, created_at=utcnow())
    session.add(entry)
    session.flush()
    return entry


def test_reversing_an_earning_entry_cancels_its_rewards_unless_one_was_redeemed(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = client.post("/api/v1/programs", json={"name": "Stamps", "kind": "stamps", "stamps_required": 4,
                                                    "stamp_ladder": [{"at": 2, "reward": "Biscuit"}]},
                          headers=bearer(seeded["api_key"])).get_json()
    card = issue(client, seeded, program["id"])
    earning = ok(transact(client, seeded["api_key"], card["id"], {"type": "stamp", "stamps": 4}))
    second = ok(transact(client, seeded["api_key"], card["id"], {"type": "stamp", "stamps": 2}))
    biscuit2 = scan(client, seeded, card)["rewards"][-1]
    assert biscuit2["ledger_entry_id"] == second["id"]
    ok(redeem(client, seeded["cashier_token"], card["id"], biscuit2["id"]))
    with app.app_context():
        session = db.session()
        entry = session.get(LedgerEntry, earning["id"])
        reversal = _entry(session, card["id"], "reversal")
        version = session.get(Card, card["id"]).version
        cancelled = rewards.cancel_rewards_earned_by(session, entry, reversal)
        assert sorted(h.source for h in cancelled) == ["full_card", "ladder"]
        assert {h.cancelled_entry_id for h in cancelled} == {reversal.id}
        assert session.get(Card, card["id"]).version == version + 1
        session.commit()
        assert rewards.cancel_rewards_earned_by(session, entry, reversal) == []  # twice: nothing more
        # the second entry's reward was redeemed: refused, nothing changed
        other = session.get(LedgerEntry, second["id"])
        try:
            rewards.cancel_rewards_earned_by(session, other, _entry(session, card["id"], "reversal"))
        except rewards.RedeemedRewardInTheWay as error:
            assert error.held_reward_id == biscuit2["id"] and "undo that redemption first" in str(error)
        else:
            raise AssertionError("a redeemed reward must block the reversal")
        session.rollback()
        assert session.get(HeldReward, biscuit2["id"]).cancelled_at is None
    assert scan(client, seeded, card)["rewards"] == []


def test_unredeem_puts_a_reward_back_and_a_reversed_buy_is_refunded(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    coffee = catalogue_reward(client, seeded)
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 100}))
    bought = buy(client, seeded["cashier_token"], card["id"], coffee["id"]).get_json()
    redeemed = redeem(client, seeded["cashier_token"], card["id"], bought["reward"]["id"]).get_json()
    with app.app_context():
        session = db.session()
        redeem_entry = session.get(LedgerEntry, redeemed["transaction"]["id"])
        back = rewards.unredeem(session, redeem_entry, _entry(session, card["id"], "reversal"))
        assert back.redeemed_at is None and rewards.is_redeemable(back, utcnow())
        session.commit()
    assert [r["id"] for r in scan(client, seeded, card)["rewards"]] == [bought["reward"]["id"]]
    with app.app_context():
        session = db.session()
        buy_entry = session.get(LedgerEntry, bought["transaction"]["id"])
        assert rewards.refund_bought_reward(session, buy_entry, _entry(session, card["id"], "reversal", 50)) == 50
        session.commit()
        try:
            rewards.refund_bought_reward(session, redeem_entry, buy_entry)
        except ValueError as error:
            assert "not a reward_buy" in str(error)
        else:
            raise AssertionError("only a reward_buy is refunded")
    assert scan(client, seeded, card)["rewards"] == []
    # redeemed again after an unredeem, then the buy cannot be reversed without undoing it
    coffee2 = buy(client, seeded["cashier_token"], card["id"], coffee["id"]).get_json()
    ok(redeem(client, seeded["cashier_token"], card["id"], coffee2["reward"]["id"]))
    with app.app_context():
        session = db.session()
        try:
            rewards.refund_bought_reward(session, session.get(LedgerEntry, coffee2["transaction"]["id"]),
                                         _entry(session, card["id"], "reversal", 50))
        except rewards.RedeemedRewardInTheWay:
            session.rollback()
        else:
            raise AssertionError("a redeemed reward cannot be refunded")


# --- a campaign grants a coupon to its audience -----------------------------------------------------------------


def test_a_campaign_grants_its_coupon_to_each_recipient_once_with_one_version_bump(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    cards = [issue(client, seeded, name=f"Member {n}") for n in range(3)]
    with app.app_context():
        db.session().get(Card, cards[2]["id"]).voided = True
        db.session().commit()
        versions = {c["id"]: db.session().get(Card, c["id"]).version for c in cards}
    gift = catalogue_reward(client, seeded, name="Free pastry", cost_points=None, valid_days=10)
    bad = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "x", "message": "x", "send_now": True, "audience": {"all_cards": True},
        "coupon": {"reward_id": 999999}})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "coupon.reward_id"
    response = client.post("/api/v1/campaigns", headers=bearer(seeded["api_key"]), json={
        "name": "Pastry week", "message": "A pastry on us this week", "send_now": True,
        "audience": {"all_cards": True}, "coupon": {"reward_id": gift["id"]}})
    assert response.status_code == 201, response.get_json()
    campaign = response.get_json()
    assert campaign["status"] == "finished" and campaign["coupon"] == {"reward_id": gift["id"]}
    for card in cards[:2]:
        (coupon,) = held(client, seeded, card["id"])
        assert (coupon["name"], coupon["origin"], coupon["campaign_id"]) == ("Free pastry", "campaign", campaign["id"])
        pass_json, _ = download_pass(client, card)
        assert pass_field(pass_json, "rewards")["value"] == "Free pastry"
        assert pass_field(pass_json, "news")["value"] == "A pastry on us this week"
    assert held(client, seeded, cards[2]["id"]) == []  # voided: skipped
    with app.app_context():
        # the message and the coupon came in one version (one push), not two
        assert [db.session().get(Card, c["id"]).version - versions[c["id"]] for c in cards[:2]] == [1, 1]


def test_a_customers_export_lists_the_rewards_their_cards_held(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    card = issue(client, seeded)
    coupon = grant(client, seeded, card["id"], name="Birthday cake", valid_days=3).get_json()["reward"]
    ok(redeem(client, seeded["cashier_token"], card["id"], coupon["id"]))
    full = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["api_key"])).get_json()
    customer_id = full["customer"]["id"]
    document = client.get(f"/api/v1/customers/{customer_id}/export", headers=bearer(seeded["api_key"])).get_json()
    (exported,) = document["cards"]
    assert [(r["name"], r["source"], r["redeemed_store_id"]) for r in exported["rewards"]] == [
        ("Birthday cake", "coupon", seeded["store_ids"][0])]


def test_a_birthday_gives_the_programs_coupon_once_a_year_in_the_greetings_one_push(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    from service.campaigns import tasks

    cake = catalogue_reward(client, seeded, name="Birthday cake", cost_points=None, valid_days=14)
    other = client.post("/api/v1/programs", json={"name": "Other", "kind": "points"},
                        headers=bearer(seeded["api_key"])).get_json()
    put = client.put(f"/api/v1/programs/{other['id']}/birthday", headers=bearer(seeded["api_key"]),
                     json={"points": None, "message": None, "reward_id": cake["id"]})
    assert put.status_code == 422 and put.get_json()["errors"][0]["field"] == "reward_id"  # another program's
    put = client.put(f"/api/v1/programs/{seeded['program_id']}/birthday", headers=bearer(seeded["api_key"]),
                     json={"points": 10, "message": "Happy birthday, {name}!", "reward_id": cake["id"]})
    assert put.status_code == 200 and put.get_json()["reward_id"] == cake["id"]
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": "Dana Lee", "birthday": "1991-06-15"}})
    card = response.get_json()
    with app.app_context():
        version = db.session().get(Card, card["id"]).version
    today = dt.datetime(2026, 6, 15, 8, 3, tzinfo=dt.UTC)
    with app.app_context():
        assert tasks.run_birthdays(today)["cards"] == 1
        assert tasks.run_birthdays(today)["cards"] == 0  # twice the same day: nothing more
        assert db.session().get(Card, card["id"]).version == version + 1  # points, message and coupon: one version
    (coupon,) = held(client, seeded, card["id"], state="all")
    assert (coupon["name"], coupon["origin"]) == ("Birthday cake", "birthday")
    assert coupon["expires_at"] == (today + dt.timedelta(days=14)).isoformat()
    with app.app_context():
        tasks.run_birthdays(today.replace(year=2027))
    assert [r["origin"] for r in held(client, seeded, card["id"], state="all")] == ["birthday", "birthday"]


def test_a_store_manager_buys_and_redeems_at_their_store_and_a_marketer_spends_no_points(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    from tests.console_helpers import api_headers, as_role

    coffee = catalogue_reward(client, seeded)
    card = issue(client, seeded)
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 200}))
    mine, theirs = seeded["store_ids"][0], seeded["store_ids"][1]
    manager = as_role(app, "store_manager", store_ids=[mine])
    headers = api_headers(manager)

    def post(path: str, key: str, body: dict[str, Any]) -> Any:
        return manager.post(path, json=body, headers={**headers, "Idempotency-Key": key})

    needed = problem(post(f"/api/v1/cards/{card['id']}/rewards", "m0", {"reward_id": coffee["id"]}), 403,
                     "/problems/store-not-yours")
    assert needed["title"] == "Store needed"
    problem(post(f"/api/v1/cards/{card['id']}/rewards", "m1", {"reward_id": coffee["id"], "store_id": theirs}),
            403, "/problems/store-not-yours")
    bought = post(f"/api/v1/cards/{card['id']}/rewards", "m2", {"reward_id": coffee["id"], "store_id": mine})
    assert bought.status_code == 201, bought.get_json()
    assert bought.get_json()["transaction"]["store_id"] == mine
    held_id = bought.get_json()["reward"]["id"]
    redeemed = post(f"/api/v1/cards/{card['id']}/rewards/{held_id}/redeem", "m3", {"store_id": mine})
    assert redeemed.status_code == 201, redeemed.get_json()
    assert redeemed.get_json()["transaction"]["store_id"] == mine

    marketer = as_role(app, "marketer")  # members and campaigns, no counter: grants coupons, spends no points
    refused = marketer.post(f"/api/v1/cards/{card['id']}/rewards", json={"reward_id": coffee["id"]},
                            headers={**api_headers(marketer), "Idempotency-Key": "k1"})
    assert refused.status_code == 403
