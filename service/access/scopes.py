"""The permissions vocabulary, the scopes an API key is created with, and the per-endpoint check.

One set of words for every principal: an API key's scope and a staff account's role both come
down to a `frozenset` of these permissions on `g.permissions` (set at sign-in, service/api/auth.py),
and each brand-API endpoint names the one it needs with `@requires(...)`. A key made for a
dashboard or a till then cannot revoke keys or void cards, whatever its holder tries.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import g

from service.web.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])

#: Every permission, with what it covers (the docs and the 403 answer say the same).
PERMISSIONS: dict[str, str] = {
    "read": "any GET of the brand API that exposes no secret",
    "cashier": "scanning cards and counter transactions",
    "campaigns": "campaigns, geo campaigns, birthday rewards, back-in-stock events, NPS surveys, journeys",
    "design": "programs, tiers, images, certificates, enrolment settings",
    "members": "issuing, editing and voiding cards, points adjustments, imports, product subscriptions",
    "stores": "stores",
    "staff": "cashiers, their PINs, tills",
    "webhooks": "webhook endpoints and deliveries",
    "keys": "API keys",
    "accounts": "staff accounts",
    "audit": "reading the audit log",
    "partners": "partner programs: admitting partner brands to a program, joining or leaving another brand's",
}
ALL: frozenset[str] = frozenset(PERMISSIONS)

#: The scopes of an API key: chosen at creation, fixed for the key's life.
SCOPES: dict[str, frozenset[str]] = {
    "read_only": frozenset({"read"}),
    "cashier": frozenset({"read", "cashier"}),
    "campaigns": frozenset({"read", "campaigns"}),
    "full": ALL,
}
DEFAULT_SCOPE = "full"  # what keys made before scopes existed hold, so integrations keep working


def permissions_of_scope(scope: str) -> frozenset[str]:
    """A key's permissions; an unknown scope (a row edited by hand) grants nothing."""
    return SCOPES.get(scope, frozenset())


def ensure(permission: str, also: str | None = None) -> None:
    """403 problem+json unless the signed-in principal holds `permission` (or `also`, when given)."""
    if permission not in PERMISSIONS or (also is not None and also not in PERMISSIONS):
        raise ValueError(f"unknown permission {permission!r} / {also!r}")  # a typo must not open an endpoint
    held: frozenset[str] = g.get("permissions", frozenset())
    if permission in held or (also is not None and also in held):
        return
    scope = g.get("scope")
    whose = f"this API key's scope `{scope}`" if scope else "your role"
    raise Problem(403, "Permission missing",
                  f"This needs the `{permission}` permission ({PERMISSIONS[permission]}), which {whose} "
                  f"does not include.", type_="/problems/permission-missing",
                  permission=permission, scope=scope)


def requires(permission: str, *, also: str | None = None) -> Callable[[F], F]:
    """Mark a view with the permission it needs and check it (place it under the `require_*`
    sign-in decorator, above `@blp.arguments`, so a refused call is refused before its body is read).

    The mark is `view.permission` (kept by every `functools.wraps` above) and `x-permission` in the
    operation's OpenAPI entry, so a test can walk every route and find none forgotten. `also`: a second
    permission that opens the endpoint too (`x-permission-also`); the view narrows what it allows
    (points adjustments: `cashier` posts any transaction, `members` only hand-made earn/redeem).
    """
    if permission not in PERMISSIONS or (also is not None and also not in PERMISSIONS):
        raise ValueError(f"unknown permission {permission!r} / {also!r}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ensure(permission, also)
            return view(*args, **kwargs)

        wrapper.permission = permission  # type: ignore[attr-defined]
        apidoc = deepcopy(getattr(view, "_apidoc", {}))
        manual = apidoc.setdefault("manual_doc", {})
        manual["x-permission"] = permission
        if also is not None:
            manual["x-permission-also"] = also
        either = f"`{permission}`" + (f" or `{also}`" if also else "")
        manual.setdefault("responses", {})["403"] = {
            "description": f"Permission missing: this needs {either} (problem+json)"}
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
