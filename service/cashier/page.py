"""The cashier's page (/cashier): sign in, scan a card, post a purchase or a redemption.

Signing in takes the cashier's token or, on a till paired with the brand's pair link
(`/cashier#till=tl_...`), the cashier's name and PIN (service/api/till.py); either way the
page then holds a cashier bearer token and makes the same calls.

The page itself is HTML + JS in English or Russian (texts in service/cashier/words.py) that
talks to the cashier API (/api/v1/cashier/..., /api/v1/cards/<id>/transactions). The one thing
that API does not tell a cashier is whether the phones holding the card were told about the
change, so this blueprint adds a small, cashier-authenticated JSON view of the pushes for the
card's current version.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, Response, make_response, render_template, request
from sqlalchemy import func, select

from service.api.auth import require_cashier
from service.api.cards import counter_card
from service.cashier.words import script_words, words_for
from service.console.guard import LANGUAGE_COOKIE, language
from service.models import PushDelivery, Registration
from service.platform import db
from service.web.languages import LANGUAGES
from service.web.page_headers import secure_page

bp = Blueprint("cashier_page", __name__,
               template_folder="templates", static_folder="static", static_url_path="/static/cashier")

# What a push's status means to someone standing at the till.
_SENT = {"accepted", "confirmed"}
_PENDING = {"queued", "sending", "retry"}


@bp.get("/cashier")
def page() -> Response:
    # English or Russian as the console chooses (`?lang=`, remembered in the console's language
    # cookie, so a manager's choice holds on both; else Accept-Language): one language per device.
    lang = language()
    html = render_template("cashier/cashier.html", lang=lang, words=words_for(lang),
                           script_words=script_words(lang))
    # The page holds no secrets (token and till key live in the browser's localStorage); the
    # camera's frames are blobs, and the camera is for this origin only.
    response = secure_page(make_response(html), img_src="'self' data: blob:", media_src="'self' blob:")
    response.headers["Permissions-Policy"] = "camera=(self)"
    response.headers["Vary"] = "Accept-Language, Cookie"
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


@bp.get("/cashier/cards/<int:card_id>/push")
@require_cashier
def push_status(card_id: int) -> dict[str, Any]:
    """Did the change leave for the phones? Counts for the card's current version."""
    card, _ = counter_card(card_id)  # a partner program's card just scanned here too
    session = db.session()
    devices = session.scalar(select(func.count()).select_from(Registration)
                             .where(Registration.card_id == card.id, Registration.active.is_(True))) or 0
    statuses = Counter(session.scalars(select(PushDelivery.status).where(
        PushDelivery.card_id == card.id, PushDelivery.card_version == card.version)))
    return {
        "card_id": card.id,
        "card_version": card.version,
        "devices": devices,
        "sent": sum(statuses[s] for s in _SENT),
        "pending": sum(statuses[s] for s in _PENDING),
        "failed": sum(count for s, count in statuses.items() if s not in _SENT | _PENDING),
    }

