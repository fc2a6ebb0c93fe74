"""Cursor pagination for list endpoints: `?limit=50&cursor=...`, next page in a `Link` header.

The body stays a plain JSON list; `Link: <...&cursor=...>; rel="next"` (RFC 8288) is there
when there is more. A cursor is an opaque token for "after this id", so pages stay stable
while rows are being added (unlike offsets).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

from flask import Response, after_this_request, request
from marshmallow import Schema, fields, validate
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from service.platform import db
from service.web.problems import validation_problem

MAX_LIMIT = 200

LINK_HEADER = {
    "Link": {
        "description": 'RFC 8288 link to the next page, `<...?cursor=...>; rel="next"`, absent on the last page',
        "schema": {"type": "string"},
    }
}


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"Page size, 1..{MAX_LIMIT}", "example": 50})
    cursor = fields.String(load_default=None, validate=validate.Length(max=64), metadata={
        "description": "From the `Link: rel=\"next\"` header of the previous page"})


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "id" or not value.isdigit() or len(value) > 18:
            raise ValueError(cursor)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise validation_problem([{"field": "cursor", "message": "Not a cursor from this API."}]) from None


def page(statement: Select[Any], id_column: InstrumentedAttribute[int], query: dict[str, Any],
         *, newest_first: bool = True) -> list[Any]:
    """One page of `statement` ordered by `id_column`; sets the Link header when there is more."""
    limit = query["limit"]
    after = decode_cursor(query.get("cursor"))
    if after is not None:
        statement = statement.where(id_column < after if newest_first else id_column > after)
    order = id_column.desc() if newest_first else id_column.asc()
    rows = list(db.session().scalars(statement.order_by(order).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        _link_next(encode_cursor(rows[-1].id))
    return rows


def link_next(after_id: int) -> None:
    """Set the Link header to the page after row `after_id` (for a list `page` cannot build)."""
    _link_next(encode_cursor(after_id))


def _link_next(cursor: str) -> None:
    args = request.args.to_dict(flat=False)
    args["cursor"] = [cursor]
    url = f"{request.base_url}?{urlencode(args, doseq=True)}"

    @after_this_request
    def _add(response: Response) -> Response:
        response.headers["Link"] = f'<{url}>; rel="next"'
        return response
