"""Members: why a phone has not updated, sending a customer their card link again, and the
customer's rights over their data (a JSON copy of everything, erasure).

Export is personal data in bulk, so it needs `members` (not `read`), like every change here.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.cards import brand_card
from service.api.tenancy import brand_row
from service.enrolment import recovery
from service.enrolment.recovery_tasks import send_card_recovery
from service.loyalty import privacy
from service.models import Customer
from service.platform import db
from service.push.diagnosis import card_diagnosis
from service.web.problems import Problem
from service.webhooks import events as webhooks

blp = Blueprint("members", __name__, url_prefix="/api/v1",
                description="Members: device diagnosis, card link resend, data export and erasure")


class DeviceDiagnosisOut(Schema):
    registration_id = fields.Integer()
    device_library_identifier = fields.String()
    client_kind = fields.String(metadata={"description": "apple | relay | fcm"})
    client_app = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "token_dead | relay_not_configured | up_to_date | push_pending | "
                                                   "pushed_not_fetched | push_failed | unreachable | not_pushed"})
    summary = fields.String(metadata={"description": "The answer in plain English"})
    reason = fields.String(allow_none=True, metadata={"description": "The vendor's or our reason, when there is one"})
    app = fields.String(allow_none=True, metadata={"description": "relay: the Android wallet app"})
    attempts = fields.Integer(allow_none=True)
    card_version = fields.Integer()
    last_push_version = fields.Integer(allow_none=True)
    last_push_status = fields.String(allow_none=True)
    last_push_at = fields.DateTime(allow_none=True)


class AppleStateOut(Schema):
    state = fields.String(metadata={"description": "has_devices | no_registration"})
    removed = fields.Boolean(metadata={"description": "no_registration: a phone had it once (we had pushed to it)"})
    summary = fields.String()


class GoogleStateOut(Schema):
    state = fields.String(metadata={"description": "saved | removed | not_saved (latest Google callback) | dev "
                                                   "(Google Wallet not configured)"})
    configured = fields.Boolean()
    synced_version = fields.Integer(allow_none=True, metadata={"description": "The card version Google accepted"})
    behind = fields.Boolean(metadata={"description": "Google has not accepted the current version yet"})


class DiagnosisOut(Schema):
    card_id = fields.Integer()
    card_version = fields.Integer()
    card_updated_at = fields.DateTime()
    voided = fields.Boolean()
    apple = fields.Nested(AppleStateOut)
    devices = fields.List(fields.Nested(DeviceDiagnosisOut))
    google = fields.Nested(GoogleStateOut)


class ResendIn(Schema):
    language = fields.String(load_default=None, validate=validate.OneOf(["en", "ru"]), metadata={
        "description": "The message's language; default the customer's"})


class ResendOut(Schema):
    channel = fields.String(metadata={"example": "email"})
    to = fields.String(metadata={"description": "Where it goes", "example": "anna@example.com"})
    queued = fields.Boolean(metadata={"description": "false: the card had 3 messages in the last hour already, "
                                                     "nothing more was sent"})
    recovery_id = fields.Integer()


class EraseIn(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=280),
                           metadata={"example": "Customer's request of 2026-12-01"})


class EraseOut(Schema):
    customer_id = fields.Integer()
    erased = fields.Boolean()
    cards = fields.Integer()
    cards_voided = fields.Integer()
    registrations_deleted = fields.Integer()
    pushes_anonymised = fields.Integer()
    nps_comments_removed = fields.Integer()
    recoveries_deleted = fields.Integer()


def settings() -> Any:
    return current_app.config["PASSCAST"]


def device_diagnosis(card_id: int) -> dict[str, Any]:
    """GET /cards/{id}/diagnosis's answer (GET /cards/{id}/devices carries it per registration)."""
    return card_diagnosis(db.session(), settings(), brand_card(card_id))


@blp.route("/cards/<int:card_id>/diagnosis", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, DiagnosisOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such card in your brand")
def diagnosis(card_id: int) -> Any:
    """Why hasn't this phone updated? Per device holding the card, a state and a plain-English summary;
    when no device holds it, why (never added, or removed); and the card's Google Wallet state."""
    return device_diagnosis(card_id)


@blp.route("/cards/<int:card_id>/resend", methods=["POST"])
@require_brand
@requires("members")
@blp.arguments(ResendIn, example={})
@blp.response(202, ResendOut, description="The message is queued (development: written to the log)")
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such card in your brand")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="The card is voided, or its holder has no e-mail address")
def resend(body: dict[str, Any], card_id: int) -> Any:
    """E-mail the holder their card link again: the join page's card recovery (a one-time link and code
    that open the card, valid 15 minutes), at most 3 per card per hour."""
    card = brand_card(card_id)
    if card.voided:
        raise Problem(409, "Card voided", "A voided card's link is not sent.", type_="/problems/card-voided")
    email = card.customer.email
    if not email:
        raise Problem(409, "No e-mail address", "The holder has no e-mail address to send the link to.",
                      type_="/problems/no-email")
    session = db.session()
    language = body.get("language") or (card.customer.language if card.customer.language in ("en", "ru") else "en")
    row, send = recovery.start(session, card, "email", email, language)
    if send:
        audit.record(session, g.brand.id, "card.link_resent", "card", card.id, {"channel": "email"})
    session.commit()
    if send:
        send_card_recovery(row.id)
    return {"channel": "email", "to": email, "queued": send, "recovery_id": row.id}, 202


@blp.route("/customers/<int:customer_id>/export", methods=["GET"])
@require_brand
@requires("members")
@blp.response(200, description="A JSON file: profile, consents, cards with their ledger, devices, pushes, "
                               "NPS answers, referrals")
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such customer in your brand")
def export(customer_id: int) -> Response:
    """Everything we hold about a customer (GDPR access and portability), as a download."""
    customer = brand_row(Customer, customer_id, "customer")
    session = db.session()
    document = privacy.export(session, customer)
    audit.record(session, g.brand.id, "customer.exported", "customer", customer.id, {"cards": len(document["cards"])})
    session.commit()
    return Response(json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="customer-{customer.id}.json"', "Cache-Control": "no-store"})


@blp.route("/customers/<int:customer_id>/erase", methods=["POST"])
@require_brand
@requires("members")
@blp.arguments(EraseIn, example={"reason": "Customer's request of 2026-12-01"})
@blp.response(200, EraseOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such customer in your brand")
def erase(body: dict[str, Any], customer_id: int) -> Any:
    """Erase a customer (GDPR): name, e-mail, phone, birthday, push tokens and registrations go; the
    cards are voided; the ledger stays with its amounts (balances and analytics are unchanged) under
    an anonymous customer. Cannot be undone. Idempotent."""
    customer = brand_row(Customer, customer_id, "customer")
    session = db.session()
    was_live = {card.id for card in privacy.customer_cards(session, customer) if not card.voided}
    counts = privacy.erase(session, customer)
    audit.record(session, g.brand.id, "customer.erased", "customer", customer.id,
                 {**counts, "reason": body.get("reason")})
    for card in privacy.customer_cards(session, customer):
        if card.id in was_live:
            webhooks.emit(session, g.brand.id, "card.voided", webhooks.card_data(card, reason=privacy.ERASED_REASON))
    session.commit()
    return {"customer_id": customer.id, "erased": True, **counts}
