"""`/`: what this service is and where its pages are, for whoever opens the bare address first
(a newcomer after `make run`, a brand's staff, a customer who trimmed a link).

Public, like the join pages it lists: it names the programs' join pages (already public, on
posters) and the staff and developer pages, which all ask for their own credentials. English
or Russian by `?lang=` or Accept-Language, as the join pages choose.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from service.api.docs import DOCS_PATH
from service.enrolment.i18n import choose_language
from service.enrolment.page import program_ref
from service.models import Brand, Program
from service.platform import db
from service.web.page_headers import secure_page

bp = Blueprint("start_page", __name__)

# The page lists at most this many join pages (an instance with more has a marketing site).
MAX_PROGRAMS = 100

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Passcast",
        "intro": "Loyalty cards in Apple Wallet and Google Wallet, kept up to date on customers' phones, "
                 "and the tools around them for brands: a cashier's page, campaigns, join pages and analytics.",
        "join": "Join a loyalty program",
        "join_hint": "Get the card in your phone's wallet: no app, no password.",
        "no_programs": "No loyalty programs yet (make run creates a demo one).",
        "staff": "For shops and brands",
        "cashier": "Cashier's page",
        "cashier_hint": "Scan a card, add a purchase, redeem points (cashier token or till PIN).",
        "dashboard": "Console",
        "dashboard_hint": "The brand console: team, members, visits, campaigns and NPS (sign in as the demo owner).",
        "developers": "For developers",
        "api_docs": "API documentation",
        "openapi": "OpenAPI description (JSON)",
        "health": "Health",
        "live": "live",
        "ready": "ready",
        "other_language": "Русский",
    },
    "ru": {
        "title": "Passcast",
        "intro": "Карты лояльности в Apple Wallet и Google Кошельке, всегда актуальные на телефонах клиентов, "
                 "и всё, что нужно брендам: страница кассира, рассылки, страницы вступления и аналитика.",
        "join": "Вступить в программу лояльности",
        "join_hint": "Карта в кошельке вашего телефона: без приложения и пароля.",
        "no_programs": "Программ лояльности пока нет (make run создаёт демонстрационную).",
        "staff": "Для магазинов и брендов",
        "cashier": "Страница кассира",
        "cashier_hint": "Сканировать карту, провести покупку, списать баллы (токен кассира или PIN на кассе).",
        "dashboard": "Консоль",
        "dashboard_hint": "Консоль бренда: команда, участники, визиты, рассылки и NPS (вход владельца демо).",
        "developers": "Для разработчиков",
        "api_docs": "Документация API",
        "openapi": "Описание OpenAPI (JSON)",
        "health": "Состояние",
        "live": "работает",
        "ready": "готов",
        "other_language": "English",
    },
}


def join_pages() -> list[tuple[str, str, str]]:
    """(brand name, program name, join path) of the programs, by brand and program name."""
    rows = db.session().execute(
        select(Brand.name, Program).join(Program.brand).order_by(Brand.name, Program.name, Program.id)
        .limit(MAX_PROGRAMS)).all()
    return [(brand_name, program.name, f"/join/{program_ref(program)}") for brand_name, program in rows]


@bp.get("/")
def start() -> Response:
    language = choose_language(request)
    words = WORDS[language]
    response = Response(render_template("start_page.html", language=language, other="ru" if language == "en" else "en",
                                        words=words, programs=join_pages(), docs_path=DOCS_PATH),
                        mimetype="text/html")
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language"
    response.headers["Cache-Control"] = "no-cache"
    return secure_page(response, default_src="'none'", style_src="'self'")
