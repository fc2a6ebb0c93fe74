"""Webhooks end to end: events written with the change that caused them, delivered after the
commit to a real HTTP receiver that checks the signature, retried with backoff, bounded,
and visible through the API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service import create_app
from service.models import Card, WebhookDelivery, WebhookEvent, utcnow
from service.platform import db
from service.platform.config import Settings
from service.webhooks import addresses as webhook_addresses
from service.webhooks import events as webhooks
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.helpers import bearer


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as double:
        yield double


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Quick retries and few attempts, so the backoff can be watched in a test."""
    return dataclasses.replace(settings, webhook_backoff_seconds=0.2, webhook_max_attempts=3,
                               webhook_timeout_seconds=2, webhook_allow_private_urls=True)


def subscribe(client: FlaskClient, key: str, receiver: WebhookReceiver, events: list[str]) -> dict[str, Any]:
    response = client.post("/api/v1/webhooks", headers=bearer(key),
                           json={"url": receiver.url, "events": events, "description": "test"})
    assert response.status_code == 201, response.get_json()
    endpoint = response.get_json()
    assert endpoint["secret"].startswith("whsec_")
    receiver.secret = endpoint["secret"]
    return endpoint


def issue(client: FlaskClient, seeded: dict[str, Any], name: str = "Anna Smith", **customer: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                           json={"customer": {"name": name, **customer}})
    assert response.status_code in (200, 201)
    return response.get_json()


def sweep(app: Flask) -> None:
    from service.webhooks.tasks import sweep_webhooks

    with app.app_context():
        sweep_webhooks.call_local()


def test_card_issued_is_delivered_signed(client: FlaskClient, seeded: dict[str, Any],
                                         receiver: WebhookReceiver) -> None:
    subscribe(client, seeded["api_key"], receiver, ["card.issued"])
    card = issue(client, seeded, email="anna@example.com")
    [request] = receiver.wait_for(1)
    assert request.signature_ok
    assert request.headers["Passcast-Event"] == "card.issued"
    assert request.json["type"] == "card.issued"
    assert request.json["data"]["card_id"] == card["id"]
    assert request.json["data"]["serial_number"] == card["serial_number"]
    # The same customer again is not a new card: no second event.
    issue(client, seeded, email="anna@example.com")
    time.sleep(0.2)
    assert len(receiver.received) == 1
    deliveries = client.get("/api/v1/webhook-deliveries", headers=bearer(seeded["api_key"])).get_json()
    assert [(d["event"], d["status"], d["attempts"], d["response_status"]) for d in deliveries] == [
        ("card.issued", "delivered", 1, 200)]
    assert deliveries[0]["event_id"] == request.json["id"]


def test_signature_check_fails_with_another_secret(client: FlaskClient, seeded: dict[str, Any],
                                                   receiver: WebhookReceiver) -> None:
    """The receiver really checks: a wrong secret makes it refuse, and we record the refusal."""
    subscribe(client, seeded["api_key"], receiver, ["card.issued"])
    receiver.secret = "whsec_not-the-one"
    issue(client, seeded)
    [request] = receiver.wait_for(1)
    assert not request.signature_ok
    [delivery] = client.get("/api/v1/webhook-deliveries", headers=bearer(seeded["api_key"])).get_json()
    assert (delivery["status"], delivery["response_status"]) == ("retry", 400)


def test_only_subscribed_events_and_active_endpoints(client: FlaskClient, seeded: dict[str, Any],
                                                     receiver: WebhookReceiver) -> None:
    endpoint = subscribe(client, seeded["api_key"], receiver, ["transaction.created"])
    card = issue(client, seeded)
    response = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={
        **bearer(seeded["cashier_token"]), "Idempotency-Key": "till-1"}, json={"type": "purchase", "amount": "12.50"})
    assert response.status_code == 201
    [request] = receiver.wait_for(1)
    assert request.json["type"] == "transaction.created"
    assert request.json["data"]["card_id"] == card["id"]
    assert request.json["data"]["balance"] == response.get_json()["balance"]
    # A replay of the same transaction is not a new transaction.
    replay = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={
        **bearer(seeded["cashier_token"]), "Idempotency-Key": "till-1"}, json={"type": "purchase", "amount": "12.50"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    # Paused: nothing more is sent.
    patched = client.patch(f"/api/v1/webhooks/{endpoint['id']}", headers=bearer(seeded["api_key"]),
                           json={"active": False})
    assert patched.status_code == 200 and patched.get_json()["active"] is False
    client.post(f"/api/v1/cards/{card['id']}/transactions", headers={
        **bearer(seeded["cashier_token"]), "Idempotency-Key": "till-2"}, json={"type": "earn", "points": 5})
    time.sleep(0.3)
    assert len(receiver.received) == 1


def test_failed_transaction_emits_nothing(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                          receiver: WebhookReceiver) -> None:
    subscribe(client, seeded["api_key"], receiver, ["*"])
    card = issue(client, seeded)
    receiver.wait_for(1)
    refused = client.post(f"/api/v1/cards/{card['id']}/transactions", headers={
        **bearer(seeded["api_key"]), "Idempotency-Key": "r-1"}, json={"type": "redeem", "points": 50})
    assert refused.status_code == 409
    with app.app_context():
        types = db.session().scalars(select(WebhookEvent.type).order_by(WebhookEvent.id)).all()
    assert types == ["card.issued"]


def test_install_and_uninstall_on_the_passkit_web_service(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                          receiver: WebhookReceiver) -> None:
    subscribe(client, seeded["api_key"], receiver, ["card.installed", "card.uninstalled"])
    card = issue(client, seeded)
    with app.app_context():
        row = db.session().get(Card, card["id"])
        auth = {"Authorization": f"ApplePass {row.authentication_token}"}
        type_id = row.program.pass_type_identifier
    url = f"/passkit/v1/devices/dev-1/registrations/{type_id}/{card['serial_number']}"
    assert client.post(url, headers=auth, json={"pushToken": "ab" * 32}).status_code == 201
    assert client.post(url, headers=auth, json={"pushToken": "ab" * 32}).status_code == 200  # not a new install
    assert client.delete(url, headers=auth).status_code == 200
    assert client.delete(url, headers=auth).status_code == 200  # nothing left to uninstall
    requests = receiver.wait_for(2)
    time.sleep(0.2)
    assert [r.json["type"] for r in receiver.received] == ["card.installed", "card.uninstalled"]
    assert all(r.signature_ok for r in requests)
    assert requests[0].json["data"]["client"] == "apple"


def test_retries_with_backoff_then_gives_up(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                            receiver: WebhookReceiver) -> None:
    endpoint = subscribe(client, seeded["api_key"], receiver, ["card.issued"])
    receiver.statuses = [503, 500, 502, 500]
    issue(client, seeded)
    receiver.wait_for(1)
    [delivery] = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries",
                            headers=bearer(seeded["api_key"])).get_json()
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == ("retry", 1, 503)
    first_due = dt.datetime.fromisoformat(delivery["next_attempt_at"])
    assert first_due > dt.datetime.fromisoformat(delivery["last_attempt_at"])
    sweep(app)  # not due yet: nothing is sent
    assert len(receiver.received) == 1
    for expected in (2, 3):
        time.sleep(0.2 * 2 ** (expected - 2) + 0.1)
        sweep(app)
        receiver.wait_for(expected)
    [delivery] = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries",
                            headers=bearer(seeded["api_key"])).get_json()
    assert (delivery["status"], delivery["attempts"]) == ("failed", 3)
    assert "gave up after 3 attempts" in delivery["error"]
    time.sleep(1)
    sweep(app)
    assert len(receiver.received) == 3  # bounded
    # A manual retry gets a fresh set of attempts; the receiver now says 500 once more, then 200.
    retried = client.post(f"/api/v1/webhook-deliveries/{delivery['id']}/retry", headers=bearer(seeded["api_key"]))
    assert retried.status_code == 202
    receiver.wait_for(4)
    time.sleep(0.3)
    sweep(app)
    receiver.wait_for(5)
    [delivery] = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries",
                            headers=bearer(seeded["api_key"])).get_json()
    assert delivery["status"] == "delivered"


def test_lost_job_is_picked_up_by_the_sweeper(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                              receiver: WebhookReceiver) -> None:
    """The process dies between commit and enqueue: the event is in the outbox, the sweeper sends it."""
    subscribe(client, seeded["api_key"], receiver, ["card.issued"])
    with app.app_context():
        session = db.session()
        webhooks.emit(session, seeded["brand_id"], "card.issued", {"card_id": 999})
        session.info.clear()  # what a crash right after COMMIT looks like: nothing was enqueued
        session.commit()
        session.execute(update(WebhookEvent).values(created_at=utcnow() - dt.timedelta(minutes=1)))
        session.commit()
    time.sleep(0.2)
    assert receiver.received == []
    sweep(app)
    [request] = receiver.wait_for(1)
    assert request.json["data"] == {"card_id": 999}


def test_emit_rolls_back_with_the_caller(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session()
        webhooks.emit(session, seeded["brand_id"], "campaign.finished", {"campaign_id": 1})
        session.rollback()
        session.commit()
        assert session.scalars(select(WebhookEvent)).all() == []
        with pytest.raises(ValueError):
            webhooks.emit(session, seeded["brand_id"], "no.such.event", {})


def test_unreachable_endpoint_is_recorded(client: FlaskClient, seeded: dict[str, Any], app: Flask) -> None:
    response = client.post("/api/v1/webhooks", headers=bearer(seeded["api_key"]),
                           json={"url": "http://127.0.0.1:9/nothing", "events": ["card.issued"]})
    assert response.status_code == 201
    issue(client, seeded)
    with app.app_context():
        [delivery] = db.session().scalars(select(WebhookDelivery)).all()
    assert delivery.status == "retry" and delivery.response_status is None
    assert "ConnectError" in (delivery.error or "")


def test_endpoint_validation_and_secret_rotation(client: FlaskClient, seeded: dict[str, Any]) -> None:
    key = bearer(seeded["api_key"])
    bad = client.post("/api/v1/webhooks", headers=key, json={"url": "ftp://x", "events": ["card.nope"]})
    assert bad.status_code == 422
    assert bad.headers["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in bad.get_json()["errors"]} == {"url", "events.0"}
    created = client.post("/api/v1/webhooks", headers=key,
                          json={"url": "https://example.com/h", "events": ["card.issued"]}).get_json()
    listed = client.get("/api/v1/webhooks", headers=key).get_json()
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    rotated = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=key).get_json()
    assert rotated["secret"] != created["secret"]
    assert client.delete(f"/api/v1/webhooks/{created['id']}", headers=key).status_code == 204
    assert client.get(f"/api/v1/webhooks/{created['id']}", headers=key).status_code == 404


def test_signature_helpers_agree_with_the_receiver() -> None:
    from tests.doubles.webhook_receiver import signature_ok

    body = b'{"a":1}'
    header = webhooks.sign("whsec_x", int(time.time()), body)
    assert signature_ok("whsec_x", header, body) and webhooks.verify("whsec_x", header, body)
    assert not signature_ok("whsec_x", header, body + b" ")
    stale = webhooks.sign("whsec_x", int(time.time()) - 3600, body)
    assert not webhooks.verify("whsec_x", stale, body)


def test_worker_app_gets_webhook_tasks() -> None:
    """The consumer imports the webhook jobs (else events would never leave the outbox)."""
    import service.worker  # noqa: F401
    from service.platform.jobs import webhook_queue

    names = {name.rsplit(".", 1)[-1] for name in webhook_queue._registry._registry}  # noqa: SLF001
    assert {"dispatch_webhook_events", "send_webhooks", "sweep_webhooks"} <= names


def test_create_app_wires_the_outbox(settings: Settings) -> None:
    app = create_app(settings)
    assert webhooks._enqueue is not None  # noqa: SLF001
    app.extensions["db_engine"].dispose()


def test_emit_from_a_session_that_expires_on_commit(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                    receiver: WebhookReceiver) -> None:
    """Jobs and scripts may use plain sessions (expire_on_commit=True): the event still leaves at once."""
    from sqlalchemy.orm import Session

    subscribe(client, seeded["api_key"], receiver, ["campaign.finished"])
    with app.app_context(), Session(app.extensions["db_engine"]) as session:
        webhooks.emit(session, seeded["brand_id"], "campaign.finished", {"campaign_id": 7, "sent": 3})
        session.commit()
    [request] = receiver.wait_for(1)
    assert request.json["data"] == {"campaign_id": 7, "sent": 3} and request.signature_ok


def test_private_urls_are_refused_unless_allowed(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                                 receiver: WebhookReceiver) -> None:
    """In production a brand's webhook cannot make us call into our own network."""
    subscribe(client, seeded["api_key"], receiver, ["card.issued"])  # registered while allowed (dev)
    app.config["PASSCAST"] = dataclasses.replace(app.config["PASSCAST"], webhook_allow_private_urls=False)
    key = bearer(seeded["api_key"])
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://10.1.2.3/x", "http://[::1]/x",
                "http://169.254.169.254/latest/meta-data", "http://db.internal/x"):
        refused = client.post("/api/v1/webhooks", headers=key, json={"url": url, "events": ["card.issued"]})
        assert refused.status_code == 422, url
        assert refused.get_json()["errors"][0]["field"] == "url"
    assert client.post("/api/v1/webhooks", headers=key, json={
        "url": "https://203.0.113.9/hooks", "events": ["card.issued"]}).status_code == 422  # TEST-NET: reserved
    assert client.post("/api/v1/webhooks", headers=key, json={
        "url": "https://8.8.8.8/hooks", "events": ["card.issued"]}).status_code == 201
    # The endpoint registered earlier on loopback is not called either.
    issue(client, seeded)
    time.sleep(0.2)
    assert receiver.received == []
    with app.app_context():
        errors = db.session().scalars(select(WebhookDelivery.error).where(WebhookDelivery.status == "failed")).all()
    assert any("private or loopback" in (error or "") for error in errors)


def test_private_target() -> None:
    assert webhook_addresses.private_target("http://127.0.0.1/")
    assert webhook_addresses.private_target("http://LOCALHOST./")
    assert webhook_addresses.private_target("http://192.168.1.1/")
    assert not webhook_addresses.private_target("https://8.8.8.8/")
    assert not webhook_addresses.private_target("https://hooks.example.com/")  # names are judged when connecting


def test_brand_without_endpoints_costs_one_insert_and_no_job(app: Flask, seeded: dict[str, Any]) -> None:
    """Most brands have no webhooks: their events are not queued; the sweeper settles them in bulk."""
    queued: list[list[int]] = []
    original = webhooks._enqueue  # noqa: SLF001
    webhooks.forget_subscribers()
    webhooks.set_enqueuer(queued.append, webhooks._enqueue_deliveries)  # noqa: SLF001
    try:
        with app.app_context():
            session = db.session()
            webhooks.emit(session, seeded["brand_id"], "transaction.created", {"id": 1})
            session.commit()
    finally:
        webhooks.set_enqueuer(original, webhooks._enqueue_deliveries)  # noqa: SLF001
    assert queued == []
    with app.app_context():
        session = db.session()
        session.execute(update(WebhookEvent).values(created_at=utcnow() - dt.timedelta(minutes=1)))
        session.commit()
    sweep(app)
    with app.app_context():
        assert db.session().scalars(select(WebhookEvent.dispatched)).all() == [True]


def test_purge_forgets_old_history(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                   receiver: WebhookReceiver) -> None:
    subscribe(client, seeded["api_key"], receiver, ["card.issued"])
    issue(client, seeded, "Old")
    issue(client, seeded, "New")
    receiver.wait_for(2)
    with app.app_context():
        session = db.session()
        first = session.scalar(select(WebhookEvent.id).order_by(WebhookEvent.id))
        session.execute(update(WebhookEvent).where(WebhookEvent.id == first)
                        .values(created_at=utcnow() - dt.timedelta(days=31)))
        session.commit()
        assert webhooks.purge(session, dt.timedelta(days=30)) == 1
        assert len(session.scalars(select(WebhookDelivery)).all()) == 1
        assert len(session.scalars(select(WebhookEvent)).all()) == 1


def test_test_event_goes_to_that_endpoint_only(client: FlaskClient, seeded: dict[str, Any],
                                               receiver: WebhookReceiver) -> None:
    key = bearer(seeded["api_key"])
    endpoint = subscribe(client, seeded["api_key"], receiver, ["card.issued"])
    other = client.post("/api/v1/webhooks", headers=key, json={"url": receiver.url + "/other",
                                                                "events": ["*"]}).get_json()
    client.patch(f"/api/v1/webhooks/{endpoint['id']}", headers=key, json={"active": False})
    response = client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key)
    assert response.status_code == 202
    [request] = receiver.wait_for(1)
    assert request.path == "/hooks" and request.signature_ok
    assert request.json["type"] == "webhook.test"
    assert request.json["data"]["endpoint_id"] == endpoint["id"]
    [delivery] = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries?event=webhook.test",
                            headers=key).get_json()
    assert delivery["status"] == "delivered"
    assert client.get(f"/api/v1/webhooks/{other['id']}/deliveries", headers=key).get_json() == []


def test_pausing_stops_every_queued_delivery_the_test_one_too(app: Flask, client: FlaskClient,
                                                               seeded: dict[str, Any],
                                                               receiver: WebhookReceiver) -> None:
    key = bearer(seeded["api_key"])
    endpoint = subscribe(client, seeded["api_key"], receiver, ["card.issued"])
    # Retries a minute apart, so they are still waiting when the endpoint is paused.
    app.config["PASSCAST"] = dataclasses.replace(app.config["PASSCAST"], webhook_backoff_seconds=60)
    receiver.statuses = [500, 500]
    assert client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key).status_code == 202
    issue(client, seeded)
    receiver.wait_for(2)
    deliveries = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=key).get_json()
    assert [d["status"] for d in deliveries] == ["retry", "retry"]

    assert client.patch(f"/api/v1/webhooks/{endpoint['id']}", headers=key, json={"active": False}).status_code == 200
    deliveries = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=key).get_json()
    assert [(d["status"], d["error"]) for d in deliveries] == [("failed", "endpoint paused")] * 2
    with app.app_context():  # had they been left waiting, both would be due now
        db.session().execute(update(WebhookDelivery).values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))
        db.session().commit()
    sweep(app)
    time.sleep(0.3)
    assert len(receiver.received) == 2, "nothing more is sent to a paused endpoint"


def test_a_test_of_a_paused_endpoint_is_sent_once_not_retried(app: Flask, client: FlaskClient,
                                                              seeded: dict[str, Any],
                                                              receiver: WebhookReceiver) -> None:
    key = bearer(seeded["api_key"])
    endpoint = subscribe(client, seeded["api_key"], receiver, ["card.issued"])
    client.patch(f"/api/v1/webhooks/{endpoint['id']}", headers=key, json={"active": False})
    receiver.statuses = [500, 500, 500]
    assert client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=key).status_code == 202
    receiver.wait_for(1)
    time.sleep(0.2)
    [delivery] = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=key).get_json()
    assert (delivery["status"], delivery["error"]) == ("failed", "endpoint paused, not retried: HTTP 500")
    time.sleep(0.5)
    sweep(app)
    time.sleep(0.3)
    assert len(receiver.received) == 1
