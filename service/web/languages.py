"""The languages people's pages speak, and which one a request gets.

Shared by the join pages (service/enrolment/i18n.py has their words) and the error pages, which
are below every concern and so cannot import the enrolment package.
"""

from __future__ import annotations

from flask import Request

LANGUAGES = ("en", "ru")


def choose_language(request: Request) -> str:
    """`?lang=ru` wins; else the best of Accept-Language; else English."""
    asked = (request.args.get("lang") or "").strip().lower()[:2]
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES, default="en") or "en"
