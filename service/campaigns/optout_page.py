"""The customer's messages page, /cards/<serial>/messages?key=<key>: marketing messages off or on.

Linked from the back of the pass (service/campaigns/optout.py). The key is the card's download
key, as on the card page: only the pass's holder has it. The form posts the key back with the
choice, so another site cannot post it for them without knowing the key (which is why this form
needs no CSRF cookie), and the page answers with a redirect to itself saying what was done. No
script; the join page's style and the brand's colours; 360 px first.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from service.campaigns import optout
from service.enrolment.i18n import Words, choose_language
from service.enrolment.page import program_ref
from service.loyalty.cards import display_number, touch
from service.models import Card
from service.platform import db
from service.web.page_headers import secure_page

bp = Blueprint("messages_page", __name__, template_folder="templates")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "messages_title": "Messages from {brand}",
        "messages_on": "This card gets our offers and news: on your lock screen and on the card.",
        "messages_off": "This card gets no offers or news from us.",
        "messages_always": "Changes to your card itself (your balance, stamps, rewards and level) always reach it.",
        "messages_turn_off": "Turn offers and news off",
        "messages_turn_on": "Turn offers and news back on",
        "messages_done_off": "Done: no more offers or news on this card.",
        "messages_done_on": "Done: offers and news are back on.",
        "messages_card": "Card {number}",
    },
    "ru": {
        "messages_title": "Сообщения от {brand}",
        "messages_on": "Эта карта получает наши предложения и новости: на экране блокировки и на карте.",
        "messages_off": "Эта карта не получает от нас предложений и новостей.",
        "messages_always": "Изменения самой карты (баланс, штампы, награды и уровень) приходят всегда.",
        "messages_turn_off": "Выключить предложения и новости",
        "messages_turn_on": "Снова включить предложения и новости",
        "messages_done_off": "Готово: предложений и новостей на этой карте больше не будет.",
        "messages_done_on": "Готово: предложения и новости снова включены.",
        "messages_card": "Карта {number}",
    },
}


class PageWords(Words):
    """The join page's words (the language switch) plus this page's own."""

    def __call__(self, key: str, **values: object) -> str:
        own = WORDS[self.language].get(key) or WORDS["en"].get(key)
        if own is None:
            return super().__call__(key, **values)
        return own.format(**values) if values else own


def _card(serial: str, key: str) -> Card:
    card = optout.card_for_link(db.session(), serial, key)
    if card is None:
        abort(404)
    return card


def _page(card: Card, words: PageWords, **context: Any) -> Response:
    program = card.program
    html = render_template("campaigns_messages/messages.html", program=program, brand=program.brand, card=card,
                           words=words, ref=program_ref(program), number=display_number(card),
                           off=optout.opted_out(db.session(), card.id), **context)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Language"] = words.language
    response.headers["Vary"] = "Accept-Language"
    response.headers["Cache-Control"] = "no-store"
    # the key is in this page's address: it must not travel to anyone in a Referer
    return secure_page(response, referrer="no-referrer", default_src="'none'", style_src="'self'",
                       img_src="'self'", form_action="'self'")


@bp.get("/cards/<serial>/messages")
def show(serial: str) -> Response:
    card = _card(serial, request.args.get("key", ""))
    done = request.args.get("done")
    return _page(card, PageWords(choose_language(request)), done=done if done in ("on", "off") else None,
                 key=request.args.get("key", ""))


@bp.post("/cards/<serial>/messages")
def change(serial: str) -> Any:
    key = request.form.get("key", "")
    card = _card(serial, key)
    choice = request.form.get("messages")
    if choice not in ("on", "off"):
        abort(400)
    changed = optout.set_opt_out(db.session(), card, choice == "off")
    if changed and any(store.geo_relevant_text for store in card.program.brand.stores):
        touch(card)  # the pass drops (or takes back) the running geo campaign's text near its stores
    db.session().commit()
    return redirect(url_for("messages_page.show", serial=serial, key=key, done=choice,
                            lang=request.args.get("lang") or None), code=303)
