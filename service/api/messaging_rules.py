"""A program's messaging rules: the frequency cap and quiet hours every campaign and journey keeps."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import _CLOCK, PROBLEM, ProblemOut  # _CLOCK: the happy hours' HH:MM
from service.api.cards import brand_program
from service.campaigns import rules
from service.campaigns.pacing import MAX_CAP_DAYS, OVER_CAP
from service.platform import db

blp = Blueprint("messaging_rules", __name__, url_prefix="/api/v1",
                description="Messaging rules: frequency caps and quiet hours")


class MessagingRulesIn(Schema):
    """Sent whole: a field left out takes its default (no cap, 7 days, no quiet hours, defer)."""

    cap_count = fields.Integer(load_default=None, allow_none=True, strict=True,
                               validate=validate.Range(min=1, max=100), metadata={
                                   "description": "At most this many marketing messages per card in cap_days "
                                                  "(campaigns and journeys together); null: no cap",
                                   "example": 2})
    cap_days = fields.Integer(load_default=7, strict=True, validate=validate.Range(min=1, max=MAX_CAP_DAYS),
                              metadata={"description": "The cap's window in days", "example": 7})
    over_cap = fields.String(load_default="defer", validate=validate.OneOf(OVER_CAP), metadata={
        "description": "A message over the cap: defer (sent when the cap allows) or drop", "example": "defer"})
    quiet_start = fields.String(load_default=None, allow_none=True, validate=_CLOCK, metadata={
        "description": "Quiet hours start (the customer's local time: home store's time zone, else the "
                       "program's, else UTC); messages then wait until quiet_end", "example": "21:00"})
    quiet_end = fields.String(load_default=None, allow_none=True, validate=_CLOCK,
                              metadata={"description": "Quiet hours end", "example": "08:00"})

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if (start is None) != (end is None):
            raise ValidationError("give both quiet_start and quiet_end, or neither", "quiet_end")
        if start is not None and start == end:
            raise ValidationError("quiet hours must end at another time than they start", "quiet_end")
        if start == "24:00":
            raise ValidationError("quiet hours start at 00:00-23:59", "quiet_start")


class MessagingRulesOut(MessagingRulesIn):
    program_id = fields.Integer()
    time_zone = fields.String(allow_none=True, metadata={
        "description": "The program's time zone (PATCH /programs/{id}); a store's time_zone wins for its customers"})


_EXAMPLE = {"cap_count": 2, "cap_days": 7, "over_cap": "defer", "quiet_start": "21:00", "quiet_end": "08:00"}


@blp.route("/programs/<int:program_id>/messaging-rules", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, MessagingRulesOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def get_rules(program_id: int) -> Any:
    """The program's frequency cap and quiet hours (the defaults when never set)."""
    return rules.view(db.session(), brand_program(program_id))


@blp.route("/programs/<int:program_id>/messaging-rules", methods=["PUT"])
@require_brand
@requires("campaigns")
@blp.arguments(MessagingRulesIn, example=_EXAMPLE)
@blp.response(200, MessagingRulesOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def put_rules(body: dict[str, Any], program_id: int) -> Any:
    """Set the cap and quiet hours every campaign and journey keeps for this program's cards.

    Campaign messages over the cap are deferred or dropped (over_cap); in quiet hours they wait
    for their end. The campaign report counts them under `paced`. Changes to a card itself
    (balance, stamps) are never held."""
    session = db.session()
    program = brand_program(program_id)
    before = rules.save(session, program, body)
    after = rules.view(session, program)
    if changes := audit.diff({name: before[name] for name in rules.FIELDS},
                             {name: after[name] for name in rules.FIELDS}):
        audit.record(session, g.brand.id, "program.messaging_rules_updated", "program", program.id, changes)
    session.commit()
    return after
