"""What every console page goes through: who is signed in, CSRF on unsafe requests, the role's
permissions, the language, and the page headers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, make_response, redirect, render_template, request, url_for

from service.access import web_session
from service.access.roles import ROLE_ORDER, permissions_of
from service.console import sections
from service.console.words import SCRIPT_WORDS, words_for
from service.web.languages import LANGUAGES
from service.web.page_headers import secure_page

F = TypeVar("F", bound=Callable[..., Any])
LANGUAGE_COOKIE = "passcast_lang"


def language() -> str:
    """`?lang=` (remembered in a cookie), else the remembered one, else the browser's."""
    asked = (request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE) or "").strip().lower()[:2]
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES, default="en") or "en"


def render(template: str, status: int = 200, **context: Any) -> Response:
    lang = language()
    words = words_for(lang)
    row = g.get("console_session")
    permissions = permissions_of(row.account.role) if row else frozenset()
    html = render_template(template, words=words, lang=lang, session_row=row, account=row.account if row else None,
                           permissions=permissions, sections=sections.visible(permissions),
                           script_words={key: words[key] for key in SCRIPT_WORDS},
                           csrf_token=row.csrf_token if row else "", roles=ROLE_ORDER, **context)
    response = secure_page(make_response(html, status), form_action="'self'", img_src="'self' data: blob:")
    response.headers["Cache-Control"] = "no-store"
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def signed_in(permission: str | None = None) -> Callable[[F], F]:
    """The page needs a signed-in session (else: to the sign-in page), the CSRF token on unsafe
    requests (else 403), and `permission` when given (else 403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            row = web_session.current()
            if row is None:
                return redirect(url_for("console.sign_in", next=request.path))
            if request.method not in web_session.SAFE_METHODS and not web_session.csrf_ok(row):
                return render("console/message.html", 403, message=words_for(language())["csrf"])
            if permission is not None and permission not in permissions_of(row.account.role):
                return render("console/message.html", 403, message=words_for(language())["not_allowed_page"])
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
