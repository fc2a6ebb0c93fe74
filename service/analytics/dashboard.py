"""The brand's dashboard, inside the console (/console/dashboard): HTML + JS over the analytics API.

The page holds no secret and no API key: the browser calls /api/v1/analytics/* with the console's
session cookie (HttpOnly, so the script never sees it), which the brand API takes as the signed-in
person's principal (service/api/auth.py, console_principal). /dashboard, where it used to be,
sends people here.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, url_for

from service.analytics.dashboard_words import SCRIPT_KEYS, WORDS
from service.console import sections, words
from service.console.guard import language, render, signed_in

bp = Blueprint("dashboard_page", __name__,
               template_folder="templates", static_folder="static", static_url_path="/static/dashboard")
sections.add(sections.Section("dashboard_page.page", "dashboard", "read", 10, "/console/dashboard"))
words.add(WORDS)


@bp.get("/console/dashboard")
@signed_in("read")
def page() -> Response:
    everything = words.words_for(language())
    return render("dashboard/dashboard.html", dashboard_words={key: everything[key] for key in SCRIPT_KEYS})


@bp.get("/dashboard")
def old_address() -> Response:
    return redirect(url_for("dashboard_page.page"), 301)  # type: ignore[return-value]
