"""Tenancy: one brand's key never sees or touches another brand's anything.

Every operation of the OpenAPI description that takes an id is called with brand A's key and
brand B's ids: the answer is 404 (never 200, never a 403 that would confirm the id exists),
and brand B's data is unchanged afterwards. Lists never show B's rows.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from service import demo
from service.models import (
    ApiKey,
    Card,
    Customer,
    LedgerEntry,
    Program,
    Store,
    Tier,
    WebhookDelivery,
    WebhookEndpoint,
)
from service.platform import db
from service.platform.config import Settings
from service.webhooks import events as webhooks
from tests.helpers import bearer

# Bodies for operations whose OpenAPI entry has no example (or needs something else).
FALLBACK_BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/v1/programs/{program_id}/cards"): {"customer": {"name": "Mallory", "email": "m@example.com"}},
    ("post", "/api/v1/cards/{card_id}/transactions"): {"type": "earn", "points": 5},
}
# Operations of this module's area: the answer must be exactly 404.
MINE = re.compile(r"^/api/v1/(programs|cards|stores|api-keys|webhooks|webhook-deliveries)\b")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, webhook_allow_private_urls=True)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def other_brand(app: Flask, client: FlaskClient, seeded: dict[str, Any], receiver_url: str) -> dict[str, Any]:
    """Brand B with one of everything, made through the API with B's own key."""
    with app.app_context():
        session = db.session()
        brand = demo.create_brand(session, "Other Tea", "other-tea")
        key_b = demo.create_api_key(session, brand, "b")
        session.commit()
        brand_id = brand.id
    b = bearer(key_b)
    program = client.post("/api/v1/programs", headers=b, json={"name": "Tea Points"}).get_json()
    store = client.post("/api/v1/stores", headers=b, json={"name": "Tea Shop", "latitude": 1.0,
                                                           "longitude": 2.0}).get_json()
    tier = client.post(f"/api/v1/programs/{program['id']}/tiers", headers=b,
                       json={"name": "Jade", "threshold": "100"}).get_json()
    card = client.post(f"/api/v1/programs/{program['id']}/cards", headers=b,
                       json={"customer": {"name": "Bea", "email": "bea@example.com"}}).get_json()
    second_key = client.post("/api/v1/api-keys", headers=b, json={"name": "b2"}).get_json()
    endpoint = client.post("/api/v1/webhooks", headers=b, json={"url": receiver_url, "events": ["*"]}).get_json()
    client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**b, "Idempotency-Key": "b-1"},
                json={"type": "earn", "points": 10})
    with app.app_context():
        delivery_id = db.session().scalar(select(func.max(WebhookDelivery.id)).where(
            WebhookDelivery.brand_id == brand_id))
    assert delivery_id is not None
    return {"brand_id": brand_id, "key": key_b, "program_id": program["id"], "store_id": store["id"],
            "tier_id": tier["id"], "card_id": card["id"], "key_id": second_key["id"],
            "endpoint_id": endpoint["id"], "delivery_id": delivery_id, "kind": "logo"}


@pytest.fixture
def receiver_url() -> str:
    return "http://127.0.0.1:9/unreachable"  # deliveries fail and stay "retry": that is fine here


def snapshot(app: Flask, brand_id: int) -> dict[str, Any]:
    """Everything of brand B that an API call could change."""
    with app.app_context():
        session = db.session()

        def rows(model: Any, *columns: Any, where: Any) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in session.execute(select(*columns).where(where).order_by(columns[0]))]

        return {
            "programs": rows(Program, Program.id, Program.name, Program.points_per_unit, Program.logo_png,
                             Program.certificate_id, where=Program.brand_id == brand_id),
            "stores": rows(Store, Store.id, Store.name, Store.relevant_text, where=Store.brand_id == brand_id),
            "tiers": rows(Tier, Tier.id, Tier.name, Tier.threshold,
                          where=Tier.program_id.in_(select(Program.id).where(Program.brand_id == brand_id))),
            "cards": rows(Card, Card.id, Card.balance, Card.voided, Card.version, where=Card.brand_id == brand_id),
            "customers": rows(Customer, Customer.id, Customer.name, Customer.email,
                              where=Customer.brand_id == brand_id),
            "ledger": rows(LedgerEntry, LedgerEntry.id, where=LedgerEntry.card_id.in_(
                select(Card.id).where(Card.brand_id == brand_id))),
            "keys": rows(ApiKey, ApiKey.id, ApiKey.revoked_at, where=ApiKey.brand_id == brand_id),
            "endpoints": rows(WebhookEndpoint, WebhookEndpoint.id, WebhookEndpoint.secret, WebhookEndpoint.events,
                              WebhookEndpoint.active, where=WebhookEndpoint.brand_id == brand_id),
            "deliveries": rows(WebhookDelivery, WebhookDelivery.id, WebhookDelivery.attempts,
                               WebhookDelivery.status, where=WebhookDelivery.brand_id == brand_id),
        }


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in spec["paths"].items():
        if "{" not in path:
            continue
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method, path, operation))
    return found


def example_body(method: str, path: str, operation: dict[str, Any]) -> tuple[Any, bool]:
    """The body to send, and whether it is a valid one (an example); else validation may answer 422 first."""
    if (method, path) in FALLBACK_BODIES:
        return FALLBACK_BODIES[(method, path)], True
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if not content:
        return None, True
    return content.get("example", {}), "example" in content


def test_every_id_of_another_brand_is_404(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                          other_brand: dict[str, Any]) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    before = snapshot(app, other_brand["brand_id"])
    assert before["cards"] and before["deliveries"] and before["tiers"]
    tried, unknown = [], []
    for credential in (seeded["api_key"], seeded["cashier_token"]):
        for method, path, operation in operations(spec):
            names = re.findall(r"{(\w+)}", path)
            if any(name not in other_brand for name in names):
                unknown.append(path)
                continue
            url = path.format(**{name: other_brand[name] for name in names})
            required = {p["name"]: p.get("example", p.get("schema", {}).get("example"))
                        for p in operation.get("parameters", []) if p.get("in") == "query" and p.get("required")}
            if required:  # a valid request carries its required query (its examples), else 422 comes first
                url += "?" + "&".join(f"{name}={value}" for name, value in required.items())
            headers = {**bearer(credential), "Idempotency-Key": "tenancy-1"}
            valid = True
            if path.endswith("/images/{kind}") and method == "put":
                response = client.put(url, headers=headers, data=png(), content_type="image/png")
            elif path.endswith("/certificate"):
                response = client.post(url, headers=headers, data={
                    "certificate": (io.BytesIO(b"x"), "c.p12"), "wwdr": (io.BytesIO(b"x"), "w.cer")})
            else:
                body, valid = example_body(method, path, operation)
                response = client.open(url, method=method.upper(), headers=headers,
                                       data=None if body is None else json.dumps(body),
                                       content_type="application/json")
            tried.append((method, path))
            status = response.status_code
            assert status not in (200, 201, 202, 204, 403), (credential[:3], method, url, status, response.data)
            if credential == seeded["api_key"] and MINE.match(path) and valid:
                assert status == 404, (method, url, status, response.get_json())
            if status >= 400:
                assert response.headers["Content-Type"] == "application/problem+json", (method, url)
    assert len(tried) >= 2 * 25
    assert snapshot(app, other_brand["brand_id"]) == before


def test_lists_and_filters_never_show_another_brand(client: FlaskClient, seeded: dict[str, Any],
                                                    other_brand: dict[str, Any]) -> None:
    a = bearer(seeded["api_key"])
    b = bearer(other_brand["key"])
    client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=a, json={"customer": {"name": "Al"}})
    for url, field, b_id in [
        ("/api/v1/cards", "id", other_brand["card_id"]),
        ("/api/v1/cards?email=bea@example.com", "id", other_brand["card_id"]),
        (f"/api/v1/cards?program_id={other_brand['program_id']}", "id", other_brand["card_id"]),
        ("/api/v1/stores", "id", other_brand["store_id"]),
        ("/api/v1/programs", "id", other_brand["program_id"]),
        ("/api/v1/api-keys", "id", other_brand["key_id"]),
        ("/api/v1/webhooks", "id", other_brand["endpoint_id"]),
        ("/api/v1/webhook-deliveries", "id", other_brand["delivery_id"]),
    ]:
        mine = client.get(url, headers=a)
        assert mine.status_code == 200, url
        assert b_id not in [row[field] for row in mine.get_json()], url
        theirs = client.get(url.split("?")[0], headers=b).get_json()
        assert b_id in [row[field] for row in theirs], url
    assert client.get("/api/v1/cards?email=bea@example.com", headers=a).get_json() == []


def test_ids_in_bodies_are_checked_too(client: FlaskClient, seeded: dict[str, Any],
                                       other_brand: dict[str, Any]) -> None:
    """Another brand's store as home store or transaction store is refused without saying it exists."""
    a = bearer(seeded["api_key"])
    issued = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=a, json={
        "customer": {"name": "Al", "home_store_id": other_brand["store_id"]}})
    assert issued.status_code == 422
    card = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=a,
                       json={"customer": {"name": "Al"}}).get_json()
    patched = client.patch(f"/api/v1/cards/{card['id']}", headers=a, json={"home_store_id": other_brand["store_id"]})
    assert patched.status_code == 422
    posted = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={**a, "Idempotency-Key": "x"},
                         json={"type": "earn", "points": 1, "store_id": other_brand["store_id"]})
    assert posted.status_code == 422
    # The same answers as for an id that does not exist at all.
    missing = client.patch(f"/api/v1/cards/{card['id']}", headers=a, json={"home_store_id": 987654})
    assert missing.get_json()["errors"] == patched.get_json()["errors"]


def test_webhook_events_go_only_to_their_brand(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                               other_brand: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        webhooks.emit(session, seeded["brand_id"], "card.issued", {"card_id": 1})
        session.commit()
        deliveries = session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == other_brand["endpoint_id"])).all()
        assert all(d.brand_id == other_brand["brand_id"] for d in deliveries)
        assert all(d.event.brand_id == other_brand["brand_id"] for d in deliveries)


# -- partner programs: brand A takes part in brand B's program ---------------------------------------

#: What a partner reaches of the host's ids once its counter scanned the host's card: the card's
#: figures and ledger (its own entries), transactions on it, and the program's partner figures.
PARTNER_REACHES = {
    ("get", "/api/v1/cards/{card_id}"), ("get", "/api/v1/cards/{card_id}/transactions"),
    ("post", "/api/v1/cards/{card_id}/transactions"),
    ("get", "/api/v1/programs/{program_id}/partners"), ("get", "/api/v1/programs/{program_id}/partner-settings"),
    ("get", "/api/v1/programs/{program_id}/settlement"),
}


def _partner_of(client: FlaskClient, seeded: dict[str, Any], other_brand: dict[str, Any]) -> dict[str, Any]:
    """B admits A to its program, A accepts, and A's cashier scans B's card."""
    b, program_id = bearer(other_brand["key"]), other_brand["program_id"]
    assert client.patch(f"/api/v1/programs/{program_id}/partner-settings", headers=b,
                        json={"settlement_point_value": "0.01"}).status_code == 200
    assert client.post(f"/api/v1/programs/{program_id}/partners", headers=b,
                       json={"brand_id": seeded["brand_id"]}).status_code == 201
    assert client.post(f"/api/v1/partnerships/{program_id}/accept",
                       headers=bearer(seeded["api_key"])).status_code == 200
    code = client.get(f"/api/v1/cards/{other_brand['card_id']}", headers=b).get_json()["barcode_message"]
    scan = client.post("/api/v1/cashier/scan", headers=bearer(seeded["cashier_token"]), json={"code": code})
    assert scan.status_code == 200 and scan.get_json()["customer"] is None
    return {"code": code}


def test_a_partner_reaches_only_the_counters_view_of_the_hosts_card(
        app: Flask, client: FlaskClient, seeded: dict[str, Any], other_brand: dict[str, Any]) -> None:
    """Every operation with the host's ids, called with the partner's key and cashier token: only the
    counter's view of the scanned card, transactions on it and the program's partner figures answer;
    nothing answers the holder's name or contact; nothing of the host changes but the partner's own
    ledger entries."""
    _partner_of(client, seeded, other_brand)
    spec = client.get("/api/v1/openapi.json").get_json()
    before = snapshot(app, other_brand["brand_id"])
    answered = set()
    for credential in (seeded["api_key"], seeded["cashier_token"]):
        for method, path, operation in operations(spec):
            names = re.findall(r"{(\w+)}", path)
            if path.startswith("/api/v1/partnerships") or any(name not in other_brand for name in names):
                continue  # the partner's own side of the partnership is its own business
            url = path.format(**{name: other_brand[name] for name in names})
            required = {p["name"]: p.get("example", p.get("schema", {}).get("example"))
                        for p in operation.get("parameters", []) if p.get("in") == "query" and p.get("required")}
            if required:
                url += "?" + "&".join(f"{name}={value}" for name, value in required.items())
            headers = {**bearer(credential), "Idempotency-Key": f"partner-{method}"}
            if path.endswith("/images/{kind}") and method == "put":
                response = client.put(url, headers=headers, data=png(), content_type="image/png")
            elif path.endswith("/certificate"):
                response = client.post(url, headers=headers, data={
                    "certificate": (io.BytesIO(b"x"), "c.p12"), "wwdr": (io.BytesIO(b"x"), "w.cer")})
            else:
                body, _ = example_body(method, path, operation)
                response = client.open(url, method=method.upper(), headers=headers,
                                       data=None if body is None else json.dumps(body),
                                       content_type="application/json")
            text = response.get_data(as_text=True)
            assert "Bea" not in text and "bea@example.com" not in text, (method, url, text)
            if response.status_code in (200, 201, 202, 204):
                answered.add((method, path))
                assert (method, path) in PARTNER_REACHES, (credential[:3], method, url, response.status_code)
            else:
                assert response.status_code != 403, (method, url)
    # the key and the cashier both read the card and post on it; only the key reads the partner figures
    assert {("get", "/api/v1/cards/{card_id}"), ("post", "/api/v1/cards/{card_id}/transactions"),
            ("get", "/api/v1/programs/{program_id}/settlement")} <= answered
    after = snapshot(app, other_brand["brand_id"])
    for name in ("ledger", "cards", "deliveries"):  # the partner's transactions, and B's webhook hearing of them
        before.pop(name), after.pop(name)
    assert after == before
    with app.app_context():
        added = db.session().execute(select(LedgerEntry.partner_brand_id, LedgerEntry.store_id).where(
            LedgerEntry.card_id == other_brand["card_id"], LedgerEntry.idempotency_key.like("partner-%"))).all()
    assert added and {brand for brand, _ in added} == {seeded["brand_id"]}


def test_a_partner_lists_only_its_own_and_a_removed_partner_sees_nothing(
        client: FlaskClient, seeded: dict[str, Any], other_brand: dict[str, Any]) -> None:
    _partner_of(client, seeded, other_brand)
    a, b = bearer(seeded["api_key"]), bearer(other_brand["key"])
    for url, b_id in [("/api/v1/cards", other_brand["card_id"]),
                      ("/api/v1/cards?email=bea@example.com", other_brand["card_id"]),
                      (f"/api/v1/cards?program_id={other_brand['program_id']}", other_brand["card_id"]),
                      ("/api/v1/stores", other_brand["store_id"]), ("/api/v1/programs", other_brand["program_id"]),
                      ("/api/v1/api-keys", other_brand["key_id"]), ("/api/v1/webhooks", other_brand["endpoint_id"])]:
        listed = client.get(url, headers=a)
        assert listed.status_code == 200, url
        assert "Bea" not in listed.get_data(as_text=True) and "Tea Shop" not in listed.get_data(as_text=True), url
        assert b_id not in [row["id"] for row in listed.get_json()], url
    # B's other program is not shared: a card of it is another brand's at A's counter
    other = client.post("/api/v1/programs", headers=b, json={"name": "Tea Leaves"}).get_json()
    card = client.post(f"/api/v1/programs/{other['id']}/cards", headers=b,
                       json={"customer": {"name": "Bo"}}).get_json()
    scan = client.post("/api/v1/cashier/scan", headers=bearer(seeded["cashier_token"]),
                       json={"code": card["barcode_message"]})
    assert scan.status_code == 403 and "Bo" not in scan.get_data(as_text=True)
    assert client.get(f"/api/v1/cards/{card['id']}", headers=bearer(seeded["cashier_token"])).status_code == 404
    # removed: the card that answered a moment ago is as missing as any other brand's
    card_url = f"/api/v1/cards/{other_brand['card_id']}"
    assert client.get(card_url, headers=a).status_code == 200
    assert client.delete(f"/api/v1/programs/{other_brand['program_id']}/partners/{seeded['brand_id']}",
                         headers=b).status_code == 204
    for credential in (seeded["api_key"], seeded["cashier_token"]):
        assert client.get(card_url, headers=bearer(credential)).status_code == 404
        assert client.post(f"{card_url}/transactions", headers={**bearer(credential), "Idempotency-Key": "gone"},
                           json={"type": "earn", "points": 1}).status_code == 404
    assert client.get(f"/api/v1/programs/{other_brand['program_id']}/partners", headers=a).status_code == 200
