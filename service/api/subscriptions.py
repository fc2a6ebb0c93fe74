"""Back in stock: cards subscribe to products; a restock event tells the subscribers once."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.campaigns import ReportOut
from service.api.cards import brand_card
from service.api.tenancy import brand_row, brand_row_field
from service.campaigns import restock, tasks
from service.campaigns.report import report
from service.models import Campaign, ProductSubscription, RestockEvent, Store
from service.platform import db
from service.web.problems import Problem

blp = Blueprint("subscriptions", __name__, url_prefix="/api/v1", description="Back-in-stock notifications")

VARIANT = validate.Length(min=1, max=50)


class ProductIn(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=100))
    size = fields.String(load_default=None, allow_none=True, validate=VARIANT,
                         metadata={"description": "Omit for any size"})
    colour = fields.String(load_default=None, allow_none=True, validate=VARIANT,
                           metadata={"description": "Omit for any colour"})
    product_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200),
                                 metadata={"example": "Linen shirt"})


class RestockIn(ProductIn):
    store_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                              validate=validate.Range(min=1, max=2**31 - 1))


class SubscriptionOut(Schema):
    id = fields.Integer()
    card_id = fields.Integer()
    sku = fields.String()
    size = fields.String(allow_none=True)
    colour = fields.String(allow_none=True)
    product_name = fields.String(allow_none=True)
    active = fields.Boolean()
    end_reason = fields.String(allow_none=True, metadata={"description": "notified | unsubscribed | card_voided"})
    restock_event_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


class SubscriptionQuery(Schema):
    active = fields.Boolean(load_default=None, allow_none=True)


class RestockOut(Schema):
    id = fields.Integer()
    sku = fields.String()
    size = fields.String(allow_none=True)
    colour = fields.String(allow_none=True)
    product_name = fields.String(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    campaign_id = fields.Integer()
    status = fields.String(metadata={"description": "processing | done"})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    told = fields.List(fields.Nested(SubscriptionOut), metadata={"description": "Who was told (first 1000)"})
    report = fields.Nested(ReportOut)


def subscription_view(subscription: ProductSubscription) -> dict[str, Any]:
    view = {key: getattr(subscription, key) for key in SubscriptionOut._declared_fields if key != "active"}
    view["active"] = subscription.ended_at is None
    return view


@blp.route("/cards/<int:card_id>/subscriptions", methods=["POST"])
@require_brand
@requires("members")
@blp.arguments(ProductIn, example={"sku": "SHIRT-1", "size": "M", "product_name": "Linen shirt"})
@blp.response(201, SubscriptionOut)
@blp.alt_response(200, schema=SubscriptionOut, description="The card was already subscribed to this product")
def subscribe(body: dict[str, Any], card_id: int) -> Any:
    """"Notify me when it is back": the brand's site calls this when the customer taps the button."""
    card = brand_card(card_id)
    if card.voided:
        raise Problem(409, "Card voided", f"Card {card.id} is voided; it gets no notifications.")
    subscription, created = restock.subscribe(db.session(), card, body["sku"], body["size"], body["colour"],
                                              body["product_name"])
    db.session().commit()
    return subscription_view(subscription), 201 if created else 200


@blp.route("/cards/<int:card_id>/subscriptions", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(SubscriptionQuery, location="query")
@blp.response(200, SubscriptionOut(many=True))
def card_subscriptions(query: dict[str, Any], card_id: int) -> Any:
    """The card's subscriptions, newest first; ?active=true for the open ones only."""
    card = brand_card(card_id)
    statement = select(ProductSubscription).where(ProductSubscription.card_id == card.id)
    if query["active"] is not None:
        statement = statement.where(ProductSubscription.ended_at.is_(None) if query["active"]
                                    else ProductSubscription.ended_at.is_not(None))
    subscriptions = db.session().scalars(statement.order_by(ProductSubscription.id.desc()).limit(500))
    return [subscription_view(s) for s in subscriptions]


def brand_subscription(subscription_id: int) -> ProductSubscription:
    return brand_row(ProductSubscription, subscription_id, "subscription")


@blp.route("/subscriptions/<int:subscription_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, SubscriptionOut)
def get_subscription(subscription_id: int) -> Any:
    """One subscription: open (active) or ended, and why."""
    return subscription_view(brand_subscription(subscription_id))


@blp.route("/subscriptions/<int:subscription_id>", methods=["DELETE"])
@require_brand
@requires("members")
@blp.response(204)
def unsubscribe(subscription_id: int) -> Any:
    """Unsubscribe (idempotent; an already ended subscription stays as it is)."""
    restock.unsubscribe(db.session(), brand_subscription(subscription_id))
    db.session().commit()
    return ""


@blp.route("/restock-events", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.arguments(RestockIn, example={"sku": "SHIRT-1", "size": "M", "store_id": 1})
@blp.response(202, RestockOut, description="Accepted; the subscribers are being told (see status)")
def restocked(body: dict[str, Any]) -> Any:
    """A SKU (size, colour) is back: every matching open subscription is told once, then ends."""
    session = db.session()
    store = None
    if body["store_id"] is not None:
        store = brand_row_field(Store, body["store_id"], "store_id", "store")
    event = restock.create_event(session, g.brand.id, body["sku"], body["size"], body["colour"],
                                 body["product_name"], store)
    session.flush()
    audit.record(session, g.brand.id, "restock_event.sent", "restock_event", event.id,
                 audit.snapshot(event, ("sku", "size", "colour", "product_name", "store_id")))
    session.commit()
    tasks.run_restock(event.id)
    session.expire_all()
    return restock_view(event)


def restock_view(event: RestockEvent) -> dict[str, Any]:
    session = db.session()
    view = {key: getattr(event, key) for key in RestockOut._declared_fields if key not in ("told", "report")}
    told = session.scalars(select(ProductSubscription).where(ProductSubscription.restock_event_id == event.id,
                                                             ProductSubscription.end_reason == "notified")
                           .order_by(ProductSubscription.id).limit(1000))
    view["told"] = [subscription_view(s) for s in told]
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    view["report"] = report(session, campaign)
    return view


@blp.route("/restock-events/<int:event_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, RestockOut)
def get_restock(event_id: int) -> Any:
    """The event, who was told, and what happened to their pushes."""
    return restock_view(brand_row(RestockEvent, event_id, "restock event"))
