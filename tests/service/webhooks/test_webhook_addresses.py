"""Webhook address rules: only public addresses, checked in the very lookup the socket is opened
with (no DNS-rebinding window), with the host name kept for the Host header and TLS."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.models import WebhookDelivery, WebhookEvent, utcnow
from service.platform import db
from service.webhooks import events as webhooks
from service.webhooks.addresses import RefusedAddress, checked_client, public_address
from tests.doubles.pki import Pki
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.helpers import bearer

#: The addresses of the security issue, and their relatives.
REFUSED = ["100.64.0.1", "100.100.100.200", "169.254.169.254", "::ffff:127.0.0.1", "0.0.0.0", "::",
           "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "::1", "fe80::1%eth0", "fc00::1",
           "224.0.0.1", "ff02::1", "240.0.0.1", "255.255.255.255",
           "2002:7f00:1::1",  # 6to4 around 127.0.0.1
           "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
           "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
           "::7f00:1",  # IPv4-compatible (deprecated) 127.0.0.1
           "not an address"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "100.128.0.1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert public_address(address)


@pytest.mark.parametrize("host", ["100.64.0.1", "169.254.169.254", "[::ffff:127.0.0.1]", "0.0.0.0", "[::]"])
def test_such_urls_cannot_be_registered(client: FlaskClient, seeded: dict[str, Any], host: str) -> None:
    response = client.post("/api/v1/webhooks", headers=bearer(seeded["api_key"]),
                           json={"url": f"http://{host}/hooks", "events": ["card.issued"]})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["field"] == "url"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as double:
        yield double


@pytest.mark.parametrize("address", ["100.64.0.1", "169.254.169.254", "::ffff:127.0.0.1", "0.0.0.0", "::",
                                     "127.0.0.1"])
def test_a_name_resolving_to_such_an_address_is_not_connected(receiver: WebhookReceiver, address: str) -> None:
    """Nothing is sent: not even a connection is attempted (the loopback receiver hears nothing)."""
    with checked_client(timeout=2, resolver=lambda _host, _port: [address]) as client, \
            pytest.raises(httpx.ConnectError) as excinfo:
        client.post(f"http://hooks.example.test:{receiver.port}/hooks", content=b"{}")
    assert isinstance(excinfo.value.__cause__, RefusedAddress)
    assert receiver.received == []


def test_one_bad_answer_refuses_the_host(receiver: WebhookReceiver) -> None:
    with checked_client(timeout=2, allowed=lambda address: address == "127.0.0.1",
                        resolver=lambda _host, _port: ["127.0.0.1", "10.0.0.1"]) as client, \
            pytest.raises(httpx.ConnectError):
        client.post(f"http://hooks.example.test:{receiver.port}/hooks", content=b"{}")
    assert receiver.received == []


def test_dns_rebinding_reaches_only_the_checked_address(receiver: WebhookReceiver) -> None:
    """The name answers the brand's address (here 127.0.0.1, which the test's rule calls public)
    when checked, and an internal one (127.0.0.2) on any later lookup. The connection goes to
    the checked address, because there is no later lookup; the request still names the host."""
    answers = iter([["127.0.0.1"]])
    lookups: list[str] = []

    def rebinding(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return next(answers, ["127.0.0.2"])

    with WebhookReceiver("127.0.0.2", receiver.port) as internal, \
            checked_client(timeout=2, allowed=lambda address: address == "127.0.0.1", resolver=rebinding) as client:
        response = client.post(f"http://hooks.example.test:{receiver.port}/hooks", content=b"{}")
        assert response.status_code == 400  # the receiver's answer to an unsigned body: it was reached
        assert internal.received == []
    [request] = receiver.received
    assert request.headers["Host"] == f"hooks.example.test:{receiver.port}"
    assert lookups == ["hooks.example.test"]


def test_tls_is_for_the_host_name(apns_pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connected to the checked address, TLS still sends the name (SNI) and checks the certificate
    against it; the test CA is trusted through SSL_CERT_FILE, as an operator would."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(apns_pki.server_cert, apns_pki.server_key)
    monkeypatch.setenv("SSL_CERT_FILE", str(Path(apns_pki.ca_cert)))
    with WebhookReceiver(tls=tls) as secure, \
            checked_client(timeout=2, allowed=lambda _address: True,
                           resolver=lambda _host, _port: ["127.0.0.1"]) as client:
        response = client.post(f"https://localhost:{secure.port}/hooks", content=b"{}")
        assert response.status_code == 400
        assert secure.server_names == ["localhost"]
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # a name the cert lacks
            client.post(f"https://hooks.example.test:{secure.port}/hooks", content=b"{}")


def test_a_refused_delivery_fails_at_once(app: Flask, client: FlaskClient, seeded: dict[str, Any],
                                          receiver: WebhookReceiver) -> None:
    """Through the delivery job's code: refused, recorded, not retried, nothing sent."""
    created = client.post("/api/v1/webhooks", headers=bearer(seeded["api_key"]), json={
        "url": f"http://hooks.example.test:{receiver.port}/hooks", "events": ["card.issued"]})
    assert created.status_code == 201
    with app.app_context():
        session = db.session()
        event = WebhookEvent(brand_id=seeded["brand_id"], uid=str(uuid.uuid4()), type="card.issued",
                             data={}, dispatched=True, created_at=utcnow())
        session.add(event)
        session.flush()
        delivery = WebhookDelivery(brand_id=seeded["brand_id"], event_id=event.id,
                                   endpoint_id=created.get_json()["id"], status="queued", attempts=0)
        session.add(delivery)
        session.commit()
        delivery_id = delivery.id
    rescheduled: list[list[int]] = []
    delivered = webhooks.deliver(app.extensions["db_sessionmaker"], [delivery_id], max_attempts=5,
                                 backoff_base=1, timeout=2, reschedule=lambda ids, _delay: rescheduled.append(ids),
                                 resolver=lambda _host, _port: ["100.64.0.1"])
    assert delivered == 0 and rescheduled == [] and receiver.received == []
    with app.app_context():
        row = db.session().get(WebhookDelivery, delivery_id)
        assert row.status == "failed"
        assert row.error == "refused: hooks.example.test resolves to 100.64.0.1, which is not a public internet address"
