"""Referrals: a card's personal join link; the referred card's first purchase rewards both, once."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import Card, LedgerEntry, Program, WebhookEvent
from service.platform import db
from tests.helpers import bearer
from tests.service.enrolment.test_join import join


def issue(client: FlaskClient, seeded: dict[str, Any], email: str) -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": email.split("@")[0], "email": email}})
    assert response.status_code == 201
    return response.get_json()


def purchase(client: FlaskClient, seeded: dict[str, Any], card_id: int, key: str, amount: str = "1.00") -> Any:
    response = client.post(f"/api/v1/cards/{card_id}/transactions",
                           headers={**bearer(seeded["cashier_token"]), "Idempotency-Key": key},
                           json={"type": "purchase", "amount": amount})
    assert response.status_code == 201, response.get_json()
    return response


def balance(client: FlaskClient, seeded: dict[str, Any], card_id: int) -> int:
    return client.get(f"/api/v1/cards/{card_id}", headers=bearer(seeded["api_key"])).get_json()["balance"]


def referred_card(client: FlaskClient, app: Flask, seeded: dict[str, Any]) -> tuple[int, int]:
    """Anna's card (the referrer), and Boris's, joined through Anna's personal link."""
    anna = issue(client, seeded, "anna@example.com")
    link = client.get(f"/api/v1/cards/{anna['id']}/referral", headers=bearer(seeded["api_key"])).get_json()
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/join/demo-coffee\?ref=[A-Z2-9]{8}", link["join_url"])
    path = link["join_url"].replace("http://127.0.0.1:8000", "")
    page = client.get(path).get_data(as_text=True)
    assert "A friend invited you: you both get 50 points" in page
    response = join(client, path=path, name="Boris", phone="+31600000002", ref=link["code"])
    assert response.status_code == 303
    with app.app_context():
        boris = db.session().scalar(select(Card).where(Card.referred_by_id == anna["id"]))
        assert boris is not None
        return anna["id"], boris.id


def test_first_purchase_rewards_both_once(client: FlaskClient, app: Flask, seeded: dict[str, Any]) -> None:
    anna, boris = referred_card(client, app, seeded)
    first = purchase(client, seeded, boris, "till-1")  # 1.00 EUR = 10 points
    assert first.get_json()["balance"] == 10  # the purchase's own answer is unchanged
    assert balance(client, seeded, boris) == 60 and balance(client, seeded, anna) == 50
    purchase(client, seeded, boris, "till-1")  # a retried purchase (replayed) gives nothing more
    purchase(client, seeded, boris, "till-2")  # nor does a second purchase
    assert balance(client, seeded, boris) == 70 and balance(client, seeded, anna) == 50
    with app.app_context():
        keys = set(db.session().scalars(select(LedgerEntry.idempotency_key)
                                        .where(LedgerEntry.idempotency_key.like("referral:%"))))
        assert keys == {f"referral:{boris}:referred", f"referral:{boris}:referrer"}
        events = db.session().scalars(select(WebhookEvent.type).where(WebhookEvent.type == "transaction.created"))
        assert len(list(events)) == 4  # two new purchases (the replay emits nothing) and two bonuses


def test_referrer_purchases_do_not_trigger_anything(client: FlaskClient, app: Flask, seeded: dict[str, Any]) -> None:
    anna, boris = referred_card(client, app, seeded)
    purchase(client, seeded, anna, "anna-1")
    assert balance(client, seeded, anna) == 10 and balance(client, seeded, boris) == 0


def test_no_bonus_when_referrals_are_off(client: FlaskClient, app: Flask, seeded: dict[str, Any]) -> None:
    anna, boris = referred_card(client, app, seeded)
    with app.app_context():
        db.session().get(Program, seeded["program_id"]).referral_points = 0
        db.session().commit()
    purchase(client, seeded, boris, "till-1")
    assert balance(client, seeded, boris) == 10 and balance(client, seeded, anna) == 0


def test_a_voided_referrer_gets_nothing_but_the_purchase_stands(client: FlaskClient, app: Flask,
                                                                seeded: dict[str, Any]) -> None:
    anna, boris = referred_card(client, app, seeded)
    with app.app_context():
        db.session().get(Card, anna).voided = True
        db.session().commit()
    purchase(client, seeded, boris, "till-1")
    assert balance(client, seeded, boris) == 60


def test_unknown_or_foreign_codes_refer_nobody(client: FlaskClient, app: Flask, seeded: dict[str, Any]) -> None:
    join(client, name="Carol", phone="+31600000003", ref="ZZZZZZZZ")
    join(client, name="Dave", phone="+31600000004", ref="<script>")
    with app.app_context():
        assert list(db.session().scalars(select(Card.referred_by_id))) == [None, None]


def test_enrolment_settings_api(client: FlaskClient, seeded: dict[str, Any]) -> None:
    url = f"/api/v1/programs/{seeded['program_id']}/enrolment"
    headers = bearer(seeded["api_key"])
    got = client.get(url, headers=headers).get_json()
    assert got["slug"] == "demo-coffee" and got["referral_points"] == 50
    assert got["poster_pdf_url"] == "http://127.0.0.1:8000/join/demo-coffee/poster.pdf"
    changed = client.patch(url, headers=headers, json={"slug": "coffee-club", "referral_points": 75})
    assert changed.status_code == 200 and changed.get_json()["join_url"].endswith("/join/coffee-club")
    assert client.get("/join/coffee-club").status_code == 200
    bad = client.patch(url, headers=headers, json={"slug": "12345"})
    assert bad.status_code == 422


def _reverse(client: FlaskClient, seeded: dict[str, Any], entry_id: int, key: str) -> Any:
    return client.post(f"/api/v1/transactions/{entry_id}/reverse", json={"reason": "wrong card"},
                       headers={**bearer(seeded["api_key"]), "Idempotency-Key": key})


def _ledger(app: Flask, card_id: int) -> list[tuple[str, int]]:
    with app.app_context():
        rows = db.session().scalars(select(LedgerEntry).where(LedgerEntry.card_id == card_id)
                                    .order_by(LedgerEntry.id))
        return [(row.kind, row.points) for row in rows]


def test_undoing_the_first_purchase_takes_both_bonuses_back_and_the_next_purchase_earns_them(
        client: FlaskClient, app: Flask, seeded: dict[str, Any]) -> None:
    anna, boris = referred_card(client, app, seeded)
    first = purchase(client, seeded, boris, "till-1").get_json()
    assert balance(client, seeded, boris) == 60 and balance(client, seeded, anna) == 50
    undone = _reverse(client, seeded, first["id"], "undo-1")
    assert undone.status_code == 201, undone.get_json()
    body = undone.get_json()
    assert body["balance"] == 0 and len(body["referral_bonuses_reversed"]) == 2
    assert balance(client, seeded, boris) == 0 and balance(client, seeded, anna) == 0
    assert _ledger(app, anna)[-2:] == [("earn", 50), ("reversal", -50)]
    with app.app_context():
        session = db.session()
        for card_id in (anna, boris):
            card = session.get(Card, card_id)
            assert card.lifetime_points == 0 and card.balance == sum(points for _, points in _ledger(app, card_id))
        reversed_types = [event.data.get("reversed_type") for event in session.scalars(
            select(WebhookEvent).where(WebhookEvent.type == "transaction.created"))]
        assert reversed_types.count("earn") == 2, "each bonus taken back is announced"
    assert _reverse(client, seeded, first["id"], "undo-1").get_json() == body, "a replay changes nothing"
    # The customer's real first purchase brings the bonuses again, once.
    again = purchase(client, seeded, boris, "till-2").get_json()
    assert balance(client, seeded, boris) == 60 and balance(client, seeded, anna) == 50
    assert again["id"] > first["id"]
    third = purchase(client, seeded, boris, "till-3").get_json()
    assert balance(client, seeded, boris) == 70 and balance(client, seeded, anna) == 50
    # Undoing a later purchase (not the one that brought them) leaves the bonuses alone.
    second = _reverse(client, seeded, third["id"], "undo-3")
    assert second.status_code == 201 and "referral_bonuses_reversed" not in second.get_json()
    assert balance(client, seeded, boris) == 60 and balance(client, seeded, anna) == 50


def test_undoing_the_first_purchase_is_refused_once_a_bonus_was_spent(
        client: FlaskClient, app: Flask, seeded: dict[str, Any]) -> None:
    anna, boris = referred_card(client, app, seeded)
    first = purchase(client, seeded, boris, "till-1").get_json()
    spent = client.post(f"/api/v1/cards/{anna}/transactions", json={"type": "redeem", "points": 30},
                        headers={**bearer(seeded["cashier_token"]), "Idempotency-Key": "anna-redeem"})
    assert spent.status_code == 201, spent.get_json()
    before = (_ledger(app, anna), _ledger(app, boris))
    refused = _reverse(client, seeded, first["id"], "undo-1")
    assert refused.status_code == 409 and refused.content_type == "application/problem+json"
    body = refused.get_json()
    assert body["type"].endswith("/problems/reversal-referral-bonus-spent")
    assert "referrer's bonus" in body["detail"] and "20 points left" in body["detail"]
    assert body["points"] == 50 and body["card_balance"] == 20
    assert (_ledger(app, anna), _ledger(app, boris)) == before, "nothing changed on either card"
    assert balance(client, seeded, boris) == 60 and balance(client, seeded, anna) == 20
