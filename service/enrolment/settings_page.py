"""The console's enrolment settings (/console/enrolment): the join page's address, the fields it
asks, its consent sentence per language, the welcome bonus, and the counter poster.

Rendered from the models; the form saves through PATCH /api/v1/programs/{id}/enrolment
(console.js, data-api), which needs the "design" permission: a role without it sees the settings
but no form. The poster preview and download use the public poster route (/join/<ref>/poster.*).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, request
from sqlalchemy import select

from service.access.roles import permissions_of
from service.console import sections, words
from service.console.guard import render, signed_in
from service.enrolment import join_settings
from service.enrolment.page import join_url, program_ref
from service.models import Program
from service.platform import db

bp = Blueprint("enrolment_page", __name__, template_folder="templates")
sections.add(sections.Section("enrolment_page.index", "nav_enrolment", "read", 60, "/console/enrolment"))

#: What PATCH /api/v1/programs/{id}/enrolment requires (service/api/enrolment.py).
CHANGE_PERMISSION = "design"

words.add({
    "nav_enrolment": ("Enrolment", "Вступление"),
    "enrolment_title": ("Enrolment", "Вступление в программу"),
    "enrolment_program": ("Program", "Программа"),
    "enrolment_choose": ("Show", "Показать"),
    "enrolment_link": ("Join page", "Страница вступления"),
    "enrolment_link_hint": ("Share this link, or print the poster for the counter.",
                            "Поделитесь ссылкой или распечатайте плакат для кассы."),
    "enrolment_slug": ("Address (the part after /join/)", "Адрес (часть после /join/)"),
    "enrolment_slug_hint": ("Lower-case letters, digits and dashes; empty: the program's number.",
                            "Строчные латинские буквы, цифры и дефисы; пусто — номер программы."),
    "enrolment_fields": ("Fields the form asks", "Поля формы"),
    "enrolment_fields_hint": ("The name is always asked; a phone or an e-mail must stay asked.",
                              "Имя спрашивается всегда; телефон или почта должны остаться."),
    "enrolment_field_phone": ("Phone", "Телефон"),
    "enrolment_field_email": ("E-mail", "Эл. почта"),
    "enrolment_field_birthday": ("Birthday", "День рождения"),
    "enrolment_state_required": ("Required", "Обязательно"),
    "enrolment_state_optional": ("Optional", "Необязательно"),
    "enrolment_state_off": ("Not asked", "Не спрашивать"),
    "enrolment_consent": ("Consent sentence", "Текст согласия"),
    "enrolment_consent_hint": ("Beside the checkbox every member ticks; empty: the built-in sentence.",
                               "Рядом с галочкой, которую отмечает каждый; пусто — стандартный текст."),
    "enrolment_consent_en": ("In English", "На английском"),
    "enrolment_consent_ru": ("In Russian", "На русском"),
    "enrolment_welcome": ("Welcome bonus (points)", "Приветственный бонус (баллы)"),
    "enrolment_welcome_hint": ("Given once to each card that joins through the join page; 0: none.",
                               "Начисляется один раз каждой карте, вступившей через страницу; 0 — нет."),
    "enrolment_referral": ("Referral bonus (points)", "Бонус за приглашение (баллы)"),
    "enrolment_referral_hint": ("Both cards get it at the invited card's first purchase; 0: off.",
                                "Обеим картам при первой покупке приглашённого; 0 — выключено."),
    "enrolment_poster": ("Counter poster", "Плакат для кассы"),
    "enrolment_poster_alt": ("The poster: the brand's name and a QR code of the join page",
                             "Плакат: название бренда и QR-код страницы вступления"),
    "enrolment_poster_pdf": ("Download the PDF (A4)", "Скачать PDF (A4)"),
    "enrolment_poster_png": ("Download the PNG", "Скачать PNG"),
    "enrolment_read_only": ("Your role can see these settings but not change them.",
                            "Ваша роль видит эти настройки, но не может их менять."),
    "enrolment_no_program": ("Your brand has no program yet.", "У вашего бренда пока нет программы."),
})


def brand_programs() -> list[Program]:
    """The signed-in brand's programs, oldest first (the console's brand: the session's account's)."""
    brand_id = g.console_session.account.brand_id
    return list(db.session().scalars(select(Program).where(Program.brand_id == brand_id).order_by(Program.id)))


def chosen_program(programs: list[Program]) -> Program | None:
    """`?program=<id>` among the brand's programs (another brand's id: 404), else the first."""
    asked = request.args.get("program", "")
    if not asked:
        return programs[0] if programs else None
    for program in programs:
        if str(program.id) == asked:
            return program
    abort(404)


@bp.get("/console/enrolment")
@signed_in("read")
def index() -> Response:
    programs = brand_programs()
    program = chosen_program(programs)
    if program is None:
        return render("enrolment_console/settings.html", programs=[], program=None)
    ref = program_ref(program)
    return render("enrolment_console/settings.html", programs=programs, program=program, ref=ref,
                  join_link=join_url(program, current_app.config["PASSCAST"].public_base_url),
                  asked=join_settings.fields_of(program), field_names=join_settings.FIELDS,
                  states=join_settings.STATES, consent=program.consent_text or {},
                  may_change=CHANGE_PERMISSION in permissions_of(g.console_session.account.role))
