"""Tenancy: a brand reaches only its own rows, and another brand's ids look like missing ones.

Every lookup by id in the brand API goes through here, so that the rule is written once:
a row of another brand is answered exactly like a row that does not exist (never a 403
that would confirm the id is taken). `g.brand` is the brand of the API key, cashier or
till that signed the request in (service/api/auth.py).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from flask import g

from service.platform import db
from service.web.problems import Problem, validation_problem


class BrandOwned(Protocol):
    @property
    def brand_id(self) -> int: ...


T = TypeVar("T", bound=BrandOwned)


def own_row(model: type[T], row_id: int, *, populate_existing: bool = False) -> T | None:
    """The row if it exists and is the signed-in brand's; None for a missing and a foreign id alike.

    One primary-key get (no query at all when the session already holds the row), so hot paths
    can use it too. `populate_existing` reloads a row that another session may have changed.
    """
    row = db.session().get(model, row_id, populate_existing=populate_existing)
    return row if row is not None and row.brand_id == g.brand.id else None


def brand_row(model: type[T], row_id: int, what: str, *, populate_existing: bool = False) -> T:
    """The brand's row named by a URL id, else 404 "<What> not found" / "No <what> <id> in your brand."."""
    row = own_row(model, row_id, populate_existing=populate_existing)
    if row is None:
        raise Problem(404, f"{what[:1].upper()}{what[1:]} not found", f"No {what} {row_id} in your brand.")
    return row


def brand_row_field(model: type[T], row_id: int, field: str, what: str) -> T:
    """The brand's row named by an id in the request body, else 422 on that field."""
    row = own_row(model, row_id)
    if row is None:
        raise validation_problem([{"field": field, "message": f"No such {what} in your brand."}])
    return row
