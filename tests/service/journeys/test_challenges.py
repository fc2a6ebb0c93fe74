"""Challenges through the till and the brand API: N-1, N and N+1 qualifying transactions, purchases
below the least amount, the window's edges (the clock held by time-machine), a rolling window running
out, completion exactly once (a retried request, the hook run again), undo taking the step and the
bonus back (or refusing when the bonus was spent), the pass field with its changeMessage and a
version bump, Google's text module (checked against the discovery document), stamp and coupon bonuses,
and a program without challenges doing no more work."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from service.google_wallet import sync
from service.journeys import challenges
from service.loyalty.engine import Posted
from service.models import Card, ChallengeProgress, HeldReward, LedgerEntry, utcnow
from service.platform import db
from service.platform.config import Settings
from tests.doubles import wallet_schema
from tests.helpers import bearer
from tests.service.loyalty.test_loyalty import download_pass, issue, ok, pass_field, transact

PROBLEM = "application/problem+json"


# --- helpers ---------------------------------------------------------------------------------------


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def make_challenge(client: FlaskClient, seeded: dict[str, Any], program_id: int | None = None,
                   **fields: Any) -> dict[str, Any]:
    now = utcnow()
    body = {"name": "December challenge", "target": 3, "starts_at": iso(now - dt.timedelta(hours=1)),
            "ends_at": iso(now + dt.timedelta(days=30)), "bonus": "points", "bonus_amount": 100, **fields}
    response = client.post(f"/api/v1/programs/{program_id or seeded['program_id']}/challenges", json=body,
                           headers=bearer(seeded["api_key"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def buy(client: FlaskClient, seeded: dict[str, Any], card_id: int, amount: str = "1.00",
        key: str | None = None) -> dict[str, Any]:
    """A purchase at the till (1.00 earns 10 points in the demo program)."""
    return ok(transact(client, seeded["cashier_token"], card_id, {"type": "purchase", "amount": amount}, key))


def windows(app: Flask, card_id: int) -> list[ChallengeProgress]:
    with app.app_context():
        return list(db.session().scalars(select(ChallengeProgress).where(ChallengeProgress.card_id == card_id)
                                         .order_by(ChallengeProgress.id)))


def bonuses(app: Flask, card_id: int) -> list[LedgerEntry]:
    with app.app_context():
        return list(db.session().scalars(select(LedgerEntry).where(
            LedgerEntry.card_id == card_id, LedgerEntry.idempotency_key.like(f"{challenges.BONUS_KEY_PREFIX}%"))
            .order_by(LedgerEntry.id)))


def card_of(client: FlaskClient, seeded: dict[str, Any], card_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/cards/{card_id}", headers=bearer(seeded["api_key"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def reverse(client: FlaskClient, seeded: dict[str, Any], entry_id: int) -> Any:
    return client.post(f"/api/v1/transactions/{entry_id}/reverse", json={},
                       headers={**bearer(seeded["api_key"]), "Idempotency-Key": str(uuid.uuid4())})


# --- counting --------------------------------------------------------------------------------------


def test_the_bonus_comes_with_the_nth_visit_once_and_not_with_the_one_before_or_after(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    challenge = make_challenge(client, seeded, target=3)
    card = issue(client, seeded)
    first, second = buy(client, seeded, card["id"]), buy(client, seeded, card["id"])  # N-1
    assert "challenges_completed" not in second and second["balance"] == 20
    assert bonuses(app, card["id"]) == []
    assert card_of(client, seeded, card["id"])["challenges"] == [{
        "challenge_id": challenge["id"], "name": "December challenge", "counts": "visits", "count": 2, "target": 3,
        "completed": False, "window_ends_at": challenge["ends_at"].replace("Z", "+00:00")}]
    third = buy(client, seeded, card["id"])  # N
    assert third["balance"] == 130, "the answer shows the card with its bonus"
    assert third["challenges_completed"] == [{
        "challenge_id": challenge["id"], "name": "December challenge", "target": 3,
        "bonus": {"type": "points", "amount": 100, "given": True, "transaction_id": bonuses(app, card["id"])[0].id}}]
    fourth = buy(client, seeded, card["id"])  # N+1: a fixed period completes once
    assert "challenges_completed" not in fourth and fourth["balance"] == 140
    given = bonuses(app, card["id"])
    assert [(entry.kind, entry.points, entry.reason) for entry in given] == [
        ("earn", 100, "challenge: December challenge")]
    [window] = windows(app, card["id"])
    assert window.count == 3 and window.entry_ids == [first["id"], second["id"], third["id"]]
    assert window.completed_at is not None and window.bonus_entry_id == given[0].id
    shown = card_of(client, seeded, card["id"])
    assert shown["balance"] == 140 and shown["challenges"][0]["completed"] is True


def test_a_purchase_below_the_least_amount_and_manual_points_do_not_count(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    challenge = make_challenge(client, seeded, counts="purchases", min_amount="10.00", target=2)
    assert challenge["min_amount"] == "10.00"
    card = issue(client, seeded)
    buy(client, seeded, card["id"], "9.99")
    ok(transact(client, seeded["api_key"], card["id"], {"type": "earn", "points": 5}))
    assert windows(app, card["id"]) == []
    buy(client, seeded, card["id"], "10.00")
    assert card_of(client, seeded, card["id"])["challenges"][0]["count"] == 1
    done = buy(client, seeded, card["id"], "25.50")
    assert done["challenges_completed"][0]["bonus"]["given"] is True


def test_only_transactions_inside_the_period_count_at_its_edges(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    now = utcnow().replace(microsecond=0)
    start, end = now + dt.timedelta(hours=1), now + dt.timedelta(hours=2)
    make_challenge(client, seeded, target=10, starts_at=iso(start), ends_at=iso(end))
    card = issue(client, seeded)
    for moment in (start - dt.timedelta(seconds=1), start, end - dt.timedelta(seconds=1), end):
        with time_machine.travel(moment, tick=False):
            buy(client, seeded, card["id"])
    [window] = windows(app, card["id"])
    assert window.count == 2, "the first second counts, and the last one before the end; not the end itself"
    assert window.window_starts_at == start and window.window_ends_at == end
    with time_machine.travel(end, tick=False):
        assert card_of(client, seeded, card["id"])["challenges"] == [], "an ended challenge leaves the card"


def test_a_rolling_window_runs_out_and_the_next_visit_opens_a_new_one(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    now = utcnow().replace(microsecond=0)
    make_challenge(client, seeded, name="Three in a week", target=2, ends_at=None, rolling_days=7,
                   starts_at=iso(now - dt.timedelta(hours=1)))
    card = issue(client, seeded)
    buy(client, seeded, card["id"])  # day 0: the window opens
    with time_machine.travel(now + dt.timedelta(days=7, minutes=5), tick=False):
        late = buy(client, seeded, card["id"])  # outside the first window: a new one, not a completion
    assert "challenges_completed" not in late
    with time_machine.travel(now + dt.timedelta(days=8), tick=False):
        done = buy(client, seeded, card["id"])
        again = buy(client, seeded, card["id"])  # after a completion a rolling challenge starts over
    assert done["challenges_completed"][0]["name"] == "Three in a week" and "challenges_completed" not in again
    rows = windows(app, card["id"])
    assert [(row.count, row.completed_at is not None) for row in rows] == [(1, False), (2, True), (1, False)]
    assert rows[0].window_ends_at == rows[0].window_starts_at + dt.timedelta(days=7)
    assert len(bonuses(app, card["id"])) == 1


def test_a_retry_and_a_rerun_of_the_hook_never_give_the_bonus_twice(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    make_challenge(client, seeded, target=2)
    card = issue(client, seeded)
    buy(client, seeded, card["id"])
    first = buy(client, seeded, card["id"], key="till-42")
    retried = transact(client, seeded["cashier_token"], card["id"], {"type": "purchase", "amount": "1.00"}, "till-42")
    assert retried.status_code == 201 and retried.headers.get("Idempotent-Replayed") == "true"
    assert retried.get_json() == first, "the stored answer, bonus and all"
    with app.app_context():
        session = db.session()
        locked = session.get(Card, card["id"])
        assert locked is not None
        rerun = Posted(entry_id=first["id"], kind="purchase", amount=None, created_at=utcnow(),
                       idempotency_key="till-42", bumped=True)
        challenges.on_posted(session, locked, rerun)
        session.commit()
    assert len(bonuses(app, card["id"])) == 1
    assert windows(app, card["id"])[0].count == 2
    assert card_of(client, seeded, card["id"])["balance"] == 120


def test_undo_takes_the_step_back_and_the_bonus_with_it_or_refuses_when_the_bonus_was_spent(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    make_challenge(client, seeded, target=2)
    card = issue(client, seeded)
    one = buy(client, seeded, card["id"])
    buy(client, seeded, card["id"])  # 2 of 2: the bonus (20 + 100 points)
    undone = reverse(client, seeded, one["id"])
    assert undone.status_code == 201, undone.get_json()
    assert undone.get_json()["balance"] == 10, "the purchase's 10 points and the bonus's 100 are gone"
    [window] = windows(app, card["id"])
    assert window.count == 1 and window.completed_at is None and window.bonus_entry_id is None
    [bonus] = bonuses(app, card["id"])
    with app.app_context():
        assert db.session().scalar(select(LedgerEntry).where(LedgerEntry.reversed_entry_id == bonus.id)) is not None
    assert card_of(client, seeded, card["id"])["challenges"][0]["count"] == 1

    again = buy(client, seeded, card["id"])  # completes the window again: a fresh bonus, a fresh key
    assert again["challenges_completed"][0]["bonus"]["given"] is True and again["balance"] == 120
    assert [entry.idempotency_key.rsplit(":", 1)[1] for entry in bonuses(app, card["id"])] == ["1", "2"]
    ok(transact(client, seeded["cashier_token"], card["id"], {"type": "redeem", "points": 105}))
    refused = reverse(client, seeded, again["id"])
    assert refused.status_code == 409 and refused.mimetype == PROBLEM
    problem = refused.get_json()
    assert problem["type"] == "/problems/reversal-challenge-bonus", problem
    assert "December challenge" in problem["detail"]
    assert problem["bonus_transaction_id"] == bonuses(app, card["id"])[1].id
    assert card_of(client, seeded, card["id"])["balance"] == 15, "nothing was changed"
    assert windows(app, card["id"])[0].count == 2


# --- what the pass and Google show ------------------------------------------------------------------


def test_the_pass_shows_the_progress_with_a_change_message_and_every_step_bumps_the_version(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], settings: Settings) -> None:
    challenge = make_challenge(client, seeded, target=5)
    card = issue(client, seeded)
    pass_json, _ = download_pass(client, card)
    key = f"challenge_{challenge['id']}"
    assert pass_field(pass_json, key) == {"key": key, "label": "December challenge", "value": "0 / 5 visits",
                                          "changeMessage": "December challenge: %@"}
    version = card_of(client, seeded, card["id"])["version"]
    buy(client, seeded, card["id"], "0.01")  # earns no points: only the challenge moves
    assert card_of(client, seeded, card["id"])["version"] == version + 1
    buy(client, seeded, card["id"])
    buy(client, seeded, card["id"])
    assert card_of(client, seeded, card["id"])["version"] == version + 3, "one bump per transaction"
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, key)["value"] == "3 / 5 visits"
    assert pass_field(pass_json, key) in pass_json["storeCard"]["backFields"]
    with app.app_context():
        session = db.session()
        loaded = session.get(Card, card["id"])
        body = sync.object_resource(settings, loaded)
        loaded.customer.language = "ru"
        russian = sync.object_resource(settings, loaded)
        session.rollback()
    assert wallet_schema.problems("LoyaltyObject", body) == []
    module = next(item for item in body["textModulesData"] if item["id"] == key)
    assert module["header"] == "December challenge" and module["body"] == "3 / 5 visits"
    assert next(item for item in russian["textModulesData"] if item["id"] == key)["body"] == "Визиты: 3 из 5"
    client.patch(f"/api/v1/challenges/{challenge['id']}", json={"enabled": False}, headers=bearer(seeded["api_key"]))
    buy(client, seeded, card["id"])
    pass_json, _ = download_pass(client, card)
    assert pass_field(pass_json, key) is None and windows(app, card["id"])[0].count == 3, "switched off: gone"


def test_a_completed_challenge_says_so_on_the_pass(client: FlaskClient, seeded: dict[str, Any]) -> None:
    challenge = make_challenge(client, seeded, target=1, name="100% coffee")
    card = issue(client, seeded)
    buy(client, seeded, card["id"])
    field = pass_field(download_pass(client, card)[0], f"challenge_{challenge['id']}")
    assert field is not None
    assert field["value"] == "Done! 1 / 1 visits" and field["changeMessage"] == "100 coffee: %@"


def test_a_stamp_program_gives_stamps_and_any_program_a_coupon(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    program = client.post("/api/v1/programs", json={"name": "Stamps", "kind": "stamps", "stamps_required": 10},
                          headers=bearer(seeded["api_key"])).get_json()
    make_challenge(client, seeded, program_id=program["id"], target=2, bonus="stamps", bonus_amount=2)
    make_challenge(client, seeded, program_id=program["id"], name="Cake", target=2, bonus="coupon",
                   bonus_amount=None, coupon_name="Free cake", coupon_valid_days=14)
    card = issue(client, seeded, program_id=program["id"])
    ok(transact(client, seeded["cashier_token"], card["id"], {"type": "stamp"}))
    done = ok(transact(client, seeded["cashier_token"], card["id"], {"type": "stamp"}))
    assert done["stamps"] == 4, "2 stamps and the 2 of the bonus"
    assert [item["bonus"]["type"] for item in done["challenges_completed"]] == ["stamps", "coupon"]
    with app.app_context():
        coupon = db.session().scalar(select(HeldReward).where(HeldReward.card_id == card["id"]))
        assert coupon is not None and coupon.name == "Free cake" and coupon.origin == "journey"
    assert card_of(client, seeded, card["id"])["stamps"] == 4
    assert len(windows(app, card["id"])) == 2


def test_a_program_without_challenges_reads_nothing_more(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                         settings: Settings) -> None:
    card = issue(client, seeded)
    with app.app_context():
        session = db.session()
        loaded = session.get(Card, card["id"])
        assert loaded is not None and loaded.program.challenges_version == 0
        statements: list[str] = []
        engine = session.get_bind()
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            posted = Posted(entry_id=1, kind="purchase", amount=None, created_at=utcnow(), idempotency_key="k",
                            bumped=True)
            assert challenges.on_posted(session, loaded, posted) is None
            assert challenges.progress(session, loaded) == []
            assert challenges.back_fields(loaded, "http://127.0.0.1:8000/passkit") == []
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert statements == []
    assert card_of(client, seeded, card["id"])["challenges"] == []


def test_undo_cancels_a_coupon_bonus_and_refuses_once_it_was_redeemed(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    make_challenge(client, seeded, target=1, bonus="coupon", bonus_amount=None, coupon_name="Free cake")
    card = issue(client, seeded)
    first = buy(client, seeded, card["id"])
    coupon = first["challenges_completed"][0]["bonus"]["reward"]
    assert coupon["name"] == "Free cake" and coupon["state"] == "held"
    assert reverse(client, seeded, first["id"]).status_code == 201
    with app.app_context():
        assert db.session().get(HeldReward, coupon["id"]).cancelled_at is not None
    second = buy(client, seeded, card["id"])  # the window completes again: a new coupon
    again = second["challenges_completed"][0]["bonus"]["reward"]
    redeemed = client.post(f"/api/v1/cards/{card['id']}/rewards/{again['id']}/redeem", json={},
                           headers={**bearer(seeded["cashier_token"]), "Idempotency-Key": str(uuid.uuid4())})
    assert redeemed.status_code == 201, redeemed.get_json()
    refused = reverse(client, seeded, second["id"])
    assert refused.status_code == 409 and refused.get_json()["type"] == "/problems/reversal-challenge-bonus"
    assert "Free cake" in refused.get_json()["detail"]


def test_a_bonus_reversed_by_hand_leaves_the_window_completed(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    make_challenge(client, seeded, target=1)
    card = issue(client, seeded)
    buy(client, seeded, card["id"])
    [bonus] = bonuses(app, card["id"])
    assert reverse(client, seeded, bonus.id).status_code == 201
    assert card_of(client, seeded, card["id"])["balance"] == 10
    [window] = windows(app, card["id"])
    assert window.completed_at is not None
    assert "challenges_completed" not in buy(client, seeded, card["id"]), "the fixed period was completed"


def test_a_challenges_bonus_stamps_are_no_visit_for_a_journey_or_another_challenge(
        app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    from service.loyalty.engine import is_visit
    from tests.service.journeys.journey_helpers import events, journey, keys

    program = client.post("/api/v1/programs", json={"name": "Stamps", "kind": "stamps", "stamps_required": 10},
                          headers=bearer(seeded["api_key"])).get_json()
    make_challenge(client, seeded, program_id=program["id"], target=1, bonus="stamps", bonus_amount=3)
    other = make_challenge(client, seeded, program_id=program["id"], name="Five visits", target=5,
                           bonus="stamps", bonus_amount=1)
    with app.app_context():
        second_visit = journey(db.session(), program["id"], "nth_visit", 2)
    card = issue(client, seeded, program_id=program["id"])
    done = ok(transact(client, seeded["cashier_token"], card["id"], {"type": "stamp"}))
    assert done["stamps"] == 4  # 1 stamp and the 3 of the first challenge's bonus
    with app.app_context():
        bonus = bonuses(app, card["id"])
        assert bonus and not is_visit(bonus[0].kind, bonus[0].idempotency_key)
        events(db.session())
        assert keys(db.session(), second_visit) == []  # one visit, not two
    progress = {row.challenge_id: row.count for row in windows(app, card["id"])}
    assert progress[other["id"]] == 1  # the bonus stamps did not move the other challenge
