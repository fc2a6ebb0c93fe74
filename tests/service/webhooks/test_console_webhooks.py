"""The console's webhooks page (/console/webhooks): endpoints, adding and editing one, a new
secret shown once, a test sent to a real loopback receiver, deliveries with their state and the
receiver's answer, and a retry of a failed delivery; all through /api/v1/webhooks."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from service.models import WebhookDelivery, WebhookEndpoint
from service.platform import db
from service.platform.config import Settings
from tests.console_helpers import api_headers, as_role
from tests.doubles.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as double:
        yield double


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver listens on loopback: let endpoints point there."""
    return dataclasses.replace(settings, webhook_backoff_seconds=0.2, webhook_max_attempts=2,
                               webhook_timeout_seconds=2, webhook_allow_private_urls=True)


def _create(client: Any, url: str, events: list[str] | None = None) -> dict[str, Any]:
    answer = client.post("/api/v1/webhooks", headers=api_headers(client),
                         json={"url": url, "events": events or ["card.issued"], "description": "CRM sync"})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_the_list_and_the_add_form(app: Flask, seeded: dict[str, Any]) -> None:
    owner = as_role(app, "owner")
    empty = owner.get("/console/webhooks").get_data(as_text=True)
    assert 'id="webhook-form" data-api="POST /api/v1/webhooks" data-then="event:webhook-secret"' in empty
    assert 'id="secret-panel"' in empty and "/static/webhooks-console/webhooks.js" in empty
    assert owner.get("/static/webhooks-console/webhooks.js").status_code == 200
    endpoint = _create(owner, "https://user:pw@hooks.example.com/in?token=abc")
    listing = owner.get("/console/webhooks").get_data(as_text=True)
    row = re.search(rf'<tr data-endpoint="{endpoint["id"]}">(.*?)</tr>', listing, re.S)[1]  # type: ignore[index]
    assert "https://hooks.example.com/in?…" in row and "pw@" not in row and "card.issued" in row
    assert endpoint["secret"] not in listing  # a secret is only ever in the API's answer
    page = owner.get(f"/console/webhooks/{endpoint['id']}").get_data(as_text=True)
    assert f'data-api="PATCH /api/v1/webhooks/{endpoint["id"]}"' in page
    assert f'data-api="POST /api/v1/webhooks/{endpoint["id"]}/rotate-secret"' in page
    assert f'data-api="DELETE /api/v1/webhooks/{endpoint["id"]}"' in page
    assert endpoint["secret"] not in page


def test_test_delivery_its_state_and_response_then_retry_of_a_failure(
        app: Flask, seeded: dict[str, Any], receiver: WebhookReceiver) -> None:
    owner = as_role(app, "owner")
    endpoint = _create(owner, receiver.url)
    receiver.secret = endpoint["secret"]
    sent = owner.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=api_headers(owner))
    assert sent.status_code == 202
    [received] = receiver.wait_for(1)
    assert received.signature_ok and received.json["type"] == "webhook.test"
    page = owner.get(f"/console/webhooks/{endpoint['id']}").get_data(as_text=True)
    row = re.search(r'<tr data-delivery="(\d+)" data-status="delivered">(.*?)</tr>', page, re.S)
    assert row is not None and "webhook.test" in row[2] and "HTTP 200" in row[2]
    assert "/retry" not in row[2]  # nothing to retry

    # a failure: the page offers a retry, and the retry goes through the API to the receiver
    delivery_id = int(row[1])
    with app.app_context():
        db.session().execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
            status="failed", response_status=500, error="HTTP 500"))
        db.session().commit()
    failed = owner.get(f"/console/webhooks/{endpoint['id']}?status=failed").get_data(as_text=True)
    assert f'data-api="POST /api/v1/webhook-deliveries/{delivery_id}/retry"' in failed and "HTTP 500" in failed
    listing = owner.get("/console/webhooks").get_data(as_text=True)
    assert re.search(rf'<tr data-endpoint="{endpoint["id"]}">.*?<td class="number">1</td>', listing, re.S)
    retried = owner.post(f"/api/v1/webhook-deliveries/{delivery_id}/retry", headers=api_headers(owner))
    assert retried.status_code == 202
    receiver.wait_for(2)
    with app.app_context():
        assert db.session().get(WebhookDelivery, delivery_id).status == "delivered"


def test_edit_rotate_and_delete_through_the_api(app: Flask, seeded: dict[str, Any]) -> None:
    owner = as_role(app, "owner")
    endpoint = _create(owner, "https://hooks.example.com/a")
    patched = owner.patch(f"/api/v1/webhooks/{endpoint['id']}", headers=api_headers(owner),
                          json={"url": "https://hooks.example.com/b", "events": ["*"], "active": False})
    assert patched.status_code == 200
    page = owner.get(f"/console/webhooks/{endpoint['id']}").get_data(as_text=True)
    assert 'value="https://hooks.example.com/b"' in page and '<option value="*" selected>' in page
    assert 'id="edit-active" name="active" type="checkbox">' in page  # unticked: paused
    rotated = owner.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=api_headers(owner)).get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    bad = owner.patch(f"/api/v1/webhooks/{endpoint['id']}", headers=api_headers(owner), json={"url": "ftp://x"})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "url"
    assert owner.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=api_headers(owner)).status_code == 204
    assert owner.get(f"/console/webhooks/{endpoint['id']}").status_code == 404


def test_in_russian(app: Flask, seeded: dict[str, Any]) -> None:
    owner = as_role(app, "owner")
    endpoint = _create(owner, "https://hooks.example.com/a")
    assert "Добавить адрес" in owner.get("/console/webhooks?lang=ru").get_data(as_text=True)
    page = owner.get(f"/console/webhooks/{endpoint['id']}?lang=ru").get_data(as_text=True)
    assert "Сменить секрет" in page and "Доставки" in page


@pytest.mark.parametrize("role", ["marketer", "analyst", "store_manager"])
def test_roles_without_the_webhooks_permission_get_no_page_and_the_api_refuses(
        app: Flask, seeded: dict[str, Any], role: str) -> None:
    endpoint = _create(as_role(app, "owner"), "https://hooks.example.com/a")
    other = as_role(app, role)
    for path in ("/console/webhooks", f"/console/webhooks/{endpoint['id']}"):
        page = other.get(path)
        assert page.status_code == 403 and "data-api=" not in page.get_data(as_text=True)
    assert 'href="/console/webhooks"' not in other.get("/console/nps").get_data(as_text=True)
    headers = api_headers(other)
    assert other.post("/api/v1/webhooks", headers=headers,
                      json={"url": "https://evil.example.com", "events": ["*"]}).status_code == 403
    assert other.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=headers).status_code == 403
    assert other.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=headers).status_code == 403
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(WebhookEndpoint)) == 1


def test_another_brand_sees_nothing_of_ours(app: Flask, seeded: dict[str, Any]) -> None:
    endpoint = _create(as_role(app, "owner"), "https://hooks.example.com/ours")
    other = as_role(app, "owner", brand_name="Other Tea")
    assert "hooks.example.com/ours" not in other.get("/console/webhooks").get_data(as_text=True)
    assert other.get(f"/console/webhooks/{endpoint['id']}").status_code == 404
    assert other.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=api_headers(other)).status_code == 404
