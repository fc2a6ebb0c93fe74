"""Back in stock: only subscribers of the restocked variant are told, once, through their
pass; their subscriptions end; unsubscribing works; tenancy."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from service.campaigns import restock
from service.models import Card, ProductSubscription
from service.platform import db
from tests.doubles.apns import ApnsDouble
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import issue, news, other_brand_key, pass_json, register, token


def subscribe(client: FlaskClient, key: str, card_id: int, **product: Any) -> Any:
    return client.post(f"/api/v1/cards/{card_id}/subscriptions", json=product, headers=bearer(key))


def test_restock_tells_only_that_variants_subscribers_once(client: FlaskClient, seeded: dict[str, Any],
                                                           app: Flask, apns: ApnsDouble) -> None:
    key = seeded["api_key"]
    names = ["medium", "large", "any_size", "other_sku", "unsubscribed", "russian", "voided"]
    cards = {name: issue(client, seeded, name, email=f"{name}@example.com",
                         language="ru" if name == "russian" else "en")["id"] for name in names}
    for n, name in enumerate(names):
        register(app, cards[name], token(n + 1))
    shirt = {"sku": "SHIRT-1", "product_name": "Linen shirt"}
    first = subscribe(client, key, cards["medium"], **shirt, size="M")
    assert first.status_code == 201 and first.get_json()["active"] is True
    assert subscribe(client, key, cards["medium"], **shirt, size="M").status_code == 200  # the same one
    subscribe(client, key, cards["large"], **shirt, size="L")
    subscribe(client, key, cards["any_size"], **shirt)
    subscribe(client, key, cards["other_sku"], sku="SHIRT-2", size="M")
    gone = subscribe(client, key, cards["unsubscribed"], **shirt, size="M").get_json()
    subscribe(client, key, cards["russian"], **shirt, size="M")
    voided = subscribe(client, key, cards["voided"], **shirt, size="M").get_json()
    with app.app_context():
        card = db.session().get(Card, cards["voided"])
        assert card is not None
        card.voided = True
        db.session().commit()
    assert client.delete(f"/api/v1/subscriptions/{gone['id']}", headers=bearer(key)).status_code == 204
    assert client.delete(f"/api/v1/subscriptions/{gone['id']}", headers=bearer(key)).status_code == 204

    store = seeded["store_ids"][0]
    response = client.post("/api/v1/restock-events", headers=bearer(key),
                           json={"sku": "SHIRT-1", "size": "M", "store_id": store})
    assert response.status_code == 202, response.get_json()
    event = response.get_json()
    assert event["status"] == "done"
    assert sorted(s["card_id"] for s in event["told"]) == sorted([cards["medium"], cards["any_size"],
                                                                 cards["russian"]])
    assert sorted(r.token for r in apns.requests) == [token(1), token(3), token(6)]
    assert event["report"]["targeted"] == 3 and event["report"]["platforms"]["apple"]["accepted"] == 3

    store_name = "Demo Coffee"  # the demo stores' names start with the brand
    message = news(pass_json(client, app, cards["medium"]))["value"]
    assert message.startswith("Linen shirt in size M is back at ") and store_name in message
    assert news(pass_json(client, app, cards["russian"]))["value"].startswith("Linen shirt, размер M: снова в наличии")
    assert news(pass_json(client, app, cards["large"]))["value"] == "No news yet."

    again = client.post("/api/v1/restock-events", headers=bearer(key),
                        json={"sku": "SHIRT-1", "size": "M", "store_id": store}).get_json()
    assert again["told"] == [] and len(apns.requests) == 3  # nobody twice: the subscriptions ended

    medium = client.get(f"/api/v1/cards/{cards['medium']}/subscriptions", headers=bearer(key)).get_json()
    assert [(s["active"], s["end_reason"], s["restock_event_id"]) for s in medium] == [
        (False, "notified", event["id"])]
    still = client.get(f"/api/v1/cards/{cards['large']}/subscriptions?active=true", headers=bearer(key)).get_json()
    assert len(still) == 1
    shown = client.get(f"/api/v1/restock-events/{event['id']}", headers=bearer(key)).get_json()
    assert len(shown["told"]) == 3
    ended = client.get(f"/api/v1/subscriptions/{voided['id']}", headers=bearer(key)).get_json()
    assert (ended["active"], ended["end_reason"]) == (False, "card_voided")

    # All sizes back: the size-L subscriber is told now.
    all_sizes = client.post("/api/v1/restock-events", headers=bearer(key), json={"sku": "SHIRT-1"}).get_json()
    assert [s["card_id"] for s in all_sizes["told"]] == [cards["large"]]
    assert news(pass_json(client, app, cards["large"]))["value"] == "Linen shirt in size L is back in stock"


def test_two_events_never_tell_anyone_twice(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    """An interrupted event resumes; a second event for the same variant finds nothing left."""
    key = seeded["api_key"]
    ids = [issue(client, seeded, f"M{n}", email=f"m{n}@example.com")["id"] for n in range(5)]
    for card_id in ids:
        subscribe(client, key, card_id, sku="MUG", colour="blue")
    with app.app_context():
        session = db.session()
        first = restock.create_event(session, seeded["brand_id"], "MUG", None, "blue", "Mug", None)
        second = restock.create_event(session, seeded["brand_id"], "MUG", None, None, "Mug", None)
        session.commit()
        assert restock.process(session, first.id, batch=2, max_batches=1) == 2  # the worker dies here
        assert restock.process(session, second.id) == 3
        assert restock.process(session, first.id) == 0
        told = session.query(ProductSubscription.restock_event_id).filter(ProductSubscription.ended_at.is_not(None))
        assert sorted(row[0] for row in told) == [first.id] * 2 + [second.id] * 3


def test_subscription_input_and_tenancy(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    key = seeded["api_key"]
    card = issue(client, seeded, "Anna", email="anna@example.com")["id"]
    assert subscribe(client, key, card, sku="").status_code == 422
    assert subscribe(client, key, card, size="M").status_code == 422
    subscription = subscribe(client, key, card, sku="SHIRT-1", size="M").get_json()
    theirs = other_brand_key(app)
    assert subscribe(client, theirs, card, sku="SHIRT-1").status_code == 404
    assert client.get(f"/api/v1/cards/{card}/subscriptions", headers=bearer(theirs)).status_code == 404
    assert client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=bearer(theirs)).status_code == 404
    assert client.delete(f"/api/v1/subscriptions/{subscription['id']}", headers=bearer(theirs)).status_code == 404
    event = client.post("/api/v1/restock-events", headers=bearer(key), json={"sku": "NOTHING"}).get_json()
    assert client.get(f"/api/v1/restock-events/{event['id']}", headers=bearer(theirs)).status_code == 404
    # Their restock of the same SKU tells none of our subscribers.
    foreign = client.post("/api/v1/restock-events", headers=bearer(theirs), json={"sku": "SHIRT-1", "size": "M"})
    assert foreign.status_code == 202 and foreign.get_json()["told"] == []
    bad_store = client.post("/api/v1/restock-events", headers=bearer(theirs),
                            json={"sku": "SHIRT-1", "store_id": seeded["store_ids"][0]})
    assert bad_store.status_code == 422
    assert client.get(f"/api/v1/subscriptions/{subscription['id']}", headers=bearer(key)).get_json()["active"]
    # A restock's campaign shows in the campaigns but is not cancellable (its message is the event's).
    cancel = client.post(f"/api/v1/campaigns/{event['campaign_id']}/cancel", headers=bearer(key))
    assert cancel.status_code == 409 and cancel.content_type == "application/problem+json"


def test_longest_product_name_with_a_variant_is_accepted(client: FlaskClient, seeded: dict[str, Any],
                                                          app: Flask) -> None:
    key = seeded["api_key"]
    card = issue(client, seeded, "Anna", email="anna@example.com")["id"]
    name = "Very long linen shirt name " * 8
    name = name[:200]
    assert subscribe(client, key, card, sku="S" * 100, size="M" * 50, colour="C" * 50,
                     product_name=name).status_code == 201
    event = client.post("/api/v1/restock-events", headers=bearer(key), json={
        "sku": "S" * 100, "size": "M" * 50, "colour": "C" * 50, "product_name": name})
    assert event.status_code == 202, event.get_json()
    body = event.get_json()
    assert body["status"] == "done" and [t["card_id"] for t in body["told"]] == [card]
    campaign = client.get(f"/api/v1/campaigns/{body['campaign_id']}", headers=bearer(key)).get_json()
    assert len(campaign["name"]) == 200 and campaign["name"].startswith("Back in stock: Very long")
