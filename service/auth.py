"""Who is calling: brands by API key, cashiers by their own token (or a PIN session), tills by their key."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from service import cashier_pins, db, secrets
from service.models import ApiKey, Brand, Cashier, Till
from service.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Problem(401, "Unauthorized", "Send 'Authorization: Bearer <key>'.")
    return value.strip()


def brand_for_api_key(value: str) -> Brand | None:
    prefix = secrets.prefix_of(value, "pk")
    if prefix is None:
        return None
    # the brand comes in the same query: every authenticated request needs it
    key = db.session().scalar(select(ApiKey).where(ApiKey.prefix == prefix).options(joinedload(ApiKey.brand)))
    if key is None or key.revoked_at is not None or not secrets.matches(value, key.secret_hash):
        return None
    return key.brand


def cashier_for_token(value: str) -> Cashier | None:
    """The cashier of a cashier token, or of a PIN session (`ct_s<id>t<till>_...`,
    service/cashier_pins.py): one query either way, the brand (and the till) in the same query."""
    prefix = secrets.prefix_of(value, "ct")
    if prefix is None:
        return None
    session_of = cashier_pins.session_ids(prefix)
    if session_of is not None:
        cashier_id, till_id = session_of
        row = db.session().execute(
            select(Cashier, Till).outerjoin(Till, Till.id == till_id).where(Cashier.id == cashier_id)
            .options(joinedload(Cashier.brand))).first()
        if row is None or not cashier_pins.session_valid(row.Cashier, row.Till, value):
            return None
        g.till = row.Till  # where this cashier stands: a cashier of no store posts for the till's store
        return row.Cashier
    cashier = db.session().scalar(
        select(Cashier).where(Cashier.token_prefix == prefix).options(joinedload(Cashier.brand)))
    if cashier is None or not secrets.matches(value, cashier.token_hash):
        return None
    return cashier


def require_brand(view: F) -> F:
    """A brand API key; sets g.brand."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        brand = brand_for_api_key(_bearer())
        if brand is None:
            raise Problem(401, "Unauthorized", "Unknown or revoked API key.")
        g.brand, g.cashier = brand, None
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_brand_or_cashier(view: F) -> F:
    """A brand API key or an active cashier's token; sets g.brand and g.cashier."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _bearer()
        cashier = cashier_for_token(token)
        if cashier is not None:
            if not cashier.active:
                raise Problem(403, "Cashier disabled", "This cashier has been disabled by the brand.")
            g.brand, g.cashier = cashier.brand, cashier
        else:
            brand = brand_for_api_key(token)
            if brand is None:
                raise Problem(401, "Unauthorized", "Unknown API key or cashier token.")
            g.brand, g.cashier = brand, None
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_cashier(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cashier = cashier_for_token(_bearer())
        if cashier is None:
            raise Problem(401, "Unauthorized", "Unknown cashier token.")
        if not cashier.active:
            raise Problem(403, "Cashier disabled", "This cashier has been disabled by the brand.")
        g.brand, g.cashier = cashier.brand, cashier
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def till_for_key(value: str) -> Till | None:
    prefix = secrets.prefix_of(value, "tl")
    if prefix is None:
        return None
    till = db.session().scalar(select(Till).where(Till.key_prefix == prefix)
                               .options(joinedload(Till.brand), joinedload(Till.store)))
    if till is None or till.revoked_at is not None or not secrets.matches(value, till.key_hash):
        return None
    return till


def require_till(view: F) -> F:
    """A paired till's key (`tl_...`); sets g.till and g.brand. Only PIN sign-in takes it."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        till = till_for_key(_bearer())
        if till is None:
            raise Problem(401, "Unauthorized", "Unknown or revoked till key: pair this till again.",
                          type_="/problems/till-unpaired")
        g.till, g.brand, g.cashier = till, till.brand, None
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
