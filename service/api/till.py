"""A paired till (`Authorization: Bearer tl_...`): who can sign in here, and PIN sign-in.

The till key only ever leads to these two calls. A PIN sign-in answers a cashier session
token (`ct_s...`) that the scan and transaction endpoints take like a cashier's own token;
see service/cashier/pins.py for the lockout and the sessions.
"""

from __future__ import annotations

from typing import Any

from flask import Response, after_this_request, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.access.scopes import requires
from service.api.auth import require_till
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.fields import Id
from service.cashier import pins as cashier_pins
from service.platform import db
from service.web.problems import Problem

blp = Blueprint("till", __name__, url_prefix="/api/v1/till", description="A paired till: PIN sign-in")

TILL_AUTH = [{"tillKey": []}]


class NamedOut(Schema):
    id = fields.Integer(metadata={"example": 3})
    name = fields.String(metadata={"example": "Demo Coffee Centraal"})


class TillOnTabletOut(NamedOut):
    idle_seconds = fields.Integer(metadata={"description": "The page signs a PIN session out after this long unused"})


class TillInfoOut(Schema):
    till = fields.Nested(TillOnTabletOut)
    brand = fields.Nested(NamedOut)
    store = fields.Nested(NamedOut, allow_none=True)
    cashiers = fields.List(fields.Nested(NamedOut), metadata={
        "description": "Active cashiers with a PIN who can sign in on this till, by name"})


class SignInIn(Schema):
    cashier_id = Id(required=True, strict=True, metadata={"example": 7})
    # Checked for shape only: a wrong PIN of any shape is one wrong attempt, nothing more.
    pin = fields.String(required=True, validate=validate.Length(min=1, max=64), load_only=True,
                        metadata={"example": "4071"})


class SessionOut(Schema):
    token = fields.String(metadata={
        "description": "A cashier session token: send it as `Authorization: Bearer` wherever a cashier token "
                       "goes; it ends at `expires_at`, when the PIN changes or the cashier is disabled"})
    expires_at = fields.DateTime()
    cashier = fields.Nested(NamedOut)


@blp.route("", methods=["GET"])
@require_till
@requires("read")
@blp.response(200, TillInfoOut)
@blp.alt_response(401, schema=ProblemOut, content_type=PROBLEM, description="Unknown or revoked till key")
@blp.doc(security=TILL_AUTH)
def till_info() -> Any:
    """This till, its brand and store, and the cashiers who can sign in here with a PIN."""
    till = g.till
    return {"till": till, "brand": g.brand, "store": till.store,
            "cashiers": cashier_pins.till_cashiers(db.session(), till)}


@blp.route("/sign-in", methods=["POST"])
@require_till
@requires("cashier")
@blp.arguments(SignInIn, example={"cashier_id": 7, "pin": "4071"})
@blp.response(200, SessionOut)
@blp.alt_response(401, schema=ProblemOut, content_type=PROBLEM,
                  description="Wrong PIN (`attempts_left` says how many tries remain), or not a cashier of this till")
@blp.alt_response(403, schema=ProblemOut, content_type=PROBLEM, description="Cashier disabled")
@blp.alt_response(429, schema=ProblemOut, content_type=PROBLEM,
                  description="Too many wrong PINs: locked until `locked_until` (and Retry-After)")
@blp.doc(security=TILL_AUTH)
def sign_in(body: dict[str, Any]) -> Any:
    """Sign a cashier in with their PIN; the answer's token works like their cashier token.
    After 5 wrong PINs in a row, PIN sign-in for that cashier is locked for 15 minutes."""
    try:
        cashier = cashier_pins.sign_in(db.session(), g.till, body["cashier_id"], body["pin"])
    except Problem as problem:
        retry_after = problem.extensions.get("retry_after")
        if retry_after:
            @after_this_request
            def _retry_after(response: Response) -> Response:
                response.headers["Retry-After"] = str(retry_after)
                return response
        raise
    token, expires_at = cashier_pins.new_session(cashier, g.till)
    return {"token": token, "expires_at": expires_at, "cashier": cashier}
