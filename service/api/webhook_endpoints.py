"""Webhook endpoints of a brand, and what was delivered to them (service/webhooks/events.py sends)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, g
from flask_smorest import Blueprint
from sqlalchemy import delete, select

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import (
    PROBLEM,
    ProblemOut,
    WebhookCreatedOut,
    WebhookDeliveryOut,
    WebhookDeliveryQuery,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)
from service.api.pagination import LINK_HEADER, PageQuery, page
from service.api.tenancy import brand_row
from service.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from service.platform import db
from service.web.problems import Problem, validation_problem
from service.webhooks import addresses as webhook_addresses
from service.webhooks import events as webhooks

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description=(
    "Webhooks: your URLs hear about card.issued, card.installed, card.uninstalled, card.updated, card.voided, "
    "transaction.created, campaign.finished and journey.entered. Each POST carries "
    "`Passcast-Signature: t=<unix>,v1=<hex>`, the HMAC-SHA256 of `<t>.<raw body>` with the endpoint's secret; "
    "failed deliveries are retried with "
    "exponential backoff up to WEBHOOK_MAX_ATTEMPTS times."))

_NOT_FOUND = "No such webhook endpoint in your brand"
_EXAMPLE = {"url": "https://example.com/passcast-hooks", "events": ["card.issued", "transaction.created"],
            "description": "CRM sync"}


def brand_endpoint(endpoint_id: int) -> WebhookEndpoint:
    return brand_row(WebhookEndpoint, endpoint_id, "webhook endpoint")


def _check_url(url: str) -> None:
    if not current_app.config["PASSCAST"].webhook_allow_private_urls and webhook_addresses.private_target(url):
        raise validation_problem([{"field": "url", "message": "Must be reachable on the public internet."}])


def _audited(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint: never its secret, nor credentials in its URL."""
    return {**audit.snapshot(endpoint, ("events", "description", "active")), "url": audit.safe_url(endpoint.url)}


def _created(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {**{field: getattr(endpoint, field) for field in WebhookOut._declared_fields}, "secret": endpoint.secret}


@blp.route("/webhooks", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(PageQuery, location="query")
@blp.response(200, WebhookOut(many=True), headers=LINK_HEADER)
def list_endpoints(query: dict[str, Any]) -> Any:
    """The brand's webhook endpoints (never their secrets)."""
    return page(select(WebhookEndpoint).where(WebhookEndpoint.brand_id == g.brand.id), WebhookEndpoint.id,
                query, newest_first=False)


@blp.route("/webhooks", methods=["POST"])
@require_brand
@requires("webhooks")
@blp.arguments(WebhookIn, example=_EXAMPLE)
@blp.response(201, WebhookCreatedOut)
def create_endpoint(body: dict[str, Any]) -> Any:
    """Register a URL for some events. The answer's `secret` signs every delivery: it is shown this once."""
    _check_url(body["url"])
    endpoint = WebhookEndpoint(brand_id=g.brand.id, url=body["url"], events=sorted(set(body["events"])),
                               description=body["description"], active=body["active"],
                               secret=webhooks.new_endpoint_secret(), created_at=utcnow())
    session = db.session()
    session.add(endpoint)
    session.flush()
    audit.record(session, g.brand.id, "webhook.created", "webhook", endpoint.id, _audited(endpoint))
    session.commit()
    webhooks.forget_subscribers()
    return _created(endpoint)


@blp.route("/webhooks/<int:endpoint_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, WebhookOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND)
def get_endpoint(endpoint_id: int) -> Any:
    """One endpoint."""
    return brand_endpoint(endpoint_id)


@blp.route("/webhooks/<int:endpoint_id>", methods=["PATCH"])
@require_brand
@requires("webhooks")
@blp.arguments(WebhookPatch(partial=True), example={"events": ["*"], "active": True})
@blp.response(200, WebhookOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND)
def patch_endpoint(body: dict[str, Any], endpoint_id: int) -> Any:
    """Change the URL, events, description, or pause it (`active: false`: new events are not sent to it,
    and its queued deliveries and retries, a test's too, stop: they show as failed, "endpoint paused")."""
    endpoint = brand_endpoint(endpoint_id)
    if "url" in body:
        _check_url(body["url"])
    pausing = endpoint.active and body.get("active") is False
    before = _audited(endpoint)
    for key, value in body.items():
        setattr(endpoint, key, sorted(set(value)) if key == "events" else value)
    if changes := audit.diff(before, _audited(endpoint)):
        audit.record(db.session(), g.brand.id, "webhook.updated", "webhook", endpoint.id, changes)
    if pausing:
        db.session().flush()
        webhooks.stop_queued(db.session(), endpoint.id)
    db.session().commit()
    webhooks.forget_subscribers()
    return endpoint


@blp.route("/webhooks/<int:endpoint_id>/rotate-secret", methods=["POST"])
@require_brand
@requires("webhooks")
@blp.response(200, WebhookCreatedOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND)
def rotate_secret(endpoint_id: int) -> Any:
    """A new signing secret (shown this once); deliveries from now on are signed with it."""
    endpoint = brand_endpoint(endpoint_id)
    endpoint.secret = webhooks.new_endpoint_secret()
    audit.record(db.session(), g.brand.id, "webhook.secret_rotated", "webhook", endpoint.id)  # not the secret
    db.session().commit()
    return _created(endpoint)


@blp.route("/webhooks/<int:endpoint_id>/test", methods=["POST"])
@require_brand
@requires("webhooks")
@blp.response(202, WebhookDeliveryOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND)
def send_test(endpoint_id: int) -> Any:
    """Send a `webhook.test` event to this endpoint only (even if paused: then once, without retries), to
    check the receiver and its signature check; follow it in the answer's delivery (GET .../deliveries)."""
    endpoint = brand_endpoint(endpoint_id)
    session = db.session()
    event = WebhookEvent(brand_id=g.brand.id, uid=str(uuid.uuid4()), type=webhooks.TEST_EVENT, dispatched=True,
                         data={"endpoint_id": endpoint.id, "message": "Hello from Passcast"}, created_at=utcnow())
    session.add(event)
    session.flush()
    delivery = WebhookDelivery(brand_id=g.brand.id, event_id=event.id, endpoint_id=endpoint.id, status="queued",
                               attempts=0, created_at=utcnow())
    session.add(delivery)
    session.flush()
    webhooks.remember_deliveries(session, [delivery.id])
    session.commit()
    return delivery


@blp.route("/webhooks/<int:endpoint_id>", methods=["DELETE"])
@require_brand
@requires("webhooks")
@blp.response(204)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND)
def delete_endpoint(endpoint_id: int) -> None:
    """Remove an endpoint and its delivery history."""
    endpoint = brand_endpoint(endpoint_id)
    session = db.session()
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                    .execution_options(synchronize_session=False))
    audit.record(session, g.brand.id, "webhook.deleted", "webhook", endpoint.id, _audited(endpoint))
    session.delete(endpoint)
    session.commit()
    webhooks.forget_subscribers()


def _deliveries(query: dict[str, Any], endpoint_id: int | None) -> list[WebhookDelivery]:
    statement = select(WebhookDelivery).where(WebhookDelivery.brand_id == g.brand.id)
    if endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    if query["status"]:
        statement = statement.where(WebhookDelivery.status == query["status"])
    if query["event"]:
        statement = statement.join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id).where(
            WebhookEvent.type == query["event"])
    return page(statement, WebhookDelivery.id, query)


@blp.route("/webhooks/<int:endpoint_id>/deliveries", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(WebhookDeliveryQuery, location="query")
@blp.response(200, WebhookDeliveryOut(many=True), headers=LINK_HEADER)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND)
def endpoint_deliveries(query: dict[str, Any], endpoint_id: int) -> Any:
    """What was sent to this endpoint, newest first: status, attempts, the receiver's last answer."""
    return _deliveries(query, brand_endpoint(endpoint_id).id)


@blp.route("/webhook-deliveries", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(WebhookDeliveryQuery, location="query")
@blp.response(200, WebhookDeliveryOut(many=True), headers=LINK_HEADER)
def all_deliveries(query: dict[str, Any]) -> Any:
    """Deliveries to all of the brand's endpoints, newest first."""
    return _deliveries(query, None)


@blp.route("/webhook-deliveries/<int:delivery_id>/retry", methods=["POST"])
@require_brand
@requires("webhooks")
@blp.response(202, WebhookDeliveryOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such delivery in your brand")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="It is being sent right now")
def retry_delivery(delivery_id: int) -> Any:
    """Send a delivery again now (a failed one gets a fresh set of attempts)."""
    session = db.session()
    delivery = brand_row(WebhookDelivery, delivery_id, "webhook delivery")
    if delivery.status == "sending":
        raise Problem(409, "Being sent", "This delivery is being sent right now.")
    delivery.status, delivery.next_attempt_at, delivery.attempts = "queued", None, 0
    webhooks.remember_deliveries(session, [delivery.id])
    session.commit()
    return delivery
