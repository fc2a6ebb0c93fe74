"""`id IN (a thousand ids)` for the push paths, as one array parameter on PostgreSQL.

A campaign's pushes are claimed, recorded and queued a thousand rows at a time. Written as
`IN (...)`, every such statement carries a thousand bind parameters: SQLAlchemy renders them
(with a cast each) and psycopg converts the query text anew on every execution, because the
text differs with the length of the list. In the push fan-out bench that was the largest
part of the consumer's own database CPU, on the same GIL as the thread that sends. As
`= ANY(%(ids)s::INTEGER[])` the text is the same for any list: compiled once, converted once,
prepared by psycopg after a few runs, and the list travels as one binary array. PostgreSQL
plans it as the same index probe (`Index Cond: id = ANY($1)`).

SQLite has no arrays: there it stays `IN (...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def among(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """`column` is one of `ids` (integer keys), in the form cheapest for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(list(ids))
