"""The security headers of our own HTML pages (join, NPS, cashier, dashboard), in one place.

Every page runs only our own scripts and styles, cannot be framed (a framed till or join form
is a clickjacking target), keeps its URL to itself and is never sniffed as another type. A
page names only what it needs beyond that: its directives of the Content-Security-Policy,
how much of its URL may go along as Referer, and any extra header.
"""

from __future__ import annotations

from flask import Response

BASE_POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
}


def secure_page(response: Response, *, referrer: str = "no-referrer", **directives: str) -> Response:
    """Set the headers on `response`; `directives` override BASE_POLICY (`img_src="..."` for img-src)."""
    policy = {**BASE_POLICY, **{name.replace("_", "-"): value for name, value in directives.items()}}
    response.headers["Content-Security-Policy"] = "; ".join(f"{name} {value}" for name, value in policy.items())
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = referrer
    return response
