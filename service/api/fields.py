"""Custom marshmallow fields of the brand API, and how OpenAPI describes them."""

from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError, fields, validate


class DecimalText(fields.Decimal):
    """A decimal that travels as a JSON string ("12.5"; numbers are accepted too).

    Described as `type: string, format: decimal`, since a binary float cannot carry it exactly.
    """

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("as_string", True)
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)  # type: ignore[arg-type]


def register(api: object) -> None:
    api.register_field(DecimalText, "string", "decimal")  # type: ignore[attr-defined]


#: Every primary key is a 32-bit INTEGER: a larger id in a body or query cannot exist, and
#: PostgreSQL would refuse to even compare with it.
ID_RANGE = validate.Range(min=1, max=2**31 - 1, error="No such id.")


def Id(**kwargs: object) -> fields.Integer:  # noqa: N802 - reads like a field class at use sites
    """An id of one of our rows, in a body or a query string."""
    return fields.Integer(validate=ID_RANGE, **kwargs)  # type: ignore[arg-type]


def birthday_range(day: dt.date) -> None:
    """A birthday is a day already past, and not before 1900 (a mistyped year, not a customer)."""
    if day > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):  # +1: the customer's today may be ahead of UTC
        raise ValidationError("must not be in the future")
    if day < dt.date(1900, 1, 1):
        raise ValidationError("must not be before 1900-01-01")
