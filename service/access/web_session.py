"""The console session as a browser holds it: a cookie, and the CSRF token sent back with
every unsafe request.

The cookie is HttpOnly (no script reads it), SameSite=Lax (another site's form POST arrives
without it) and Secure when PUBLIC_BASE_URL is https. It holds only the session token; the
session itself is a row (service/access/accounts.py), so signing out ends it everywhere it was
copied. SameSite alone is not the whole CSRF story (older browsers, same-site subdomains), so
unsafe requests also carry the session's CSRF token: the `csrf_token` form field or the
`X-CSRF-Token` header, compared in constant time.
"""

from __future__ import annotations

import hmac

from flask import Response, current_app, g, request

from service.access import accounts
from service.models import StaffSession
from service.platform import db

COOKIE = "passcast_console"
MFA_COOKIE = "passcast_console_mfa"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current() -> StaffSession | None:
    """This request's signed-in console session (once per request), or None."""
    if "console_session" not in g:
        g.console_session = accounts.session_for(db.session(), request.cookies.get(COOKIE))
    return g.console_session


def pending_mfa() -> StaffSession | None:
    return accounts.session_for(db.session(), request.cookies.get(MFA_COOKIE), mfa_pending=True)


def csrf_ok(row: StaffSession) -> bool:
    sent = request.headers.get(CSRF_HEADER) or (request.form.get(CSRF_FIELD) if request.form else None) or ""
    return hmac.compare_digest(sent.encode(), row.csrf_token.encode())


def set_cookie(response: Response, token: str, *, mfa: bool = False) -> Response:
    secure = current_app.config["PASSCAST"].public_base_url.lower().startswith("https://")
    lifetime = accounts.MFA_STEP_LIFETIME if mfa else accounts.SESSION_LIFETIME
    response.set_cookie(MFA_COOKIE if mfa else COOKIE, token, max_age=int(lifetime.total_seconds()),
                        secure=secure, httponly=True, samesite="Lax", path="/")
    return response


def clear_cookies(response: Response) -> Response:
    for name in (COOKIE, MFA_COOKIE):
        response.delete_cookie(name, path="/")
    return response
