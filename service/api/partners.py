"""Partner (coalition) programs: the host admits partner brands, partners accept or leave, and
both read the settlement (service/loyalty/partners.py and settlement.py hold the rules).

Changing who takes part needs the `partners` permission (an owner, or a full-scope key). A program
is reached here by its host, or by a brand that took part in it (the partner list, the point value
and the settlement: figures and brand names, no customer's data); anyone else gets the same 404
as for a program that does not exist.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, g, request
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.fields import DecimalText, Id
from service.api.tenancy import own_row
from service.loyalty import partners, settlement
from service.models import Brand, Program, ProgramPartner
from service.platform import db
from service.platform.csv_cells import safe_cell
from service.web.problems import Problem, validation_problem

blp = Blueprint("partners", __name__, url_prefix="/api/v1",
                description="Partner programs: partner brands, invitations, the settlement")


class PartnerIn(Schema):
    brand_id = Id(required=True, strict=True, metadata={"description": "The brand to invite (its owner tells "
                                                                       "you its id)", "example": 2})


class PartnerOut(Schema):
    program_id = fields.Integer()
    brand_id = fields.Integer()
    brand = fields.String(attribute="brand.name", metadata={"example": "Other Tea"})
    status = fields.String(metadata={"description": "invited | active | left"})
    invited_at = fields.DateTime()
    joined_at = fields.DateTime(allow_none=True)
    left_at = fields.DateTime(allow_none=True)


class PartnershipOut(Schema):
    program_id = fields.Integer()
    program = fields.String(attribute="program.name", metadata={"example": "City Points"})
    host_brand_id = fields.Integer(attribute="program.brand_id")
    host_brand = fields.String(attribute="program.brand.name")
    status = fields.String(metadata={"description": "invited | active | left"})
    invited_at = fields.DateTime()
    joined_at = fields.DateTime(allow_none=True)
    left_at = fields.DateTime(allow_none=True)


class PartnerSettingsIn(Schema):
    settlement_point_value = DecimalText(required=True, places=4,
                                            validate=validate.Range(min=0, min_inclusive=False, max=1000),
                                            metadata={"description": "What one point is worth in the program's "
                                                                     "currency when partners settle",
                                                      "example": "0.0100"})


class PartnerSettingsOut(Schema):
    program_id = fields.Integer()
    host_brand_id = fields.Integer()
    kind = fields.String()
    currency = fields.String()
    settlement_point_value = fields.String(allow_none=True, metadata={
        "description": "Set by the host; cashback points are worth 0.01 when unset"})
    point_value = fields.String(allow_none=True, metadata={"description": "The value the settlement uses"})


class SettlementQuery(Schema):
    from_ = fields.Date(data_key="from", required=True, metadata={"description": "First day (UTC, inclusive)",
                                                                  "example": "2026-11-01"})
    to = fields.Date(required=True, metadata={"description": "Last day (UTC, inclusive)", "example": "2026-11-30"})
    format = fields.String(load_default=None, validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "csv: the same figures as text/csv"})

    @validates_schema
    def _span(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data["from_"], data["to"]
        if end < start:
            raise ValidationError(f"must not be before `from` ({start})", "to")
        if (end - start).days >= settlement.MAX_DAYS:
            raise ValidationError(f"at most {settlement.MAX_DAYS} days at once", "to")


class SettlementBrandOut(Schema):
    brand_id = fields.Integer()
    brand = fields.String()
    role = fields.String(metadata={"description": "host | partner"})
    status = fields.String(metadata={"description": "host | active | invited | left | none"})
    points_issued = fields.Integer()
    points_redeemed = fields.Integer()
    points_expired = fields.Integer()
    net_points = fields.Integer(metadata={"description": "points_issued - points_redeemed"})
    value_issued = fields.String(allow_none=True)
    value_redeemed = fields.String(allow_none=True)
    net_value = fields.String(allow_none=True, metadata={"description": "Positive: pays it; negative: is paid it"})


class TransferOut(Schema):
    from_brand_id = fields.Integer()
    from_ = fields.String(data_key="from", attribute="from")
    to_brand_id = fields.Integer()
    to = fields.String()
    amount = fields.String()


class SettlementOut(Schema):
    program = fields.Dict()
    period = fields.Dict()
    currency = fields.String()
    point_value = fields.String(allow_none=True)
    brands = fields.List(fields.Nested(SettlementBrandOut))
    transfers = fields.List(fields.Nested(TransferOut))
    totals = fields.Dict()
    rule = fields.String()


def _not_found(program_id: int) -> Problem:
    return Problem(404, "Program not found", f"No program {program_id} in your brand.")


def hosted_program(program_id: int) -> Program:
    """The signed-in brand's own program (the host's calls)."""
    program = own_row(Program, program_id)
    if program is None:
        raise _not_found(program_id)
    return program


def shared_program(program_id: int) -> Program:
    """The brand's own program, or one it took part in (active or left); else 404."""
    program = own_row(Program, program_id)
    if program is not None:
        return program
    if partners.ever_joined(db.session(), program_id, g.brand.id):
        found = db.session().get(Program, program_id)
        if found is not None:
            return found
    raise _not_found(program_id)


def _partner_or_404(program: Program, brand_id: int) -> ProgramPartner:
    row = partners.partner_row(db.session(), program.id, brand_id)
    if row is None:
        raise Problem(404, "Partner not found", f"Brand {brand_id} was never invited to program {program.id}.")
    return row


def _audit(action: str, row: ProgramPartner, brand_id: int) -> None:
    """In `brand_id`'s audit log; in the other brand's log the actor is the brand, not its key or staff
    (who is who inside a brand is that brand's business)."""
    actor = None if brand_id == g.brand.id else audit.Actor("partner_brand", g.brand.id, f"brand {g.brand.name}")
    audit.record(db.session(), brand_id, action, "program", row.program_id,
                 {"partner_brand_id": row.brand_id, "status": row.status}, actor=actor)


@blp.route("/programs/<int:program_id>/partners", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, PartnerOut(many=True))
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="Not your program, nor one you are in")
def list_partners(program_id: int) -> Any:
    """The program's partner brands: invited, active and left."""
    return partners.partners_of(db.session(), shared_program(program_id).id)


@blp.route("/programs/<int:program_id>/partners", methods=["POST"])
@require_brand
@requires("partners")
@blp.arguments(PartnerIn, example={"brand_id": 2})
@blp.response(201, PartnerOut, description="Invited (or already invited or active: unchanged)")
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
@blp.alt_response(422, schema=ProblemOut, content_type=PROBLEM,
                  description="Not a brand, your own brand, a program kind partners cannot share, or no point value")
def invite_partner(body: dict[str, Any], program_id: int) -> Any:
    """Invite a brand to take part in this program. It takes part once its owner (or a full-scope
    key) accepts with `POST /api/v1/partnerships/{program_id}/accept`."""
    session = db.session()
    program = hosted_program(program_id)
    brand_id = body["brand_id"]
    if brand_id == g.brand.id or session.get(Brand, brand_id) is None:
        raise validation_problem([{"field": "brand_id", "message": "No other brand with this id."}])
    if program.kind not in partners.PARTNER_KINDS:
        why = partners.WHY_POINTS_ONLY.format(kind="stamp" if program.kind == "stamps" else program.kind)
        raise validation_problem([{"field": "program", "message": f"A {program.kind} program cannot have partners. "
                                                                  f"{why}"}])
    if settlement.point_value(program) is None:
        raise validation_problem([{"field": "settlement_point_value", "message":
                                   "Set what a point is worth first (PATCH .../partner-settings)."}])
    row = partners.invite(session, program, brand_id, g.actor.label if g.get("actor") else "")
    _audit("program.partner_invited", row, g.brand.id)
    session.commit()
    return row, 201


@blp.route("/programs/<int:program_id>/partners/<int:brand_id>", methods=["DELETE"])
@require_brand
@requires("partners")
@blp.response(204)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program or partner")
def remove_partner(program_id: int, brand_id: int) -> None:
    """Remove a partner (or withdraw an invitation): from now on its counters and keys reach none of
    the program's cards. Its entries stay in the ledger and in the settlement."""
    program = hosted_program(program_id)
    row = _partner_or_404(program, brand_id)
    partners.end(row)
    _audit("program.partner_removed", row, g.brand.id)
    db.session().commit()


def _settings(program: Program) -> dict[str, Any]:
    value = settlement.point_value(program)
    stored = program.settlement_point_value
    return {"program_id": program.id, "host_brand_id": program.brand_id, "kind": program.kind,
            "currency": program.currency, "settlement_point_value": format(stored, "f") if stored is not None else None,
            "point_value": format(value, "f") if value is not None else None}


@blp.route("/programs/<int:program_id>/partner-settings", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, PartnerSettingsOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="Not your program, nor one you are in")
def get_partner_settings(program_id: int) -> Any:
    """What a point is worth when the program's brands settle."""
    return _settings(shared_program(program_id))


@blp.route("/programs/<int:program_id>/partner-settings", methods=["PATCH"])
@require_brand
@requires("partners")
@blp.arguments(PartnerSettingsIn, example={"settlement_point_value": "0.0100"})
@blp.response(200, PartnerSettingsOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def patch_partner_settings(body: dict[str, Any], program_id: int) -> Any:
    """Set what a point is worth in the settlement (the host only; it applies to every period read after)."""
    program = hosted_program(program_id)
    before = program.settlement_point_value
    program.settlement_point_value = body["settlement_point_value"]
    audit.record(db.session(), g.brand.id, "program.settlement_value_changed", "program", program.id,
                 {"settlement_point_value": {"before": before, "after": body["settlement_point_value"]}})
    db.session().commit()
    return _settings(program)


@blp.route("/partnerships", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, PartnershipOut(many=True))
def list_partnerships() -> Any:
    """Other brands' programs your brand is invited to, takes part in, or has left."""
    return partners.partnerships_of(db.session(), g.brand.id)


def _invitation(program_id: int) -> ProgramPartner:
    row = partners.partner_row(db.session(), program_id, g.brand.id)
    if row is None or row.status == "left":
        raise Problem(404, "Invitation not found", f"Your brand has no invitation to program {program_id}.")
    return row


@blp.route("/partnerships/<int:program_id>/accept", methods=["POST"])
@require_brand
@requires("partners")
@blp.response(200, PartnershipOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No invitation to this program")
def accept_partnership(program_id: int) -> Any:
    """Accept the host's invitation: your cashiers can then scan the program's cards, post purchases,
    earn and redeem on them, and see their balance (never the customer's personal data)."""
    row = _invitation(program_id)
    partners.accept(row)
    _audit("program.partnership_accepted", row, g.brand.id)
    _audit("program.partnership_accepted", row, row.program.brand_id)
    db.session().commit()
    return row


@blp.route("/partnerships/<int:program_id>", methods=["DELETE"])
@require_brand
@requires("partners")
@blp.response(204)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No invitation to this program")
def leave_partnership(program_id: int) -> None:
    """Leave the program (or decline its invitation)."""
    row = _invitation(program_id)
    partners.end(row)
    _audit("program.partnership_left", row, g.brand.id)
    _audit("program.partnership_left", row, row.program.brand_id)
    db.session().commit()


def _wants_csv(query: dict[str, Any]) -> bool:
    if query.get("format"):
        return bool(query["format"] == "csv")
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/csv"]) == "text/csv" and accept["text/csv"] > 0


@blp.route("/programs/<int:program_id>/settlement", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(SettlementQuery, location="query")
@blp.response(200, SettlementOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="Not your program, nor one you are in")
def get_settlement(query: dict[str, Any], program_id: int) -> Any:
    """Per brand of the program: points issued, redeemed and expired in the period and their value,
    each brand's net position, and the transfers that settle it (`rule` says how). CSV for
    `?format=csv` or `Accept: text/csv`."""
    program = shared_program(program_id)
    body = settlement.settlement(db.session(), program, query["from_"], query["to"])
    if not _wants_csv(query):
        return body
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*settlement.CSV_COLUMNS, "currency"])
    writer.writerows([safe_cell(value) for value in row] for row in settlement.csv_rows(body))
    filename = f"passcast-settlement-{program.id}-{body['period']['from']}-{body['period']['to']}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
