"""The customer's NPS page (/nps/<token>), linked from the back of the pass.

A plain HTML form (works without JavaScript, in any in-app browser Wallet opens): pick
0-10, optionally say why, send. The token in the path is the card's signed token, so only
the card's holder can answer for it; answering again changes the answer while the survey runs.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, make_response, render_template, request

from service.models import Card
from service.nps import survey as nps
from service.platform import db
from service.web.page_headers import secure_page

bp = Blueprint("nps_page", __name__, template_folder="templates", static_folder="static", static_url_path="/static/nps")


def _page(status: int, **context: Any) -> Response:
    # no-referrer (the default): the token is in the URL
    response = secure_page(make_response(render_template("nps/nps.html", **context), status), form_action="'self'")
    response.headers["Cache-Control"] = "no-store"
    return response


def _brand_name(card: Card) -> str:
    return card.program.brand.name


@bp.route("/nps/<token>", methods=["GET", "POST"])
def answer(token: str) -> Response:
    session = db.session()
    card = nps.card_for_token(session, token)
    if card is None:
        return _page(404, state="unknown")
    survey = nps.active_survey(session, card.program_id)
    if survey is None or card.voided:
        return _page(410, state="closed", brand=_brand_name(card))
    current = nps.current_answer(session, survey, card)
    if request.method == "GET":
        return _page(200, state="ask", brand=_brand_name(card), question=survey.question,
                     current=current.score if current else None, comment=current.comment if current else "")
    raw = request.form.get("score", "")
    comment = (request.form.get("comment") or "").strip()[:1000] or None
    if not raw.isdigit() or not 0 <= int(raw) <= 10:
        return _page(422, state="ask", brand=_brand_name(card), question=survey.question,
                     current=current.score if current else None, comment=comment or "",
                     error="Please choose a number from 0 to 10.")
    changed = current is not None
    nps.record_answer(session, survey, card, int(raw), comment)
    session.commit()
    return _page(200, state="thanks", brand=_brand_name(card), score=int(raw), changed=changed)
