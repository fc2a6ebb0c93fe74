"""`GET /api/v1/audit-log`: who changed what in the brand, newest first (permission `audit`)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import Select, select

from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.pagination import LINK_HEADER, PageQuery, page
from service.models import AuditEntry

blp = Blueprint("audit-log", __name__, url_prefix="/api/v1", description="The audit log of your brand")

_KIND_ID = r"^[a-z_]{1,40}(:[0-9]{1,10})?$"


class AuditQuery(PageQuery):
    action = fields.String(load_default=None, validate=validate.Regexp(r"^[a-z_.]{1,60}$"), metadata={
        "description": "One action (`card.voided`), or every action of a kind with a trailing dot (`program.`)",
        "example": "card.voided"})
    target = fields.String(load_default=None, validate=validate.Regexp(_KIND_ID), metadata={
        "description": "`<type>` or `<type>:<id>`", "example": "program:1"})
    actor = fields.String(load_default=None, validate=validate.Regexp(_KIND_ID), metadata={
        "description": "`<kind>` or `<kind>:<id>`: `api_key:4`, `staff:2`, `cashier`, `system`",
        "example": "api_key:4"})
    since = fields.AwareDateTime(load_default=None, metadata={"description": "From this moment on (inclusive)"})
    until = fields.AwareDateTime(load_default=None, metadata={"description": "Before this moment (exclusive)"})

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            raise ValidationError("Must be after since.", "until")

    @validates_schema
    def _ids(self, data: dict[str, Any], **_: Any) -> None:
        """An id past the database's integer range is no id of ours (PostgreSQL would refuse the query)."""
        for name in ("target", "actor"):
            if data.get(name):
                _, number = _kind_id(data[name])
                if number is not None and not 1 <= number <= 2**31 - 1:
                    raise ValidationError("No such id.", name)


class AuditActorOut(Schema):
    kind = fields.String(metadata={"description": "api_key | staff | cashier | system", "example": "api_key"})
    id = fields.Integer(allow_none=True, metadata={"example": 4})
    label = fields.String(metadata={"example": "api key a1b2c3d4e5f6 (POS sync)"})


class AuditTargetOut(Schema):
    type = fields.String(metadata={"example": "program"})
    id = fields.Integer(allow_none=True, metadata={"example": 1})


class AuditEntryOut(Schema):
    id = fields.Integer(metadata={"example": 120})
    created_at = fields.DateTime()
    actor = fields.Nested(AuditActorOut)
    action = fields.String(metadata={"example": "program.updated"})
    target = fields.Nested(AuditTargetOut)
    changes = fields.Dict(metadata={
        "description": "For a change: `{field: {before, after}}` of the fields that changed; for a creation or "
                       "a removal: a few facts of the row. Never a secret.",
        "example": {"background_color": {"before": "#111111", "after": "#6f4e37"}}})


def _kind_id(value: str) -> tuple[str, int | None]:
    kind, _, number = value.partition(":")
    return kind, int(number) if number else None


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "created_at": entry.created_at, "action": entry.action, "changes": entry.changes,
            "actor": {"kind": entry.actor_kind, "id": entry.actor_id, "label": entry.actor_label},
            "target": {"type": entry.target_type, "id": entry.target_id}}


def filtered(statement: Select[Any], query: dict[str, Any]) -> Select[Any]:
    """`statement` narrowed by an AuditQuery's filters (the console's audit page filters the same way)."""
    if query["action"]:
        action = query["action"]
        statement = statement.where(AuditEntry.action.startswith(action, autoescape=True) if action.endswith(".")
                                    else AuditEntry.action == action)
    for column_kind, column_id, value in ((AuditEntry.target_type, AuditEntry.target_id, query["target"]),
                                          (AuditEntry.actor_kind, AuditEntry.actor_id, query["actor"])):
        if value:
            kind, number = _kind_id(value)
            statement = statement.where(column_kind == kind)
            if number is not None:
                statement = statement.where(column_id == number)
    if query["since"]:
        statement = statement.where(AuditEntry.created_at >= query["since"])
    if query["until"]:
        statement = statement.where(AuditEntry.created_at < query["until"])
    return statement


@blp.route("/audit-log", methods=["GET"])
@require_brand
@requires("audit")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditEntryOut(many=True), headers=LINK_HEADER)
def audit_log(query: dict[str, Any]) -> Any:
    """Who changed what, newest first: design and rules, points, voids, API keys, webhooks, stores, staff,
    campaigns sent. Each entry is written in the same transaction as its change."""
    statement = filtered(select(AuditEntry).where(AuditEntry.brand_id == g.brand.id), query)
    return [entry_view(entry) for entry in page(statement, AuditEntry.id, query)]
