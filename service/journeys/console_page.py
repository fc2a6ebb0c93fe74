"""The console's journeys section (/console/journeys): per program, its journeys with on/off
switches, the ready-made playbooks with one-click "Switch on", the edit form, and each journey's
report against its holdout (or, without one, a plain "not causal").

The switches and playbooks post to the brand API from the page (console.js, data-api), as the
other sections do. The edit form is a plain HTML form posted here (CSRF token in a hidden field):
a journey's actions are a list the JSON-from-inputs of console.js cannot build, and a plain form
works on any phone with or without script. It saves through service/journeys/editing.py, the
code the API's POST and PATCH run, so the console can do nothing the API cannot, and each
problem the checks find is shown next to its field.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, redirect, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from service.access.roles import permissions_of
from service.audit import Actor
from service.console import sections, words
from service.console.guard import language, render, signed_in
from service.enrolment.settings_page import brand_programs, chosen_program
from service.journeys import definitions, editing, playbooks
from service.journeys import report as journey_report
from service.models import CatalogueReward, Journey, Program, Store
from service.platform import db

bp = Blueprint("journeys_page", __name__, template_folder="templates")
sections.add(sections.Section("journeys_page.index", "nav_journeys", "read", 35, "/console/journeys"))

#: What the journeys API's changes require (service/api/journeys.py).
CHANGE_PERMISSION = "campaigns"

words.add({
    "nav_journeys": ("Journeys", "Сценарии"),
    "journeys_title": ("Journeys", "Сценарии"),
    "journeys_intro": ("Automatic messages and gifts: when something happens to a card (it joins, lapses, its "
                       "points are about to expire…), the journey acts once for that card.",
                       "Автоматические сообщения и подарки: когда с картой что-то происходит (клиент "
                       "присоединился, пропал, баллы скоро сгорят…), сценарий срабатывает для неё один раз."),
    "journeys_program": ("Program", "Программа"),
    "journeys_choose": ("Show", "Показать"),
    "journeys_none": ("No journeys yet: switch on a ready-made one below, or make your own.",
                      "Сценариев пока нет: включите готовый ниже или создайте свой."),
    "journeys_new": ("New journey", "Новый сценарий"),
    "journeys_name": ("Name", "Название"),
    "journeys_when": ("When", "Когда"),
    "journeys_does": ("Does", "Что делает"),
    "journeys_state": ("State", "Состояние"),
    "journeys_on": ("On", "Включён"),
    "journeys_off": ("Off", "Выключен"),
    "journeys_switch_on": ("Switch on", "Включить"),
    "journeys_switch_off": ("Switch off", "Выключить"),
    "journeys_edit": ("Edit", "Изменить"),
    "journeys_report": ("Report", "Отчёт"),
    "journeys_playbooks": ("Ready-made journeys", "Готовые сценарии"),
    "journeys_playbooks_hint": ("One click makes them, switched on, with English and Russian texts; edit them "
                                "afterwards like any journey. Switching on again never makes them twice.",
                                "Один щелчок создаёт и включает их, с текстами на английском и русском; потом их "
                                "можно изменить, как любой сценарий. Повторное включение не создаёт их дважды."),
    "journeys_playbook_on": ("Switched on", "Включён"),
    "journeys_playbook_partly": ("Partly on", "Включён частично"),
    "journeys_playbook_off": ("Off", "Выключен"),
    "journeys_playbook_unavailable": ("Not for this program:", "Не для этой программы:"),
    "journeys_playbook_switch_off": ("Switch all off", "Выключить все"),
    "journeys_tasks_link": ("Tasks for store managers", "Задачи для управляющих"),
    "journeys_read_only": ("Your role can see journeys but not change them.",
                           "Ваша роль видит сценарии, но не может их менять."),
    "journeys_no_program": ("Your brand has no program yet.", "У вашего бренда пока нет программы."),
    "journeys_back": ("All journeys", "Все сценарии"),
    "journeys_holdout_n": ("Holdout", "Контрольная группа"),
    # triggers
    "journeys_trigger": ("When this happens", "Когда это происходит"),
    "journeys_trigger_value": ("Number for the trigger", "Число для условия запуска"),
    "journeys_trigger_value_hint": ("Visits for “Nth visit”, points (or stamps) from a reward, days for expiring "
                                    "points and for lapsed, the score (0-10) for an NPS answer; empty for the "
                                    "others.",
                                    "Визиты для «N-й визит», баллы (или штампы) до награды, дни для сгорания баллов "
                                    "и для «пропал», оценка (0-10) для ответа NPS; для остальных — пусто."),
    "journeys_t_joined": ("Joined", "Присоединился"),
    "journeys_t_first_purchase": ("First purchase", "Первая покупка"),
    "journeys_t_nth_visit": ("Nth visit", "N-й визит"),
    "journeys_t_reward_within_reach": ("Reward within reach", "Награда рядом"),
    "journeys_t_points_expiring": ("Points expiring in N days", "Баллы сгорят через N дней"),
    "journeys_t_lapsed": ("No visit for N days", "Нет визитов N дней"),
    "journeys_t_tier_up": ("Tier up", "Повышение уровня"),
    "journeys_t_tier_down": ("Tier down", "Понижение уровня"),
    "journeys_t_birthday": ("Birthday", "День рождения"),
    "journeys_t_nps_at_or_below": ("NPS answer at or below N", "Оценка NPS N и ниже"),
    # conditions
    "journeys_conditions": ("Only cards that…", "Только карты, которые…"),
    "journeys_conditions_hint": ("Optional; every one set must hold when the trigger fires.",
                                 "Необязательно; каждое заданное условие должно выполняться при запуске."),
    "journeys_tiers": ("are in one of these tiers", "на одном из этих уровней"),
    "journeys_min_balance": ("hold at least this balance", "имеют баланс не меньше"),
    "journeys_max_balance": ("hold at most this balance", "имеют баланс не больше"),
    "journeys_store_ids": ("have one of these home stores", "с одним из этих домашних магазинов"),
    # actions
    "journeys_actions": ("Then do", "Тогда сделать"),
    "journeys_message": ("Send a message on the pass (and Google Wallet)",
                         "Отправить сообщение на карту (и в Google Wallet)"),
    "journeys_message_text": ("Message (default language)", "Сообщение (язык по умолчанию)"),
    "journeys_message_ru": ("Message in Russian", "Сообщение на русском"),
    "journeys_placeholders": ("You can use {name}, {balance}, {points_needed}, {reward}, {expiring_points}, "
                              "{expiry_date}, {stamps_required}.",
                              "Можно вставлять {name}, {balance}, {points_needed}, {reward}, {expiring_points}, "
                              "{expiry_date}, {stamps_required}."),
    "journeys_points": ("Give bonus points", "Начислить бонусные баллы"),
    "journeys_stamps": ("Give stamps", "Поставить штампы"),
    "journeys_coupon": ("Give a coupon from the catalogue", "Выдать купон из каталога"),
    "journeys_coupon_none": ("No coupon", "Без купона"),
    "journeys_coupon_name": ("…or a coupon named", "…или купон с названием"),
    "journeys_coupon_days": ("Coupon valid for days (empty: no end)", "Купон действует дней (пусто — бессрочно)"),
    "journeys_webhook": ("Tell your webhook (event journey.entered)",
                         "Сообщить вашему вебхуку (событие journey.entered)"),
    "journeys_task": ("Give the store manager a task", "Дать задачу управляющему магазином"),
    "journeys_task_text": ("What to do", "Что сделать"),
    "journeys_holdout": ("Holdout: % of entering cards kept back", "Контрольная группа: % карт без действий"),
    "journeys_holdout_hint": ("Chosen at random, these get nothing; the report compares them with the rest to show "
                              "what the journey caused. 0: nobody, and the report cannot tell effect from "
                              "coincidence.",
                              "Выбранные случайно, они ничего не получают; отчёт сравнивает их с остальными и "
                              "показывает, что дал сценарий. 0 — никого, и тогда отчёт не отличит эффект от "
                              "совпадения."),
    "journeys_cost": ("Cost per entry beyond points and catalogue coupons (optional)",
                      "Стоимость одного срабатывания сверх баллов и купонов каталога (необязательно)"),
    "journeys_enabled": ("Switched on", "Включён"),
    "journeys_save": ("Save the journey", "Сохранить сценарий"),
    "journeys_saved": ("Saved.", "Сохранено."),
    "journeys_fix": ("Some fields need a change; see the notes beside them.",
                     "Некоторые поля нужно исправить; см. пояснения рядом с ними."),
    "journeys_new_title": ("New journey", "Новый сценарий"),
    "journeys_edit_title": ("Edit the journey", "Изменить сценарий"),
    # report
    "journeys_report_title": ("Report", "Отчёт"),
    "journeys_report_window": ("Purchases in the {days} days after each entry; a card that entered twice counts "
                               "twice. A journey that sends a message compares the cards a phone or Google Wallet "
                               "held when they entered.",
                               "Покупки за {days} дней после каждого срабатывания; карта, попавшая в сценарий "
                               "дважды, считается дважды. Сценарий с сообщением сравнивает карты, которые были на "
                               "телефоне или в Google Wallet в момент срабатывания."),
    "journeys_r_entered": ("Entered", "Срабатываний"),
    "journeys_r_skipped": ("Skipped (conditions)", "Пропущено (условия)"),
    "journeys_r_reached": ("Reached (held back: would have been)", "Дошло (у контрольной — могло бы)"),
    "journeys_r_compared": ("Compared", "В сравнении"),
    "journeys_r_treated": ("Treated", "Получили"),
    "journeys_not_causal": ("No holdout is kept, so these figures are not causal: they show what the cards that "
                            "entered did, not what the journey made them do.",
                            "Контрольной группы нет, поэтому эти цифры не причинные: они показывают, что сделали "
                            "карты, а не что сделал сценарий."),
    "journeys_cost_title": ("What was given", "Что выдано"),
    "journeys_cost_points": ("Points given", "Начислено баллов"),
    "journeys_cost_coupons": ("Coupons given", "Выдано купонов"),
    "journeys_cost_per_entry": ("Per-entry cost", "Стоимость срабатываний"),
    "journeys_cost_total": ("Cost", "Стоимость"),
    "journeys_cost_unknown": ("Unknown: ", "Неизвестно: "),
    "journeys_csv": ("Download as CSV", "Скачать CSV"),
    # what a journey does, in the list (short)
    "journeys_a_message": ("message", "сообщение"),
    "journeys_a_points": ("points", "баллы"),
    "journeys_a_stamps": ("stamps", "штампы"),
    "journeys_a_coupon": ("coupon", "купон"),
    "journeys_a_webhook": ("webhook", "вебхук"),
    "journeys_a_task": ("task", "задача"),
})

FIELD_OF = {"name": "name", "trigger": "trigger", "trigger_value": "trigger_value",
            "holdout_percent": "holdout_percent", "cost_per_entry": "cost_per_entry", "enabled": "enabled",
            "conditions.tiers": "tiers", "conditions.store_ids": "store_ids", "conditions.min_balance": "min_balance",
            "conditions.max_balance": "max_balance", "playbook": "general", "actions": "actions"}
ACTION_FIELD = {"message": "message_text", "points": "points", "stamps": "stamps", "coupon": "coupon_reward_id",
                "webhook": "webhook", "task": "task_text"}


def _brand_id() -> int:
    return int(g.console_session.account.brand_id)


def _journey(journey_id: int) -> Journey | None:
    """The brand's journey; None for another brand's id, exactly as for a missing one."""
    journey = db.session().get(Journey, journey_id)
    return journey if journey is not None and journey.brand_id == _brand_id() else None


def _not_found() -> Response:
    return render("console/message.html", 404, message=words.words_for(language())["not_found"])


def may_change() -> bool:
    return CHANGE_PERMISSION in permissions_of(g.console_session.account.role)


@bp.get("/console/journeys")
@signed_in("read")
def index() -> Response:
    session = db.session()
    programs = brand_programs()
    program = chosen_program(programs)
    if program is None:
        return render("journeys/list.html", programs=[], program=None)
    journeys = list(session.scalars(select(Journey).where(Journey.program_id == program.id)
                                    .order_by(Journey.id.desc()).limit(200)))
    return render("journeys/list.html", programs=programs, program=program, journeys=journeys,
                  playbooks=playbooks.listing(session, program), may_change=may_change(), describe=describe)


def describe(journey: Journey, texts: dict[str, str]) -> tuple[str, str]:
    """(when, does) in the page's words."""
    when = texts[f"journeys_t_{journey.trigger}"]
    if journey.trigger_value is not None:
        when = f"{when}: {journey.trigger_value}"
    does = ", ".join(texts[f"journeys_a_{action['type']}"] for action in journey.actions or [])
    return when, does


def _catalogue(program: Program) -> list[CatalogueReward]:
    return list(db.session().scalars(select(CatalogueReward).where(
        CatalogueReward.program_id == program.id, CatalogueReward.active.is_(True)).order_by(CatalogueReward.name)))


def _stores() -> list[Store]:
    return list(db.session().scalars(select(Store).where(Store.brand_id == _brand_id()).order_by(Store.name)))


def form_values(journey: Journey | None) -> dict[str, Any]:
    """What the form shows for a journey (a new one: the defaults)."""
    if journey is None:
        return {"name": "", "trigger": "joined", "trigger_value": "", "holdout_percent": 10, "cost_per_entry": "",
                "enabled": True, "tiers": [], "store_ids": [], "min_balance": "", "max_balance": "",
                "message_on": True, "message_text": "", "message_ru": "", "points": "", "stamps": "",
                "coupon_reward_id": "", "coupon_name": "", "coupon_valid_days": "", "webhook": False,
                "task_on": False, "task_text": ""}
    actions = {action["type"]: action for action in journey.actions or []}
    conditions = journey.conditions or {}
    message, coupon, task = actions.get("message", {}), actions.get("coupon", {}), actions.get("task", {})
    blank = "" if journey.trigger_value is None else journey.trigger_value
    return {"name": journey.name, "trigger": journey.trigger, "trigger_value": blank,
            "holdout_percent": journey.holdout_percent,
            "cost_per_entry": "" if journey.cost_per_entry is None else str(journey.cost_per_entry),
            "enabled": journey.enabled, "tiers": conditions.get("tiers", []),
            "store_ids": conditions.get("store_ids", []), "min_balance": conditions.get("min_balance", ""),
            "max_balance": conditions.get("max_balance", ""), "message_on": "message" in actions,
            "message_text": message.get("text", ""), "message_ru": message.get("variants", {}).get("ru", ""),
            "points": actions.get("points", {}).get("points", ""),
            "stamps": actions.get("stamps", {}).get("stamps", ""),
            "coupon_reward_id": coupon.get("reward_id") or "", "coupon_name": coupon.get("name") or "",
            "coupon_valid_days": coupon.get("valid_days") or "", "webhook": "webhook" in actions,
            "task_on": "task" in actions, "task_text": task.get("text", "")}


def _number(text: str | None) -> Any:
    """A whole number typed in a field; blank is None, anything else is passed on for the checks to name."""
    text = (text or "").strip()
    if not text:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def journey_from_form(form: MultiDict[str, str], before: Journey | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the journey's fields for editing.create/update, the values to show again)."""
    shown = {key: form.get(key, "") for key in ("name", "trigger", "trigger_value", "holdout_percent",
                                                 "cost_per_entry", "min_balance", "max_balance", "message_text",
                                                 "message_ru", "points", "stamps", "coupon_reward_id", "coupon_name",
                                                 "coupon_valid_days", "task_text")}
    shown.update(tiers=form.getlist("tiers"), store_ids=[_number(v) for v in form.getlist("store_ids")],
                 enabled="enabled" in form, message_on="message_on" in form, webhook="webhook" in form,
                 task_on="task_on" in form)
    conditions: dict[str, Any] = {}
    if shown["tiers"]:
        conditions["tiers"] = shown["tiers"]
    if shown["store_ids"]:
        conditions["store_ids"] = shown["store_ids"]
    for name in ("min_balance", "max_balance"):
        if _number(shown[name]) is not None:
            conditions[name] = _number(shown[name])
    old = {action["type"]: action for action in (before.actions if before else [])}
    actions: list[dict[str, Any]] = []
    if shown["message_on"]:
        variants = {code: text for code, text in old.get("message", {}).get("variants", {}).items() if code != "ru"}
        if shown["message_ru"].strip():
            variants["ru"] = shown["message_ru"]
        actions.append({"type": "message", "text": shown["message_text"], **({"variants": variants} if variants
                                                                            else {})})
    for kind in ("points", "stamps"):
        if _number(shown[kind]) is not None:
            actions.append({"type": kind, kind: _number(shown[kind])})
    if shown["coupon_reward_id"] or shown["coupon_name"].strip():
        coupon: dict[str, Any] = {"type": "coupon"}
        if shown["coupon_reward_id"]:
            coupon["reward_id"] = _number(shown["coupon_reward_id"])
        else:
            coupon["name"] = shown["coupon_name"].strip()
            if old.get("coupon", {}).get("description"):
                coupon["description"] = old["coupon"]["description"]
        if _number(shown["coupon_valid_days"]) is not None:
            coupon["valid_days"] = _number(shown["coupon_valid_days"])
        actions.append(coupon)
    if shown["webhook"]:
        actions.append({"type": "webhook"})
    if shown["task_on"]:
        actions.append({"type": "task", "text": shown["task_text"]})
    holdout = _number(shown["holdout_percent"])
    data = {"name": shown["name"], "trigger": shown["trigger"], "trigger_value": _number(shown["trigger_value"]),
            "conditions": conditions, "actions": actions, "holdout_percent": 0 if holdout is None else holdout,
            "enabled": shown["enabled"], "cost_per_entry": shown["cost_per_entry"].strip() or None}
    return data, shown


def field_errors(errors: list[dict[str, str]], actions: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The checks' problems by the form's field names ("general" for what has no field)."""
    found: dict[str, list[str]] = {}
    for error in errors:
        field = error["field"]
        name = FIELD_OF.get(field)
        if name is None and field.startswith("actions["):
            index = int(field[len("actions["):field.index("]")])
            kind = actions[index]["type"] if index < len(actions) else ""
            name = "message_ru" if field.endswith(".variants") else ACTION_FIELD.get(kind, "actions")
            if kind == "coupon" and field.endswith(("].name", "]")) and not actions[index].get("reward_id"):
                name = "coupon_name"
            if kind == "coupon" and field.endswith(".valid_days"):
                name = "coupon_valid_days"
        found.setdefault(name or "general", []).append(error["message"])
    return found


def _edit_page(program: Program, journey: Journey | None, values: dict[str, Any],
               errors: dict[str, list[str]] | None = None, status: int = 200) -> Response:
    return render("journeys/edit.html", status, program=program, journey=journey, values=values,
                  errors=errors or {}, triggers=list(definitions.TRIGGERS), tiers=editing.program_tiers(
                      db.session(), program), stores=_stores(), catalogue=_catalogue(program))


@bp.get("/console/journeys/new")
@signed_in(CHANGE_PERMISSION)
def new() -> Response:
    program = chosen_program(brand_programs())
    if program is None:
        return _not_found()
    return _edit_page(program, None, form_values(None))


@bp.get("/console/journeys/<int:journey_id>/edit")
@signed_in(CHANGE_PERMISSION)
def edit(journey_id: int) -> Response:
    journey = _journey(journey_id)
    if journey is None:
        return _not_found()
    program = db.session().get(Program, journey.program_id)
    assert program is not None
    return _edit_page(program, journey, form_values(journey))


def _staff_actor() -> None:
    """Who the audit log names for a change made here (the API's sign-in sets it for its own calls)."""
    account = g.console_session.account
    g.actor = Actor("staff", account.id, f"staff {account.email}")


@bp.post("/console/journeys/new")
@signed_in(CHANGE_PERMISSION)
def create() -> Response | Any:
    program = chosen_program(brand_programs())
    if program is None:
        return _not_found()
    data, shown = journey_from_form(request.form, None)
    _staff_actor()
    session = db.session()
    try:
        journey = editing.create(session, program, data)
    except editing.JourneyRefused as refused:
        session.rollback()
        return _edit_page(program, None, shown, field_errors(refused.errors, data["actions"]), 422)
    session.commit()
    return redirect(url_for("journeys_page.index", program=program.id, saved=journey.id), 303)


@bp.post("/console/journeys/<int:journey_id>/edit")
@signed_in(CHANGE_PERMISSION)
def save(journey_id: int) -> Response | Any:
    journey = _journey(journey_id)
    if journey is None:
        return _not_found()
    program = db.session().get(Program, journey.program_id)
    assert program is not None
    data, shown = journey_from_form(request.form, journey)
    _staff_actor()
    session = db.session()
    try:
        editing.update(session, journey, data)
    except editing.JourneyRefused as refused:
        session.rollback()
        return _edit_page(program, session.get(Journey, journey_id), shown,
                          field_errors(refused.errors, data["actions"]), 422)
    session.commit()
    return redirect(url_for("journeys_page.index", program=program.id, saved=journey.id), 303)


@bp.get("/console/journeys/<int:journey_id>")
@signed_in("read")
def report_page(journey_id: int) -> Response:
    journey = _journey(journey_id)
    if journey is None:
        return _not_found()
    program = db.session().get(Program, journey.program_id)
    figures = journey_report.report(db.session(), journey)
    return render("journeys/report.html", journey=journey, program=program, figures=figures,
                  may_change=may_change(), describe=describe)
