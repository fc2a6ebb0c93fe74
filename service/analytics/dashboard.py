"""The brand's dashboard (/dashboard): static HTML + JS over the analytics API.

The page holds no secret: the brand signs in with an API key that the browser keeps in
sessionStorage (gone when the tab closes) and sends as a Bearer token to /api/v1/analytics/*.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template

from service.web.page_headers import secure_page

bp = Blueprint("dashboard_page", __name__,
               template_folder="templates", static_folder="static", static_url_path="/static/dashboard")


@bp.get("/dashboard")
def page() -> Response:
    response = secure_page(make_response(render_template("dashboard/dashboard.html")), img_src="'self' data: blob:")
    response.headers["Cache-Control"] = "no-store"
    return response
