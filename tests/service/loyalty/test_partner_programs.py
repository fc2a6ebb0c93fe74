"""Partner (coalition) programs: a host admits a partner brand; the partner's counter earns and
redeems on the host's cards without seeing who holds them; the settlement sums to the ledger.

Brands: the demo brand hosts; "Tea House" is the partner (its own store, cashier and keys);
"Outsider Bakery" takes part in nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service import demo
from service.access import accounts
from service.loyalty import engine
from service.models import AuditEntry, Brand, Card, LedgerEntry, Store, utcnow
from service.platform import db
from tests.console_helpers import PASSWORD, as_role, sign_in
from tests.helpers import bearer

VALUE = "0.0500"


def _brand_with_counter(app: Flask, client: FlaskClient, name: str, slug: str) -> dict[str, Any]:
    """A brand made the usual way: its key, then its own store and cashier through its own API."""
    with app.app_context():
        session = db.session()
        brand = demo.create_brand(session, name, slug)
        key = demo.create_api_key(session, brand, "main")
        session.commit()
        brand_id = brand.id
    store = client.post("/api/v1/stores", headers=bearer(key), json={
        "name": f"{name} shop", "latitude": 52.0, "longitude": 4.0}).get_json()
    cashier = client.post("/api/v1/cashiers", headers=bearer(key), json={
        "name": f"{name} cashier", "store_id": store["id"]}).get_json()
    return {"brand_id": brand_id, "key": key, "store_id": store["id"], "cashier_token": cashier["token"]}


@pytest.fixture
def coalition(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> dict[str, Any]:
    partner = _brand_with_counter(app, client, "Tea House", "tea-house")
    outsider = _brand_with_counter(app, client, "Outsider Bakery", "outsider-bakery")
    host = bearer(seeded["api_key"])
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=host, json={
        "customer": {"name": "Anna Secret", "email": "anna.secret@example.com", "phone": "+31600000001",
                     "birthday": "1990-04-05"}}).get_json()
    return {"host": host, "partner": partner, "outsider": outsider, "card": card,
            "program_id": seeded["program_id"]}


def _post(client: FlaskClient, token: str, card_id: int, key: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/cards/{card_id}/transactions", headers={**bearer(token), "Idempotency-Key": key},
                       json=body)


def _scan(client: FlaskClient, token: str, code: str) -> Any:
    return client.post("/api/v1/cashier/scan", headers=bearer(token), json={"code": code})


def _admit(client: FlaskClient, coalition: dict[str, Any]) -> None:
    program_id, partner = coalition["program_id"], coalition["partner"]
    assert client.patch(f"/api/v1/programs/{program_id}/partner-settings", headers=coalition["host"],
                        json={"settlement_point_value": VALUE}).status_code == 200
    invited = client.post(f"/api/v1/programs/{program_id}/partners", headers=coalition["host"],
                          json={"brand_id": partner["brand_id"]})
    assert invited.status_code == 201 and invited.get_json()["status"] == "invited", invited.get_json()
    accepted = client.post(f"/api/v1/partnerships/{program_id}/accept", headers=bearer(partner["key"]))
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "active"


PII = ("Anna", "Secret", "anna.secret", "+31600000001", "1990-04-05")


def _no_pii(response: Any) -> None:
    text = response.get_data(as_text=True)
    assert not [word for word in PII if word in text], text


def test_no_brand_joins_a_program_without_its_host(client: FlaskClient, seeded: dict[str, Any],
                                                   coalition: dict[str, Any]) -> None:
    program_id, partner, outsider = coalition["program_id"], coalition["partner"], coalition["outsider"]
    p = bearer(partner["key"])
    # the partner cannot invite itself, accept uninvited, or change the host's value
    assert client.post(f"/api/v1/programs/{program_id}/partners", headers=p,
                       json={"brand_id": partner["brand_id"]}).status_code == 404
    assert client.post(f"/api/v1/partnerships/{program_id}/accept", headers=p).status_code == 404
    assert client.patch(f"/api/v1/programs/{program_id}/partner-settings", headers=p,
                        json={"settlement_point_value": "9"}).status_code == 404
    # the host needs a point value first, and cannot invite itself or a brand that does not exist
    refused = client.post(f"/api/v1/programs/{program_id}/partners", headers=coalition["host"],
                          json={"brand_id": partner["brand_id"]})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "settlement_point_value"
    client.patch(f"/api/v1/programs/{program_id}/partner-settings", headers=coalition["host"],
                 json={"settlement_point_value": VALUE})
    for brand_id in (seeded["brand_id"], 987654):
        assert client.post(f"/api/v1/programs/{program_id}/partners", headers=coalition["host"],
                           json={"brand_id": brand_id}).status_code == 422
    # a key without the `partners` permission cannot invite
    marketer_key = client.post("/api/v1/api-keys", headers=coalition["host"],
                               json={"name": "campaigns", "scope": "campaigns"}).get_json()["key"]
    assert client.post(f"/api/v1/programs/{program_id}/partners", headers=bearer(marketer_key),
                       json={"brand_id": partner["brand_id"]}).status_code == 403
    # invited but not accepted: the partner's counter still sees another brand's card
    client.post(f"/api/v1/programs/{program_id}/partners", headers=coalition["host"],
                json={"brand_id": partner["brand_id"]})
    scan = _scan(client, partner["cashier_token"], coalition["card"]["barcode_message"])
    assert scan.status_code == 403 and scan.get_json()["type"].endswith("/problems/foreign-card")
    # an outsider cannot accept the partner's invitation
    assert client.post(f"/api/v1/partnerships/{program_id}/accept",
                       headers=bearer(outsider["key"])).status_code == 404
    assert [row["status"] for row in client.get("/api/v1/partnerships", headers=p).get_json()] == ["invited"]
    assert client.get("/api/v1/partnerships", headers=bearer(outsider["key"])).get_json() == []


def test_partner_earns_and_redeems_across_brands_with_tenancy_intact(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], coalition: dict[str, Any]) -> None:
    _admit(client, coalition)
    partner, outsider, card = coalition["partner"], coalition["outsider"], coalition["card"]
    p, o = bearer(partner["key"]), bearer(outsider["key"])
    host_earn = _post(client, seeded["cashier_token"], card["id"], "host-1", {"type": "earn", "points": 300})
    assert host_earn.status_code == 201

    # before any scan the partner reaches the card by id no more than any other brand
    early = _post(client, partner["cashier_token"], card["id"], "tea-0", {"type": "earn", "points": 5})
    assert early.status_code == 404
    assert client.get(f"/api/v1/cards/{card['id']}", headers=bearer(partner["cashier_token"])).status_code == 404

    scan = _scan(client, partner["cashier_token"], card["barcode_message"])
    assert scan.status_code == 200, scan.get_json()
    seen = scan.get_json()
    assert seen["id"] == card["id"] and seen["balance"] == 300 and seen["customer"] is None
    assert seen["partner_card"] is True and seen["program"]["id"] == coalition["program_id"]
    assert seen["recent_transactions"] == []  # the host's entries are the host's business
    _no_pii(scan)

    earned = _post(client, partner["cashier_token"], card["id"], "tea-1", {"type": "purchase", "amount": "4.00"})
    assert earned.status_code == 201, earned.get_json()
    purchase_points = earned.get_json()["points"]
    assert purchase_points > 0 and earned.get_json()["store_id"] == partner["store_id"]
    redeemed = _post(client, partner["cashier_token"], card["id"], "tea-2", {"type": "redeem", "points": 120})
    assert redeemed.status_code == 201 and redeemed.get_json()["balance"] == 300 + purchase_points - 120
    _no_pii(earned)
    # the same key again is a replay; the host's key on the card is not the partner's to replay
    again = _post(client, partner["cashier_token"], card["id"], "tea-2", {"type": "redeem", "points": 120})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    stolen = _post(client, partner["cashier_token"], card["id"], "host-1", {"type": "earn", "points": 300})
    assert stolen.status_code == 422 and "balance" not in stolen.get_json()
    # overdrawing is refused as for any card
    assert _post(client, partner["cashier_token"], card["id"], "tea-3",
                 {"type": "redeem", "points": 100000}).status_code == 409

    with app.app_context():
        entries = db.session().execute(select(LedgerEntry.kind, LedgerEntry.points, LedgerEntry.store_id,
                                              LedgerEntry.partner_brand_id, LedgerEntry.cashier_id)
                                       .where(LedgerEntry.card_id == card["id"]).order_by(LedgerEntry.id)).all()
        partner_store_brand = db.session().get(Store, partner["store_id"]).brand_id
    assert [(kind, points, brand) for kind, points, _, brand, _ in entries] == [
        ("issue", 0, None), ("earn", 300, None), ("purchase", purchase_points, partner["brand_id"]),
        ("redeem", -120, partner["brand_id"])]
    assert {store for _, _, store, brand, _ in entries if brand} == {partner["store_id"]}
    assert partner_store_brand == partner["brand_id"]

    # the partner's counter and key see the card's figures, never the holder
    for credential in (partner["cashier_token"], partner["key"]):
        got = client.get(f"/api/v1/cards/{card['id']}", headers=bearer(credential))
        assert got.status_code == 200 and got.get_json()["customer"] is None, got.get_json()
        assert got.get_json()["balance"] == 300 + purchase_points - 120
        _no_pii(got)
        ledger = client.get(f"/api/v1/cards/{card['id']}/transactions", headers=bearer(credential))
        assert [row["type"] for row in ledger.get_json()] == ["redeem", "purchase"]
    # ... and none of the host's member operations
    card_url = f"/api/v1/cards/{card['id']}"
    for method, url in [("GET", f"{card_url}/diagnosis"), ("GET", f"{card_url}/devices"), ("PATCH", card_url),
                        ("POST", f"{card_url}/void"), ("GET", f"/api/v1/customers/{card['customer']['id']}/export")]:
        answer = client.open(url, method=method, headers=p, json={})
        assert answer.status_code in (404, 405), (method, url, answer.status_code)
        _no_pii(answer)
    # the partner's lists hold only its own customers' cards
    assert client.get("/api/v1/cards", headers=p).get_json() == []
    assert client.get("/api/v1/cards?email=anna.secret@example.com", headers=p).get_json() == []
    own = client.post("/api/v1/programs", headers=p, json={"name": "Tea Own Points"}).get_json()
    mine = client.post(f"/api/v1/programs/{own['id']}/cards", headers=p,
                       json={"customer": {"name": "Tom Tea", "email": "tom@example.com"}}).get_json()
    assert [row["id"] for row in client.get("/api/v1/cards", headers=p).get_json()] == [mine["id"]]
    # the host sees its customer, and none of the partner's own
    host_view = client.get(f"/api/v1/cards/{card['id']}", headers=coalition["host"]).get_json()
    assert host_view["customer"]["email"] == "anna.secret@example.com"
    assert client.get(f"/api/v1/cards/{mine['id']}", headers=coalition["host"]).status_code == 404
    assert mine["id"] not in [row["id"] for row in client.get("/api/v1/cards", headers=coalition["host"]).get_json()]

    # the host's other programs stay the host's: their cards are another brand's at the partner's counter
    other = client.post("/api/v1/programs", headers=coalition["host"], json={"name": "Demo Beans"}).get_json()
    other_card = client.post(f"/api/v1/programs/{other['id']}/cards", headers=coalition["host"],
                             json={"customer": {"name": "Olga"}}).get_json()
    refused = _scan(client, partner["cashier_token"], other_card["barcode_message"])
    assert refused.status_code == 403 and refused.get_json()["type"].endswith("/problems/foreign-card")
    _no_pii(refused)
    assert client.get(f"/api/v1/programs/{other['id']}/settlement?from=2020-01-01&to=2020-01-02",
                      headers=p).status_code == 404
    # a typed short number finds the partner's own cards only
    typed = _scan(client, partner["cashier_token"], card["number"])
    assert typed.status_code == 404

    # an outsider sees nothing of any of it
    outsider_scan = _scan(client, outsider["cashier_token"], card["barcode_message"])
    assert outsider_scan.status_code == 403
    for credential in (outsider["cashier_token"], outsider["key"]):
        assert client.get(f"/api/v1/cards/{card['id']}", headers=bearer(credential)).status_code == 404
        assert _post(client, credential, card["id"], "o-1", {"type": "earn", "points": 1}).status_code == 404
    for url in (f"/api/v1/programs/{coalition['program_id']}/settlement?from=2020-01-01&to=2020-01-02",
                f"/api/v1/programs/{coalition['program_id']}/partners",
                f"/api/v1/programs/{coalition['program_id']}/partner-settings"):
        assert client.get(url, headers=o).status_code == 404

    # the partner's webhooks and the host's both heard of the partner's transactions (no holder in them)
    with app.app_context():
        from service.models import WebhookEvent

        events = db.session().execute(select(WebhookEvent.brand_id, func.count()).where(
            WebhookEvent.type == "transaction.created").group_by(WebhookEvent.brand_id)).all()
    assert dict(events) == {seeded["brand_id"]: 3, partner["brand_id"]: 2}


def test_a_removed_partner_loses_the_cards_at_once(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                   coalition: dict[str, Any]) -> None:
    _admit(client, coalition)
    partner, card = coalition["partner"], coalition["card"]
    assert _scan(client, partner["cashier_token"], card["barcode_message"]).status_code == 200
    assert _post(client, partner["cashier_token"], card["id"], "t-1", {"type": "earn", "points": 40}).status_code == 201
    removed = client.delete(f"/api/v1/programs/{coalition['program_id']}/partners/{partner['brand_id']}",
                            headers=coalition["host"])
    assert removed.status_code == 204
    assert _scan(client, partner["cashier_token"], card["barcode_message"]).status_code == 403
    for credential in (partner["cashier_token"], partner["key"]):
        assert client.get(f"/api/v1/cards/{card['id']}", headers=bearer(credential)).status_code == 404
        assert _post(client, credential, card["id"], "t-2", {"type": "earn", "points": 1}).status_code == 404
    statuses = client.get(f"/api/v1/programs/{coalition['program_id']}/partners", headers=coalition["host"])
    assert [row["status"] for row in statuses.get_json()] == ["left"]
    # a former partner still reads the settlement of what it did (figures, no holder)
    today = utcnow().date().isoformat()
    figures = client.get(f"/api/v1/programs/{coalition['program_id']}/settlement?from={today}&to={today}",
                         headers=bearer(partner["key"]))
    assert figures.status_code == 200
    rows = {row["brand_id"]: row for row in figures.get_json()["brands"]}
    assert rows[partner["brand_id"]]["status"] == "left" and rows[partner["brand_id"]]["points_issued"] == 40
    # both audit logs say who did it; the host's names the partner brand, never the partner's key
    with app.app_context():
        logged = db.session().execute(select(AuditEntry.brand_id, AuditEntry.action, AuditEntry.actor_kind,
                                             AuditEntry.actor_label).order_by(AuditEntry.id)).all()
    partner_prefix = partner["key"].split("_")[1]
    assert [(brand, action, kind) for brand, action, kind, _ in logged if action.startswith("program.partner")] == [
        (seeded["brand_id"], "program.partner_invited", "api_key"),
        (partner["brand_id"], "program.partnership_accepted", "api_key"),
        (seeded["brand_id"], "program.partnership_accepted", "partner_brand"),
        (seeded["brand_id"], "program.partner_removed", "api_key")]
    assert not [label for brand, _, _, label in logged if brand == seeded["brand_id"] and partner_prefix in label]
    # a partner that leaves by itself loses them too, and cannot rejoin without a new invitation
    client.post(f"/api/v1/programs/{coalition['program_id']}/partners", headers=coalition["host"],
                json={"brand_id": partner["brand_id"]})
    assert client.post(f"/api/v1/partnerships/{coalition['program_id']}/accept",
                       headers=bearer(partner["key"])).status_code == 200
    assert _scan(client, partner["cashier_token"], card["barcode_message"]).status_code == 200
    assert client.delete(f"/api/v1/partnerships/{coalition['program_id']}",
                         headers=bearer(partner["key"])).status_code == 204
    assert _scan(client, partner["cashier_token"], card["barcode_message"]).status_code == 403
    assert client.post(f"/api/v1/partnerships/{coalition['program_id']}/accept",
                       headers=bearer(partner["key"])).status_code == 404
    # invited anew, not accepted yet: it still reads the figures of the time it took part
    again = client.post(f"/api/v1/programs/{coalition['program_id']}/partners", headers=coalition["host"],
                        json={"brand_id": partner["brand_id"]})
    assert again.status_code == 201 and again.get_json()["status"] == "invited"
    assert client.get(f"/api/v1/programs/{coalition['program_id']}/settlement?from={today}&to={today}",
                      headers=bearer(partner["key"])).status_code == 200
    assert client.get(f"/api/v1/programs/{coalition['program_id']}/settlement?from={today}&to={today}",
                      headers=bearer(coalition["outsider"]["key"])).status_code in (403, 404)


def test_the_settlement_sums_to_the_ledger(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                           coalition: dict[str, Any]) -> None:
    _admit(client, coalition)
    partner, host = coalition["partner"], coalition["host"]
    program_id = coalition["program_id"]
    cards = [coalition["card"]] + [client.post(f"/api/v1/programs/{program_id}/cards", headers=host, json={
        "customer": {"name": f"Member {n}"}}).get_json() for n in range(2)]
    for n, card in enumerate(cards):
        assert _post(client, seeded["cashier_token"], card["id"], f"h-{n}",
                     {"type": "earn", "points": 200 + n}).status_code == 201
        assert _scan(client, partner["cashier_token"], card["barcode_message"]).status_code == 200
        assert _post(client, partner["cashier_token"], card["id"], f"p-{n}",
                     {"type": "purchase", "amount": f"{3 + n}.35"}).status_code == 201
        assert _post(client, partner["cashier_token"], card["id"], f"r-{n}",
                     {"type": "redeem", "points": 150 + 7 * n}).status_code == 201
    # the host redeems too, through its API with a store, and takes points back by hand
    assert client.post(f"/api/v1/cards/{cards[0]['id']}/transactions", headers={**host, "Idempotency-Key": "h-r"},
                       json={"type": "redeem", "points": 10, "store_id": seeded["store_ids"][1]}).status_code == 201
    # points expire: the program's points live one day, and the job runs three days on
    assert client.patch(f"/api/v1/programs/{program_id}", headers=host,
                        json={"points_expire_days": 1}).status_code == 200
    later = utcnow() + dt.timedelta(days=3)
    with app.app_context():
        run = engine.expire_points(db.session(), later)
    assert run.points > 0
    # an entry of the day after the period is not counted in it
    today = utcnow().date()
    start, end = today.isoformat(), (later.date() - dt.timedelta(days=1)).isoformat()

    answer = client.get(f"/api/v1/programs/{program_id}/settlement?from={start}&to={end}", headers=host)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    with app.app_context():
        session = db.session()
        rows = session.execute(select(LedgerEntry.points, LedgerEntry.kind, LedgerEntry.partner_brand_id)
                               .join(Card, Card.id == LedgerEntry.card_id)
                               .where(Card.program_id == program_id, LedgerEntry.created_at < later.replace(
                                   hour=0, minute=0, second=0, microsecond=0))).all()
        balances = session.scalar(select(func.sum(Card.balance)).where(Card.program_id == program_id))
    assert all(kind != "expire" for _, kind, _ in rows)  # the expiry (day 3) is outside this period
    by_brand = {row["brand_id"]: row for row in body["brands"]}
    host_rows = [(points, kind) for points, kind, brand in rows if brand is None]
    partner_rows = [(points, kind) for points, kind, brand in rows if brand == partner["brand_id"]]
    assert by_brand[seeded["brand_id"]]["points_issued"] == sum(p for p, _ in host_rows if p > 0) == 603
    assert by_brand[seeded["brand_id"]]["points_redeemed"] == 10
    assert by_brand[partner["brand_id"]]["points_issued"] == sum(p for p, _ in partner_rows if p > 0) > 0
    assert by_brand[partner["brand_id"]]["points_redeemed"] == 150 + 157 + 164
    totals = body["totals"]
    assert totals["ledger_points"] == sum(p for p, _, _ in rows)
    assert totals["points_issued"] - totals["points_redeemed"] - totals["points_expired"] == totals["ledger_points"]
    assert sum(row["points_issued"] for row in body["brands"]) == totals["points_issued"]
    assert sum(row["points_redeemed"] for row in body["brands"]) == totals["points_redeemed"]

    # money: each net is (issued - redeemed) x value, the partner settles with the host, the pool is the rest
    value = Decimal(VALUE)
    assert body["point_value"] == VALUE
    for row in body["brands"]:
        assert Decimal(row["value_issued"]) == (row["points_issued"] * value).quantize(Decimal("0.01"))
        assert Decimal(row["net_value"]) == Decimal(row["value_issued"]) - Decimal(row["value_redeemed"])
    partner_net = Decimal(by_brand[partner["brand_id"]]["net_value"])
    assert partner_net < 0  # it redeemed more than it issued: the host pays it
    assert body["transfers"] == [{"from_brand_id": seeded["brand_id"], "from": "Demo Coffee",
                                  "to_brand_id": partner["brand_id"], "to": "Tea House",
                                  "amount": format(-partner_net, "f")}]
    assert Decimal(totals["pool_value"]) == sum(Decimal(row["net_value"]) for row in body["brands"])

    # the partner reads the same figures; nothing in them names a holder
    theirs = client.get(f"/api/v1/programs/{program_id}/settlement?from={start}&to={end}",
                        headers=bearer(partner["key"]))
    assert theirs.get_json() == body
    _no_pii(theirs)

    # a period including the expiry: the expired points are the host's, and the whole ledger is counted
    whole = client.get(f"/api/v1/programs/{program_id}/settlement?from={start}&to={later.date().isoformat()}",
                       headers=host).get_json()
    assert whole["totals"]["points_expired"] == run.points
    assert {row["brand_id"]: row["points_expired"] for row in whole["brands"]} == {
        seeded["brand_id"]: run.points, partner["brand_id"]: 0}
    assert whole["totals"]["ledger_points"] == balances - 0 == (
        whole["totals"]["points_issued"] - whole["totals"]["points_redeemed"] - run.points)

    # CSV: the same rows (?format=csv or Accept: text/csv)
    for response in (client.get(f"/api/v1/programs/{program_id}/settlement?from={start}&to={end}&format=csv",
                                headers=host),
                     client.get(f"/api/v1/programs/{program_id}/settlement?from={start}&to={end}",
                                headers={**host, "Accept": "text/csv"})):
        assert response.status_code == 200 and response.mimetype == "text/csv"
        table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert table[0][:5] == ["brand_id", "brand", "role", "status", "points_issued"]
        assert [(int(row[0]), int(row[4]), int(row[5]), row[10]) for row in table[1:3]] == [
            (row["brand_id"], row["points_issued"], row["points_redeemed"], row["net_value"])
            for row in body["brands"]]
        assert table[3][1] == "total" and int(table[3][4]) == totals["points_issued"]
        assert table[4] == ["transfer", "Demo Coffee", "Tea House", format(-partner_net, "f"), "EUR"]

    # periods are checked
    assert client.get(f"/api/v1/programs/{program_id}/settlement?from={end}&to={start}",
                      headers=host).status_code == 422
    assert client.get(f"/api/v1/programs/{program_id}/settlement?from=2020-01-01&to=2022-01-01",
                      headers=host).status_code == 422
    assert client.get(f"/api/v1/programs/{program_id}/settlement", headers=host).status_code == 422


def test_only_points_and_cashback_programs_take_partners(client: FlaskClient, coalition: dict[str, Any]) -> None:
    host = coalition["host"]
    stamps = client.post("/api/v1/programs", headers=host, json={
        "name": "Coffee stamps", "kind": "stamps", "stamps_required": 10}).get_json()
    client.patch(f"/api/v1/programs/{stamps['id']}/partner-settings", headers=host,
                 json={"settlement_point_value": "0.5"})
    refused = client.post(f"/api/v1/programs/{stamps['id']}/partners", headers=host,
                          json={"brand_id": coalition["partner"]["brand_id"]})
    assert refused.status_code == 422 and refused.content_type == "application/problem+json"
    [error] = refused.get_json()["errors"]
    assert error["field"] == "program" and "A stamps program cannot have partners" in error["message"]
    assert "stamp cards have no points to settle" in error["message"]
    assert "stamp-card coalitions are not supported" in error["message"]
    cashback = client.post("/api/v1/programs", headers=host, json={
        "name": "Cash back", "kind": "cashback", "cashback_percent": "2"}).get_json()
    settings = client.get(f"/api/v1/programs/{cashback['id']}/partner-settings", headers=host).get_json()
    assert settings["settlement_point_value"] is None and settings["point_value"] == "0.01"
    assert client.post(f"/api/v1/programs/{cashback['id']}/partners", headers=host,
                       json={"brand_id": coalition["partner"]["brand_id"]}).status_code == 201
    # a shared program (invited is enough) cannot turn into stamp or discount cards under its partners
    for kind, extra in (("stamps", {"stamps_required": 10}), ("discount", {"discount_percent": "5"})):
        changed = client.patch(f"/api/v1/programs/{cashback['id']}", headers=host, json={"kind": kind, **extra})
        assert changed.status_code == 409, changed.get_json()
        body = changed.get_json()
        assert body["type"].endswith("/problems/program-has-partners")
        assert body["partner_brand_ids"] == [coalition["partner"]["brand_id"]]
        assert "End the partnerships first" in body["detail"]
    assert client.get(f"/api/v1/programs/{cashback['id']}", headers=host).get_json()["kind"] == "cashback"
    assert client.patch(f"/api/v1/programs/{cashback['id']}", headers=host,
                        json={"kind": "points"}).status_code == 200, "points partners can still share"



def test_the_console_page_shows_partners_invitations_and_the_settlement(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], coalition: dict[str, Any]) -> None:
    """/console/partners (the owner): the host's partners and settlement, the partner's invitation;
    the changes are the brand API's, called with the console session."""
    _admit(client, coalition)
    partner, card = coalition["partner"], coalition["card"]
    _scan(client, partner["cashier_token"], card["barcode_message"])
    assert _post(client, seeded["cashier_token"], card["id"], "h", {"type": "earn", "points": 100}).status_code == 201
    assert _post(client, partner["cashier_token"], card["id"], "p", {"type": "redeem", "points": 60}).status_code == 201
    owner = as_role(app, "owner", email="second-owner@demo.example")
    today = utcnow().date().isoformat()
    page = owner.get(f"/console/partners?from={today}&to={today}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Tea House" in html and 'data-status="active"' in html and f"/partners/{partner['brand_id']}" in html
    assert "Demo Coffee pays Tea House 3.00 EUR" in html  # (0 - 60) x 0.05: the host pays the partner
    assert f"/settlement?from={today}&amp;to={today}&amp;format=csv" in html
    russian = owner.get(f"/console/partners?lang=ru&from={today}&to={today}").get_data(as_text=True)
    assert "Партнёрские программы" in russian and "Demo Coffee платит Tea House 3.00 EUR" in russian
    # the partner's owner sees the invitation side and the same settlement, no holder
    with app.app_context():
        session = db.session()
        accounts.create_account(session, session.get(Brand, partner["brand_id"]), "owner@tea.example", PASSWORD,
                                "owner", None)
        session.commit()
    partner_owner = app.test_client()
    assert sign_in(partner_owner, "owner@tea.example").status_code == 302
    theirs = partner_owner.get(f"/console/partners?from={today}&to={today}").get_data(as_text=True)
    assert 'id="partnerships"' in theirs and f'id="leave-{coalition["program_id"]}"' in theirs
    assert "Demo Coffee pays Tea House 3.00 EUR" in theirs and "Anna" not in theirs
    # the page is the owner's: a marketer is refused it
    assert as_role(app, "marketer").get("/console/partners").status_code == 403


def test_a_partner_undoes_its_own_transaction_and_the_settlement_nets_it(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], coalition: dict[str, Any]) -> None:
    """The brand that posted a transaction reverses it; its reversal counts for it, against what it undid."""
    _admit(client, coalition)
    partner, host, card = coalition["partner"], coalition["host"], coalition["card"]
    earned = _post(client, seeded["cashier_token"], card["id"], "h-earn", {"type": "earn", "points": 1000})
    assert earned.status_code == 201
    assert _scan(client, partner["cashier_token"], card["barcode_message"]).status_code == 200
    redeemed = _post(client, partner["cashier_token"], card["id"], "p-redeem", {"type": "redeem", "points": 500})
    assert redeemed.status_code == 201
    entry_id = redeemed.get_json()["id"]

    by_host = client.post(f"/api/v1/transactions/{entry_id}/reverse", headers={**host, "Idempotency-Key": "h-undo"},
                          json={})
    assert by_host.status_code == 403 and by_host.get_json()["type"].endswith("/problems/reversal-partner-entry")
    assert by_host.get_json()["partner_brand_id"] == partner["brand_id"]
    outsider = client.post(f"/api/v1/transactions/{entry_id}/reverse",
                           headers={**bearer(coalition["outsider"]["key"]), "Idempotency-Key": "o-undo"}, json={})
    assert outsider.status_code == 404
    by_partner = client.post(f"/api/v1/transactions/{entry_id}/reverse",
                             headers={**bearer(partner["cashier_token"]), "Idempotency-Key": "p-undo"}, json={})
    assert by_partner.status_code == 201, by_partner.get_json()
    assert by_partner.get_json()["balance"] == 1000
    with app.app_context():
        undo = db.session().scalar(select(LedgerEntry).where(LedgerEntry.reversed_entry_id == entry_id))
        assert undo is not None and undo.partner_brand_id == partner["brand_id"]

    today = utcnow().date().isoformat()
    body = client.get(f"/api/v1/programs/{coalition['program_id']}/settlement?from={today}&to={today}",
                      headers=host).get_json()
    by_brand = {row["brand_id"]: row for row in body["brands"]}
    assert (by_brand[partner["brand_id"]]["points_issued"], by_brand[partner["brand_id"]]["points_redeemed"]) == (0, 0)
    assert (by_brand[seeded["brand_id"]]["points_issued"], by_brand[seeded["brand_id"]]["points_redeemed"]) == (1000, 0)
    assert body["transfers"] == []
    totals = body["totals"]
    net = totals["points_issued"] - totals["points_redeemed"] - totals["points_expired"]
    assert net == totals["ledger_points"] == 1000


def test_a_partner_meets_the_hosts_limits_with_its_key_as_at_its_till(
        client: FlaskClient, seeded: dict[str, Any], coalition: dict[str, Any]) -> None:
    _admit(client, coalition)
    partner, card = coalition["partner"], coalition["card"]
    assert client.patch(f"/api/v1/programs/{coalition['program_id']}", headers=coalition["host"],
                        json={"per_transaction_cap": 10}).status_code == 200
    assert _scan(client, partner["cashier_token"], card["barcode_message"]).status_code == 200
    for token, key in ((partner["cashier_token"], "till"), (partner["key"], "api")):
        refused = _post(client, token, card["id"], f"big-{key}", {"type": "earn", "points": 500, "reason": "bonus"})
        assert refused.status_code == 422, (key, refused.get_json())
        assert refused.get_json()["type"].endswith("/problems/limit/per-transaction-cap")
    assert _post(client, partner["key"], card["id"], "small", {"type": "earn", "points": 10,
                                                               "reason": "bonus"}).status_code == 201


def test_a_partners_scan_shows_none_of_the_hosts_rewards(client: FlaskClient, seeded: dict[str, Any],
                                                          coalition: dict[str, Any]) -> None:
    """A birthday coupon, granted on the day, would tell the partner the holder's birthday."""
    _admit(client, coalition)
    card = coalition["card"]
    granted = client.post(f"/api/v1/cards/{card['id']}/coupons", headers={**coalition["host"], "Idempotency-Key": "b"},
                          json={"name": "Birthday cake", "origin": "birthday"})
    assert granted.status_code == 201, granted.get_json()
    host_view = _scan(client, seeded["cashier_token"], card["barcode_message"]).get_json()
    assert [reward["origin"] for reward in host_view["rewards"]] == ["birthday"]
    scanned = _scan(client, coalition["partner"]["cashier_token"], card["barcode_message"])
    view = scanned.get_json()
    assert (view["rewards"], view["rewards_for_points"], view["stamp_rewards"]) == (None, None, None)
    assert "birthday" not in scanned.get_data(as_text=True)
    _no_pii(scanned)
