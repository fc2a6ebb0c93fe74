"""Where a card's pushes went: per registration, the state of each push."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import or_, select

from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.cards import brand_card
from service.api.members import AppleStateOut, DeviceDiagnosisOut, GoogleStateOut
from service.models import DeviceLog, PushDelivery, Registration
from service.platform import db
from service.push.diagnosis import card_diagnosis

blp = Blueprint("deliveries", __name__, url_prefix="/api/v1", description="Devices and push delivery")


class DeliveryOut(Schema):
    id = fields.Integer()
    card_version = fields.Integer()
    client_kind = fields.String(metadata={"description": "apple (APNs) | relay (the Android app's own relay) | fcm"})
    client_app = fields.String(allow_none=True, metadata={
        "description": "relay: walletpasses | walletunion | walletunion-hms | pass2u | passworks"})
    status = fields.String(metadata={"description": "queued | sending | retry | accepted | confirmed | failed | "
                                                    "unregistered | unreachable. confirmed = the device fetched "
                                                    "this version; unreachable = no route reaches the token "
                                                    "(reason: SENDER_ID_MISMATCH, relay not configured, ...)"})
    reason = fields.String(allow_none=True)
    attempts = fields.Integer()
    campaign_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)


class RegistrationOut(Schema):
    id = fields.Integer()
    device_library_identifier = fields.String()
    client_kind = fields.String()
    client_app = fields.String(allow_none=True, metadata={"description": "as in deliveries"})
    active = fields.Boolean()
    dead_reason = fields.String(allow_none=True, metadata={
        "description": "Why it is not pushed (active false), e.g. BadDeviceToken or \"unreachable: "
                       "SENDER_ID_MISMATCH\"; with active true, \"unreachable: PASS2U_PUSH_URL is not "
                       "configured\" (pushes resume once it is)"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    deliveries = fields.List(fields.Nested(DeliveryOut))
    diagnosis = fields.Nested(DeviceDiagnosisOut, metadata={
        "description": "Why this phone has (not) updated: as in GET /cards/{card_id}/diagnosis"})


class CardDevicesOut(Schema):
    registrations = fields.List(fields.Nested(RegistrationOut))
    apple = fields.Nested(AppleStateOut, metadata={"description": "no_registration when no device holds the card"})
    google = fields.Nested(GoogleStateOut)
    other_deliveries = fields.List(fields.Nested(DeliveryOut), metadata={
        "description": "Pushes whose registration is gone (unregistered or replaced)"})


class DeviceLogOut(Schema):
    id = fields.Integer()
    message = fields.String()
    created_at = fields.DateTime()
    verified = fields.Method("_verified", metadata={
        "description": "false: a POST /passkit/v1/log entry that names this card's serial; that call has no "
                       "credential, so anyone may have sent it"})
    client_address = fields.String(allow_none=True, metadata={"description": "who posted the entry"})
    user_agent = fields.String(allow_none=True)

    def _verified(self, entry: DeviceLog) -> bool:
        return entry.card_id is not None


class LogQuery(Schema):
    q = fields.String(load_default=None, metadata={"description": "Only messages containing this text"})
    # A Range, not a lambda: marshmallow 4 ignores a validator's False (limit=0 answered [] and
    # limit=10**9 was unbounded).
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


@blp.route("/cards/<int:card_id>/logs", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(LogQuery, location="query")
@blp.response(200, DeviceLogOut(many=True))
def card_logs(query: dict[str, Any], card_id: int) -> Any:
    """What was reported about this card through POST /passkit/v1/log, newest first.

    That call is unauthenticated: entries that only name the card's serial say `verified: false`."""
    card = brand_card(card_id)
    statement = select(DeviceLog).where(or_(DeviceLog.card_id == card.id, DeviceLog.mentioned_card_id == card.id))
    if query["q"]:
        statement = statement.where(DeviceLog.message.contains(query["q"], autoescape=True))
    return db.session().scalars(statement.order_by(DeviceLog.id.desc()).limit(query["limit"])).all()


@blp.route("/cards/<int:card_id>/devices", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, CardDevicesOut)
def card_devices(card_id: int) -> Any:
    """The devices holding a card, the last 50 pushes to each, and why each has (not) updated."""
    card = brand_card(card_id)
    session = db.session()
    registrations = session.scalars(select(Registration).where(Registration.card_id == card.id)
                                    .order_by(Registration.id)).all()
    deliveries = session.scalars(select(PushDelivery).where(PushDelivery.card_id == card.id)
                                 .order_by(PushDelivery.id.desc()).limit(500)).all()
    by_registration: dict[int | None, list[PushDelivery]] = {}
    for delivery in deliveries:
        by_registration.setdefault(delivery.registration_id, []).append(delivery)
    diagnosed = card_diagnosis(session, current_app.config["PASSCAST"], card)
    answers = {device["registration_id"]: device for device in diagnosed["devices"]}
    listed = ("deliveries", "diagnosis")
    return {
        "registrations": [
            {**{column: getattr(r, column) for column in RegistrationOut._declared_fields if column not in listed},
             "deliveries": by_registration.get(r.id, [])[:50], "diagnosis": answers.get(r.id)}
            for r in registrations
        ],
        "apple": diagnosed["apple"],
        "google": diagnosed["google"],
        "other_deliveries": [d for d in deliveries if d.registration_id not in {r.id for r in registrations}][:50],
    }
