"""How often the till's safeguards refused a transaction: by rule and by store, for a period.

Refusals are counted when the API refuses (service/loyalty/limits.py), in rows of their own, so
the counts survive the refused transaction's rollback. A store manager sees their stores only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from service.access.scopes import requires
from service.access.store_scope import limited_to
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.cards import brand_program
from service.loyalty import limits as till_limits
from service.platform import db
from service.web.problems import validation_problem

blp = Blueprint("refusals", __name__, url_prefix="/api/v1", description="The till's safeguards: refusals")


class RefusalQuery(Schema):
    from_ = fields.AwareDateTime(data_key="from", load_default=None, default_timezone=dt.UTC, metadata={
        "description": "From this moment (included); default: the beginning"})
    to = fields.AwareDateTime(load_default=None, default_timezone=dt.UTC, metadata={
        "description": "Until this moment (excluded); default: now"})


class RefusalCountOut(Schema):
    rule = fields.String(metadata={"description": "once_per_hours | daily_cap | per_transaction_cap"})
    store_id = fields.Integer(allow_none=True, metadata={"description": "Where (null: posted for no store)"})
    count = fields.Integer()


class RefusalsOut(Schema):
    program_id = fields.Integer()
    total = fields.Integer()
    by_rule = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "example": {"once_per_hours": 12, "daily_cap": 3, "per_transaction_cap": 1}})
    counts = fields.List(fields.Nested(RefusalCountOut), metadata={"description": "By rule and store, most first"})


@blp.route("/programs/<int:program_id>/refusals", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(RefusalQuery, location="query")
@blp.response(200, RefusalsOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def refusals(query: dict[str, Any], program_id: int) -> Any:
    """Transactions the program's limits refused (earn once per N hours, daily cap, per-transaction cap),
    counted by rule and by store, in [from, to)."""
    program = brand_program(program_id)
    start, end = query.get("from_"), query.get("to")
    if start is not None and end is not None and start >= end:
        raise validation_problem([{"field": "to", "message": "`to` must be after `from`."}])
    counts = till_limits.refusal_counts(db.session(), program.id, start, end)
    stores = limited_to()
    if stores is not None:
        counts = [row for row in counts if row["store_id"] in stores]
    by_rule = {rule: sum(row["count"] for row in counts if row["rule"] == rule) for rule in till_limits.RULES}
    return {"program_id": program.id, "total": sum(by_rule.values()), "by_rule": by_rule, "counts": counts}
