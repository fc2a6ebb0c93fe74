"""Every rate limit of the app goes through `spend`: one budget per (scope, identity), counted in one
store that every web process shares (Redis when REDIS_URL is set, else the database; see
service/web/rate_limit_storage.py), in one round trip per request.

The budgets in use (scope: identity, setting):

* `api`: a *verified* credential, `pk:<prefix>` (brand API key), `ct:<prefix>` (cashier token or PIN
  session), `tl:<prefix>` (till key); API_RATE_LIMIT. Spent only after the secret matched, so a
  stranger who knows a key's public prefix cannot use up its budget.
* `auth-failed`: the client address (service/web/client_address.py) of a request whose credential is
  missing or does not verify; AUTH_FAILURE_RATE_LIMIT.
* `join`: the client address of a join-form submission; JOIN_RATE_LIMIT.
* `console-sign-in`: the client address of a console sign-in, code or reset form; CONSOLE_SIGN_IN_RATE_LIMIT.
* `api` also counts console sessions (`staff:<account id>`), service/api/auth.py.

Limits use Flask-Limiter's syntax ("600/minute;20/second"); each part is a fixed window that starts
with its first hit. A refusal is counted too, so a client that keeps hammering stays refused until
the window ends.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from limits import RateLimitItem, parse_many

from service.web.problems import Problem, problem_response
from service.web.rate_limit_storage import WindowCounters, counters_for


@dataclass(frozen=True)
class Verdict:
    """The outcome of one `spend`, for the most constraining part of the limit."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float

    @property
    def retry_after(self) -> int:
        """Whole seconds until the window that refused this ends (at least 1)."""
        return max(1, math.ceil(self.reset_at - time.time()))


class RateLimited(Problem):
    """429 problem+json with Retry-After; raise it from a request handler."""

    def __init__(self, verdict: Verdict, detail: str) -> None:
        super().__init__(429, "Too many requests", detail, type_="/problems/rate-limited")
        self.verdict = verdict


@functools.lru_cache(maxsize=64)
def _parsed(limits: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limits))


def spend(limits: str, scope: str, identity: str, cost: int = 1) -> Verdict:
    """Count one request (`cost`) of `identity` against each part of `limits` in `scope`."""
    items = _parsed(limits)
    counters: WindowCounters = current_app.extensions["passcast_rate_counters"]
    answers = counters.hit([(f"{scope}:{identity}:{item.amount}/{item.get_expiry()}", item.get_expiry())
                            for item in items], cost)
    verdicts = [Verdict(hits <= item.amount, item.amount, max(0, item.amount - hits), reset_at)
                for item, (hits, reset_at) in zip(items, answers, strict=True)]
    refused = [verdict for verdict in verdicts if not verdict.allowed]
    if refused:
        return max(refused, key=lambda verdict: verdict.reset_at)
    return min(verdicts, key=lambda verdict: (verdict.remaining, -verdict.reset_at))


def _headers(response: Response) -> Response:
    """X-RateLimit-* of the budget this request spent (g.rate_limit, set by service/api/auth.py)."""
    verdict: Verdict | None = g.get("rate_limit")
    if verdict is not None:
        response.headers["X-RateLimit-Limit"] = str(verdict.limit)
        response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
        response.headers["X-RateLimit-Reset"] = str(math.ceil(verdict.reset_at))
    return response


def _too_many(problem: RateLimited) -> Response:
    response = problem_response(problem)
    response.headers["Retry-After"] = str(problem.verdict.retry_after)
    return response


def init_app(app: Flask) -> None:
    settings = app.config["PASSCAST"]
    for limits in (settings.api_rate_limit, settings.join_rate_limit, settings.auth_failure_rate_limit,
                   settings.console_sign_in_rate_limit):
        _parsed(limits)  # a bad limit stops start-up, not the first request
    counters = counters_for(app.extensions["db_engine"], settings.database_url, settings.redis_url)
    app.extensions["passcast_rate_counters"] = counters
    app.register_error_handler(RateLimited, _too_many)
    app.after_request(_headers)

