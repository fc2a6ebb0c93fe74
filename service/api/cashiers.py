"""Cashiers and tills of a brand: who may work the till, their PINs, and the tablets they use.

A cashier signs in on the cashier's page (/cashier) with their own token (`ct_...`, shown
once when the cashier is created), or, on a till paired with a till key (`tl_...`, shown
once), by picking their name and typing their PIN. Only hashes are stored: SHA-256 of the
random token and key, a slow salted scrypt of the PIN (service/cashier/pins.py); no answer
ever carries a PIN or a hash.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from service import audit
from service.access.accounts import qr_data_uri
from service.access.scopes import requires
from service.access.store_scope import check_store, visible, within_stores
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.fields import Id
from service.api.pagination import LINK_HEADER, PageQuery, page
from service.api.stores import brand_store
from service.api.tenancy import brand_row
from service.cashier import pins as cashier_pins
from service.models import Cashier, Till, utcnow
from service.platform import db, secrets

blp = Blueprint("cashiers", __name__, url_prefix="/api/v1",
                description="Cashiers (tokens, PINs) and the tills they sign in on")

_NO_CASHIER = "No such cashier in your brand"
_NO_TILL = "No such till in your brand"


# ---- schemas --------------------------------------------------------------------------------


class PinField(fields.String):
    """4-8 digits, as a string (leading zeros count); trivial PINs (1111, 1234) are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("A PIN is a string of 4 to 8 digits, such as \"4071\".")
        problem = cashier_pins.pin_problem(value)
        if problem:
            raise ValidationError(problem)
        return value


class CashierIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"example": "Eva"})
    store_id = Id(load_default=None, allow_none=True, strict=True, metadata={
        "description": "The cashier's store (their transactions count for it); null: any store of the brand",
        "example": 3})
    pin = PinField(load_default=None, allow_none=True, load_only=True, metadata={
        "description": "Optional PIN for signing in on a paired till (4-8 digits)", "example": "4071"})


class CashierPatch(Schema):
    """Send only what changes."""

    name = fields.String(validate=validate.Length(min=1, max=200), metadata={"example": "Eva de Boer"})
    store_id = Id(allow_none=True, strict=True, metadata={"example": 3})
    active = fields.Boolean(metadata={"description": "false: the cashier's token, PIN and sessions stop working",
                                      "example": False})


class PinIn(Schema):
    pin = PinField(required=True, metadata={"example": "4071"})


class CashierOut(Schema):
    id = fields.Integer(metadata={"example": 7})
    name = fields.String(metadata={"example": "Eva"})
    store_id = fields.Integer(allow_none=True, metadata={"example": 3})
    active = fields.Boolean(metadata={"example": True})
    has_pin = fields.Method("_has_pin", metadata={"type": "boolean", "example": True,
                                                  "description": "Whether a PIN is set (the PIN is never shown)"})
    pin_locked_until = fields.DateTime(allow_none=True, metadata={
        "description": "PIN sign-in is locked until then after too many wrong PINs; setting a new PIN unlocks it"})
    created_at = fields.DateTime()

    def _has_pin(self, cashier: Cashier | dict[str, Any]) -> bool:
        return cashier["has_pin"] if isinstance(cashier, dict) else cashier.pin_hash is not None


class CashierCreatedOut(CashierOut):
    token = fields.String(metadata={"description": "The cashier's token: shown this once",
                                    "example": "ct_a1b2c3d4e5f6_3q2-7wEAAAAAbGlrZSB0aGlzIGtleSBpcyBzZWNyZXQ"})


class TillIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"example": "Centraal, counter 1"})
    idle_seconds = fields.Integer(load_default=600, strict=True, validate=validate.Range(min=5, max=86400),
                                  metadata={"description": "A PIN sign-in on this till ends after this many "
                                                           "seconds without use (default 10 minutes)",
                                            "example": 600})
    store_id = Id(load_default=None, allow_none=True, strict=True, metadata={
        "description": "The till's store: its cashiers (and brand-wide ones) sign in there; null: the whole brand",
        "example": 3})


class TillOut(Schema):
    id = fields.Integer(metadata={"example": 2})
    name = fields.String(metadata={"example": "Centraal, counter 1"})
    store_id = fields.Integer(allow_none=True, metadata={"example": 3})
    prefix = fields.String(attribute="key_prefix",
                           metadata={"description": "Public part of the key (`tl_<prefix>_...`)"})
    idle_seconds = fields.Integer(metadata={"example": 600})
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class TillCreatedOut(TillOut):
    key = fields.String(metadata={"description": "The till key: shown this once"})
    pair_url = fields.String(metadata={
        "description": "Open this once on the till's browser to pair it (the key is in the #fragment, "
                       "so it reaches no server log); shown this once",
        "example": "https://passcast.example/cashier#till=tl_a1b2c3d4e5f6_..."})
    pair_qr = fields.String(metadata={
        "description": "`pair_url` as a QR code (a PNG `data:` URI, drawn here) for the tablet's camera; "
                       "shown this once", "example": "data:image/png;base64,iVBORw0KGgo..."})


# ---- cashiers -------------------------------------------------------------------------------


def brand_cashier(cashier_id: int) -> Cashier:
    """The brand's cashier; for a store manager only one of their stores' (else 404 like a missing id)."""
    return within_stores(brand_row(Cashier, cashier_id, "cashier"), "cashier", cashier_id)


def _store_id(value: int | None) -> int | None:
    """The brand's store (404 otherwise), which a store manager must run (403 otherwise, brand-wide too)."""
    store_id = brand_store(value).id if value is not None else None
    check_store(store_id)
    return store_id


@blp.route("/cashiers", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(PageQuery, location="query")
@blp.response(200, CashierOut(many=True), headers=LINK_HEADER)
def list_cashiers(query: dict[str, Any]) -> Any:
    """The brand's cashiers, disabled ones included, oldest first (never their tokens or PINs); a
    store manager sees those of their stores only."""
    statement = visible(select(Cashier).where(Cashier.brand_id == g.brand.id), Cashier.store_id)
    return page(statement, Cashier.id, query, newest_first=False)


@blp.route("/cashiers", methods=["POST"])
@require_brand
@requires("staff")
@blp.arguments(CashierIn, example={"name": "Eva", "store_id": 3, "pin": "4071"})
@blp.response(201, CashierCreatedOut)
def create_cashier(body: dict[str, Any]) -> Any:
    """Add a cashier. The answer's `token` is their secret: it is shown this once."""
    secret = secrets.new_secret("ct")
    cashier = Cashier(brand_id=g.brand.id, store_id=_store_id(body["store_id"]), name=body["name"],
                      token_prefix=secret.prefix, token_hash=secret.digest, active=True, created_at=utcnow())
    cashier_pins.set_pin(cashier, body["pin"])
    session = db.session()
    session.add(cashier)
    session.flush()
    audit.record(session, g.brand.id, "cashier.created", "cashier", cashier.id,
                 {**audit.snapshot(cashier, ("name", "store_id", "token_prefix")),
                  "pin_set": body["pin"] is not None})
    session.commit()
    return {**{field: getattr(cashier, field) for field in ("id", "name", "store_id", "active", "pin_locked_until",
                                                           "created_at")},
            "has_pin": cashier.pin_hash is not None, "token": secret.value}


@blp.route("/cashiers/<int:cashier_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, CashierOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NO_CASHIER)
def get_cashier(cashier_id: int) -> Any:
    """One cashier."""
    return brand_cashier(cashier_id)


@blp.route("/cashiers/<int:cashier_id>", methods=["PATCH"])
@require_brand
@requires("staff")
@blp.arguments(CashierPatch, example={"active": False})
@blp.response(200, CashierOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NO_CASHIER)
def patch_cashier(body: dict[str, Any], cashier_id: int) -> Any:
    """Rename, move to another store, disable or enable a cashier. Disabling stops their token,
    their PIN and their PIN sessions at once."""
    cashier = brand_cashier(cashier_id)
    if "store_id" in body:
        body["store_id"] = _store_id(body["store_id"])
    before = audit.snapshot(cashier, body)
    for key, value in body.items():
        setattr(cashier, key, value)
    if changes := audit.diff(before, audit.snapshot(cashier, body)):
        audit.record(db.session(), g.brand.id, "cashier.updated", "cashier", cashier.id, changes)
    db.session().commit()
    return cashier


@blp.route("/cashiers/<int:cashier_id>/pin", methods=["PUT"])
@require_brand
@requires("staff")
@blp.arguments(PinIn, example={"pin": "4071"})
@blp.response(200, CashierOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NO_CASHIER)
def set_pin(body: dict[str, Any], cashier_id: int) -> Any:
    """Set the cashier's PIN (4-8 digits; not one repeated digit or a run like 1234). This also
    lifts a lockout and ends the sessions signed in with the old PIN."""
    cashier = brand_cashier(cashier_id)
    cashier_pins.set_pin(cashier, body["pin"])
    audit.record(db.session(), g.brand.id, "cashier.pin_set", "cashier", cashier.id)  # the PIN itself: never
    db.session().commit()
    return cashier


@blp.route("/cashiers/<int:cashier_id>/pin", methods=["DELETE"])
@require_brand
@requires("staff")
@blp.response(200, CashierOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NO_CASHIER)
def clear_pin(cashier_id: int) -> Any:
    """Clear the cashier's PIN: they can no longer sign in on tills by PIN, and their PIN sessions end."""
    cashier = brand_cashier(cashier_id)
    cashier_pins.set_pin(cashier, None)
    audit.record(db.session(), g.brand.id, "cashier.pin_cleared", "cashier", cashier.id)
    db.session().commit()
    return cashier


# ---- tills ----------------------------------------------------------------------------------


def brand_till(till_id: int) -> Till:
    """The brand's till; for a store manager only one of their stores' (else 404 like a missing id)."""
    return within_stores(brand_row(Till, till_id, "till"), "till", till_id)


@blp.route("/tills", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(PageQuery, location="query")
@blp.response(200, TillOut(many=True), headers=LINK_HEADER)
def list_tills(query: dict[str, Any]) -> Any:
    """The brand's paired tills, revoked ones included (never their keys); a store manager sees
    those of their stores only."""
    statement = visible(select(Till).where(Till.brand_id == g.brand.id), Till.store_id)
    return page(statement, Till.id, query, newest_first=False)


@blp.route("/tills", methods=["POST"])
@require_brand
@requires("staff")
@blp.arguments(TillIn, example={"name": "Centraal, counter 1", "store_id": 3})
@blp.response(201, TillCreatedOut)
def create_till(body: dict[str, Any]) -> Any:
    """Pair a till: open the answer's `pair_url` once on the tablet (or scan `pair_qr` with its
    camera). From then on its cashiers sign in there with their PIN. `key`, `pair_url` and
    `pair_qr` are shown this once."""
    secret = secrets.new_secret("tl")
    till = Till(brand_id=g.brand.id, store_id=_store_id(body["store_id"]), name=body["name"],
                idle_seconds=body["idle_seconds"], key_prefix=secret.prefix, key_hash=secret.digest,
                created_at=utcnow())
    session = db.session()
    session.add(till)
    session.flush()
    audit.record(session, g.brand.id, "till.created", "till", till.id,
                 audit.snapshot(till, ("name", "store_id", "key_prefix", "idle_seconds")))
    session.commit()
    base = current_app.config["PASSCAST"].public_base_url.rstrip("/")
    pair_url = f"{base}/cashier#till={secret.value}"
    return {**{field: getattr(till, field) for field in ("id", "name", "store_id", "key_prefix", "idle_seconds",
                                                        "created_at", "revoked_at")},
            "key": secret.value, "pair_url": pair_url, "pair_qr": qr_data_uri(pair_url)}


@blp.route("/tills/<int:till_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, TillOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NO_TILL)
def get_till(till_id: int) -> Any:
    """One till (never its key); a store manager reads those of their stores only."""
    return brand_till(till_id)


@blp.route("/tills/<int:till_id>", methods=["DELETE"])
@require_brand
@requires("staff")
@blp.response(200, TillOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NO_TILL)
def revoke_till(till_id: int) -> Any:
    """Unpair a till (a lost tablet): no more PIN sign-ins on it, and the sessions signed in there
    end at once (each session names its till)."""
    till = brand_till(till_id)
    if till.revoked_at is None:
        till.revoked_at = utcnow()
        audit.record(db.session(), g.brand.id, "till.revoked", "till", till.id,
                     audit.snapshot(till, ("name", "key_prefix")))
        db.session().commit()
    return till
