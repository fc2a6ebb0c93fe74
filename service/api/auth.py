"""Who is calling: brands by API key (or a console session), cashiers by their own token (or a PIN
session), tills by their key.

Each decorator spends a rate-limit budget (service/web/rate_limits.py) once it knows the answer: the
credential's own budget when its secret matched, else the client address's budget of failed
authentications. Keying on the prefix before checking the secret would let anyone who has seen a
key's public prefix exhaust that key's budget.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar

from flask import current_app, g, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from service.access import scopes, web_session
from service.access.roles import STORE_SCOPED, permissions_of
from service.audit import Actor
from service.cashier import pins as cashier_pins
from service.models import ApiKey, Brand, Cashier, Till
from service.platform import db, secrets
from service.web import rate_limits
from service.web.client_address import client_address
from service.web.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        _refuse(Problem(401, "Unauthorized", "Send 'Authorization: Bearer <key>'."))
    return value.strip()


def _refuse(problem: Problem) -> NoReturn:
    """Raise `problem` for a credential that did not verify, or 429 once this address has sent too many."""
    verdict = rate_limits.spend(current_app.config["PASSCAST"].auth_failure_rate_limit, "auth-failed",
                                client_address())
    if not verdict.allowed:
        raise rate_limits.RateLimited(verdict, f"Too many requests with an unknown or wrong credential from "
                                               f"this address (limit {verdict.limit} per window); see Retry-After.")
    raise problem


def _spend_verified(token: str) -> None:
    """Count the request against the (verified) credential's budget; 429 when it is used up."""
    kind = token.split("_", 1)[0]
    verdict = rate_limits.spend(current_app.config["PASSCAST"].api_rate_limit, "api",
                                f"{kind}:{secrets.prefix_of(token, kind)}")
    g.rate_limit = verdict
    if not verdict.allowed:
        raise rate_limits.RateLimited(verdict, f"This credential is limited to {verdict.limit} requests per "
                                               f"window; see Retry-After.")


def api_key_for(value: str) -> ApiKey | None:
    """The active key of `value`, its brand loaded in the same query (every request needs it)."""
    prefix = secrets.prefix_of(value, "pk")
    if prefix is None:
        return None
    key = db.session().scalar(select(ApiKey).where(ApiKey.prefix == prefix).options(joinedload(ApiKey.brand)))
    if key is None or key.revoked_at is not None or not secrets.matches(value, key.secret_hash):
        return None
    return key


def brand_for_api_key(value: str) -> Brand | None:
    key = api_key_for(value)
    return key.brand if key is not None else None


def _signed_in_by_key(key: ApiKey) -> Brand:
    """What an API key may do (its scope, service/access/scopes.py) and who it is in the audit log."""
    g.api_key, g.scope, g.permissions = key, key.scope, scopes.permissions_of_scope(key.scope)
    g.actor = Actor("api_key", key.id, f"api key {key.prefix} ({key.name})")
    return key.brand


def _signed_in_at_counter(cashier: Cashier | None) -> None:
    """Cashier tokens, PIN sessions and till keys only reach the counter's endpoints."""
    g.scope, g.permissions = None, scopes.SCOPES["cashier"]
    if cashier is not None:
        g.actor = Actor("cashier", cashier.id, f"cashier {cashier.name}")


def cashier_for_token(value: str) -> Cashier | None:
    """The cashier of a cashier token, or of a PIN session (`ct_s<id>t<till>_...`,
    service/cashier/pins.py): one query either way, the brand (and the till) in the same query."""
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
    cashier = _cashier_by_prefix(prefix)
    if cashier is None or not secrets.matches(value, cashier.token_hash):
        return None
    return cashier


_CASHIER_COLUMNS = tuple(Cashier.__table__.columns)
_BRAND_COLUMNS = tuple(Brand.__table__.columns)
#: every till request's first statement: the cashier and its brand by the token's prefix
_CASHIER_BY_PREFIX = (select(*_CASHIER_COLUMNS, *_BRAND_COLUMNS).join(Brand, Brand.id == Cashier.brand_id)
                      .where(Cashier.token_prefix == bindparam("prefix")))


def _cashier_by_prefix(prefix: str) -> Cashier | None:
    """The cashier with its brand, as `select(Cashier).options(joinedload(Cashier.brand))` gives them. On
    PostgreSQL the row comes straight from the driver and becomes the two objects without the ORM's
    loading machinery: that was about 850 Python function calls on each of the till's requests, for
    one row (issue 18)."""
    session = db.session()
    rows = db.session_driver_rows(session, _CASHIER_BY_PREFIX, {"prefix": prefix})
    if rows is None:
        return session.scalar(select(Cashier).where(Cashier.token_prefix == prefix)
                              .options(joinedload(Cashier.brand)))
    if not rows:
        return None
    dialect = session.get_bind().dialect
    row = rows[0]
    width = len(_CASHIER_COLUMNS)
    brand = db.as_loaded(session, Brand, db.result_values(_BRAND_COLUMNS, row[width:], dialect))
    cashier = db.as_loaded(session, Cashier, db.result_values(_CASHIER_COLUMNS, row[:width], dialect))
    if "brand" not in cashier.__dict__:
        # set as a query's joinedload would: loaded, not a change
        from sqlalchemy.orm.attributes import set_committed_value

        set_committed_value(cashier, "brand", brand)
    return cashier


def console_principal() -> Brand | None:
    """The console's own calls: with no Authorization header, a console session cookie is the brand's
    principal with its role's permissions (g.permissions; g.store_ids for a store manager, else None).
    None when there is no session cookie at all. Unsafe methods need the session's CSRF token in the
    X-CSRF-Token header, and a read-only role is refused them (403) before any view runs."""
    if request.cookies.get(web_session.COOKIE) is None:
        return None
    row = web_session.current()
    if row is None:
        _refuse(Problem(401, "Unauthorized", "The console session has ended; sign in again.",
                        type_="/problems/session-ended"))
    account = row.account
    permissions = permissions_of(account.role)
    if request.method not in web_session.SAFE_METHODS:
        if not web_session.csrf_ok(row):
            raise Problem(403, "CSRF token missing", f"Send the session's CSRF token in {web_session.CSRF_HEADER}.",
                          type_="/problems/csrf")
        if not permissions - {"read"}:
            raise Problem(403, "Read-only", f"The {account.role} role can read but not change anything.",
                          type_="/problems/forbidden", permission_needed="write")
    verdict = rate_limits.spend(current_app.config["PASSCAST"].api_rate_limit, "api", f"staff:{account.id}")
    g.rate_limit = verdict
    if not verdict.allowed:
        raise rate_limits.RateLimited(verdict, f"This session is limited to {verdict.limit} requests per "
                                               f"window; see Retry-After.")
    g.brand, g.cashier, g.staff, g.permissions = account.brand, None, account, permissions
    g.actor = Actor("staff", account.id, f"staff {account.email}")
    g.store_ids = account.stores if account.role in STORE_SCOPED else None
    return account.brand


def require_brand(view: F) -> F:
    """A brand API key (g.permissions from its scope) or a console session (console_principal: from
    the role); sets g.brand."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "Authorization" not in request.headers and console_principal() is not None:
            return view(*args, **kwargs)
        token = _bearer()
        key = api_key_for(token)
        if key is None:
            _refuse(Problem(401, "Unauthorized", "Unknown or revoked API key."))
        _spend_verified(token)
        g.brand, g.cashier = _signed_in_by_key(key), None
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_brand_or_cashier(view: F) -> F:
    """A brand API key, a console session, or an active cashier's token; sets g.brand and g.cashier."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "Authorization" not in request.headers and console_principal() is not None:
            return view(*args, **kwargs)
        token = _bearer()
        cashier = cashier_for_token(token)
        if cashier is not None:
            _spend_verified(token)
            if not cashier.active:
                raise Problem(403, "Cashier disabled", "This cashier has been disabled by the brand.")
            g.brand, g.cashier = cashier.brand, cashier
            _signed_in_at_counter(cashier)
        else:
            key = api_key_for(token)
            if key is None:
                _refuse(Problem(401, "Unauthorized", "Unknown API key or cashier token."))
            _spend_verified(token)
            g.brand, g.cashier = _signed_in_by_key(key), None
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_cashier(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _bearer()
        cashier = cashier_for_token(token)
        if cashier is None:
            _refuse(Problem(401, "Unauthorized", "Unknown cashier token."))
        _spend_verified(token)
        if not cashier.active:
            raise Problem(403, "Cashier disabled", "This cashier has been disabled by the brand.")
        g.brand, g.cashier = cashier.brand, cashier
        _signed_in_at_counter(cashier)
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
        token = _bearer()
        till = till_for_key(token)
        if till is None:
            _refuse(Problem(401, "Unauthorized", "Unknown or revoked till key: pair this till again.",
                            type_="/problems/till-unpaired"))
        _spend_verified(token)
        g.till, g.brand, g.cashier = till, till.brand, None
        _signed_in_at_counter(None)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
