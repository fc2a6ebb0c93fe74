"""The brand's dashboard (/dashboard): static HTML + JS over the analytics API.

The page holds no secret: the brand signs in with an API key that the browser keeps in
sessionStorage (gone when the tab closes) and sends as a Bearer token to /api/v1/analytics/*.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template

bp = Blueprint("dashboard_page", __name__)


@bp.get("/dashboard")
def page() -> Response:
    response = make_response(render_template("dashboard.html"))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
