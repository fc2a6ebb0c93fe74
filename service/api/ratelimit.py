"""Rate limits of the brand API: one budget per API key across all its endpoints.

The budget is keyed on the key's public prefix (`pk_<prefix>_...`, unique per ApiKey row), so
it is counted without a database read and two keys of one brand have separate budgets;
cashier tokens and till keys get their own budget the same way, anonymous callers one per
address.
Counters live in memory by default and in Redis when REDIS_URL is set, so several web
processes share them. A refused request is a 429 problem+json with Retry-After.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many

from service import secrets
from service.problems import Problem, problem_response

API_PREFIX = "/api/v1/"


def caller_key() -> str:
    """Which budget a request spends: the API key's (cashier token's, till key's) id, else the address."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        value = value.strip()
        for kind in ("pk", "ct", "tl"):
            prefix = secrets.prefix_of(value, kind)
            if prefix:
                return f"{kind}:{prefix}"
    return f"ip:{get_remote_address()}"


def _limit() -> str:
    return current_app.config["PASSCAST"].api_rate_limit


def _exempt() -> bool:
    return not request.path.startswith(API_PREFIX) or request.path == API_PREFIX + "openapi.json"


def _too_many(error: RateLimitExceeded) -> Response:
    """429 as problem+json with Retry-After (seconds until the window lets a request through)."""
    response = problem_response(Problem(
        429, "Too many requests", f"This API key is limited to {error.description} requests; see Retry-After.",
        type_="/problems/rate-limited"))
    current = current_app.extensions["passcast_limiter"].current_limit
    wait = int(current.reset_at - time.time()) + 1 if current is not None else 60
    response.headers["Retry-After"] = str(max(1, wait))
    return response


def allow_join_attempt() -> tuple[bool, int]:
    """Count one join-form submission from this address; (allowed, seconds to wait if not).

    Not a route limit of Flask-Limiter: the page answers a refusal in the visitor's language
    with the form kept, instead of the API's problem+json."""
    limiter = current_app.extensions["passcast_limiter"]
    address = get_remote_address()
    for item in parse_many(current_app.config["PASSCAST"].join_rate_limit):
        if not limiter.limiter.hit(item, "join", address):
            reset_at, _remaining = limiter.limiter.get_window_stats(item, "join", address)
            return False, max(1, int(reset_at - time.time()) + 1)
    return True, 0


def spend(limits: str, namespace: str, key: str, wanted: int) -> int:
    """Take up to `wanted` units from every budget in `limits` (Flask-Limiter syntax) for `key`.

    Returns how many were granted (0 when a budget is spent): for callers that keep part of
    a batch rather than refuse the whole request."""
    limiter = current_app.extensions["passcast_limiter"].limiter
    items = parse_many(limits)
    granted = max(0, wanted)
    for item in items:
        granted = min(granted, limiter.get_window_stats(item, namespace, key).remaining)
    if granted and not all([limiter.hit(item, namespace, key, cost=granted) for item in items]):
        return 0
    return granted


def init_app(app: Flask) -> Limiter:
    settings = app.config["PASSCAST"]
    limiter = Limiter(
        caller_key,
        app=app,
        application_limits=[_limit],
        application_limits_exempt_when=_exempt,
        storage_uri=settings.redis_url or "memory://",
        strategy="moving-window",
        headers_enabled=True,
        key_prefix="passcast-api",
    )
    app.register_error_handler(RateLimitExceeded, _too_many)
    app.extensions["passcast_limiter"] = limiter
    return limiter
