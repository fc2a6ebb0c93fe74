"""The audit log in the console (/console/audit): who changed what in the brand, newest first,
with the same filters and the same cursor pages as `GET /api/v1/audit-log` (service/api/audit_log.py:
one AuditQuery, one `filtered`), so what the owner sees here is what an integration reads there.

The page only reads, so the server renders it from the rows (the brand of the signed-in account,
never another's). Dates are whole UTC days: "until" includes its day.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, request, url_for
from marshmallow import ValidationError
from sqlalchemy import func, select

from service.api.audit_log import AuditQuery, filtered
from service.api.pagination import decode_cursor, encode_cursor
from service.console import sections, words
from service.console.guard import language, render, signed_in
from service.models import AuditEntry
from service.platform import db
from service.web.problems import Problem

bp = Blueprint("audit_page", __name__, template_folder="templates")
sections.add(sections.Section("audit_page.index", "nav_audit", "audit", 80, "/console/audit"))

PAGE_SIZE = 50

#: What each action means, in English and Russian (an action this list does not know is shown as is).
ACTIONS: dict[str, tuple[str, str]] = {
    "api_key.created": ("API key created", "Создан API-ключ"),
    "api_key.revoked": ("API key revoked", "Отозван API-ключ"),
    "campaign.cancelled": ("Campaign cancelled", "Кампания отменена"),
    "campaign.created": ("Campaign created", "Создана кампания"),
    "campaign.finished": ("Campaign finished", "Кампания завершена"),
    "campaign.scheduled": ("Campaign scheduled", "Кампания запланирована"),
    "campaign.sent": ("Campaign sent", "Кампания отправлена"),
    "card.installed": ("Card added to a wallet", "Карта добавлена в кошелёк"),
    "card.issued": ("Card issued", "Выпущена карта"),
    "card.points_adjusted": ("Points adjusted", "Баллы скорректированы"),
    "card.uninstalled": ("Card removed from a wallet", "Карта удалена из кошелька"),
    "card.updated": ("Card changed", "Карта изменена"),
    "card.voided": ("Card voided", "Карта аннулирована"),
    "cashier.created": ("Cashier created", "Добавлен кассир"),
    "cashier.pin_cleared": ("Cashier PIN cleared", "PIN кассира сброшен"),
    "cashier.pin_set": ("Cashier PIN set", "PIN кассира задан"),
    "cashier.updated": ("Cashier changed", "Кассир изменён"),
    "program.birthday_updated": ("Birthday reward changed", "Изменён подарок ко дню рождения"),
    "program.certificate_set": ("Signing certificate set", "Задан сертификат подписи"),
    "program.created": ("Program created", "Создана программа"),
    "program.enrolment_updated": ("Enrolment settings changed", "Изменены настройки записи"),
    "program.image_removed": ("Program image removed", "Удалено изображение программы"),
    "program.image_set": ("Program image set", "Задано изображение программы"),
    "program.partner_invited": ("Partner brand invited", "Приглашён бренд-партнёр"),
    "program.partner_removed": ("Partner brand removed", "Бренд-партнёр исключён"),
    "program.partnership_accepted": ("Partner program joined", "Вступление в партнёрскую программу"),
    "program.partnership_left": ("Partner program left", "Выход из партнёрской программы"),
    "program.preset_applied": ("Design preset applied", "Применён шаблон оформления"),
    "program.settlement_value_changed": ("Settlement point value changed", "Изменена стоимость балла для расчётов"),
    "program.updated": ("Program changed", "Программа изменена"),
    "restock_event.sent": ("Back-in-stock message sent", "Отправлено сообщение о поступлении"),
    "reward.bought": ("Reward bought with points", "Награда куплена за баллы"),
    "reward.cancelled": ("Reward cancelled on a card", "Награда на карте отменена"),
    "reward.created": ("Reward added to the catalogue", "Награда добавлена в каталог"),
    "reward.deactivated": ("Reward retired from the catalogue", "Награда снята из каталога"),
    "reward.granted": ("Coupon given", "Купон подарен"),
    "reward.updated": ("Catalogue reward changed", "Награда в каталоге изменена"),
    "staff.invited": ("Person invited", "Приглашён сотрудник"),
    "staff.recovery_code_used": ("Recovery code used to sign in", "Вход по коду восстановления"),
    "staff.recovery_codes_regenerated": ("Recovery codes made anew", "Коды восстановления созданы заново"),
    "staff.removed": ("Person removed", "Сотрудник удалён"),
    "staff.reset_link_issued": ("Password reset link made", "Создана ссылка сброса пароля"),
    "staff.role_changed": ("Role changed", "Роль изменена"),
    "staff.totp_disabled": ("Two-factor sign-in turned off", "Двухфакторный вход выключен"),
    "staff.totp_enabled": ("Two-factor sign-in turned on", "Двухфакторный вход включён"),
    "store.created": ("Store created", "Добавлен магазин"),
    "store.deleted": ("Store deleted", "Магазин удалён"),
    "store.updated": ("Store changed", "Магазин изменён"),
    "tier.created": ("Tier created", "Создан уровень"),
    "tier.deleted": ("Tier deleted", "Уровень удалён"),
    "tier.image_removed": ("Tier image removed", "Удалено изображение уровня"),
    "tier.image_set": ("Tier image set", "Задано изображение уровня"),
    "tier.updated": ("Tier changed", "Уровень изменён"),
    "till.created": ("Till created", "Добавлена касса"),
    "till.revoked": ("Till revoked", "Касса отключена"),
    "transaction.created": ("Counter transaction", "Операция на кассе"),
    "transaction.reversed": ("Transaction reversed", "Операция отменена"),
    "webhook.created": ("Webhook created", "Создан вебхук"),
    "webhook.deleted": ("Webhook deleted", "Вебхук удалён"),
    "webhook.secret_rotated": ("Webhook secret rotated", "Секрет вебхука заменён"),
    "webhook.test": ("Webhook test sent", "Отправлен тест вебхука"),
    "webhook.updated": ("Webhook changed", "Вебхук изменён"),
}

#: The kinds of actor and of target, in both languages (unknown ones are shown as is).
KINDS: dict[str, tuple[str, str]] = {
    "api_key": ("API key", "API-ключ"), "staff": ("Staff", "Сотрудник"), "cashier": ("Cashier", "Кассир"),
    "system": ("System", "Система"), "card": ("Card", "Карта"), "program": ("Program", "Программа"),
    "tier": ("Tier", "Уровень"), "store": ("Store", "Магазин"), "campaign": ("Campaign", "Кампания"),
    "webhook": ("Webhook", "Вебхук"), "till": ("Till", "Касса"), "restock_event": ("Back-in-stock", "Поступление"),
    "customer": ("Customer", "Клиент"), "nps_survey": ("NPS survey", "Опрос NPS"),
    "partner_brand": ("Partner brand", "Бренд-партнёр"),
    "reward": ("Reward", "Награда"),
}

words.add({
    "nav_audit": ("Audit log", "Журнал действий"),
    "audit_title": ("Audit log", "Журнал действий"),
    "audit_intro": ("Who changed what in your brand, newest first. Times are UTC.",
                    "Кто что менял в вашем бренде, сначала новые записи. Время в UTC."),
    "audit_action": ("Action", "Действие"),
    "audit_actor": ("Who", "Кто"),
    "audit_target": ("What", "Что"),
    "audit_target_type": ("Kind of object", "Тип объекта"),
    "audit_when": ("When", "Когда"),
    "audit_changes": ("Changes", "Изменения"),
    "audit_since": ("From (day)", "С (день)"),
    "audit_until": ("To (day, included)", "По (день включительно)"),
    "audit_any": ("Any", "Любое"),
    "audit_every_of_kind": ("Every {kind} action", "Все действия: {kind}"),
    "audit_every_actor": ("Every {kind}", "Все: {kind}"),
    "audit_filter": ("Show", "Показать"),
    "audit_clear": ("Clear the filters", "Сбросить фильтры"),
    "audit_newest": ("Newest entries", "К новым записям"),
    "audit_empty": ("No entries match.", "Подходящих записей нет."),
    "audit_api_hint": ("The same list through the API:", "Тот же список через API:"),
    "audit_bad_filter": ("Check the filters: {detail}", "Проверьте фильтры: {detail}"),
    "audit_none": ("nothing", "пусто"),
})


@dataclass(frozen=True)
class Change:
    field: str
    before: str | None  #: None for a fact of a creation or a removal (no before/after)
    after: str


def _text(value: Any, nothing: str) -> str:
    """A value as a person reads it (images are already `<N bytes>` in the log: service/audit/log.py)."""
    if value is None or value == "":
        return nothing
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def readable(changes: dict[str, Any] | None, nothing: str = "—") -> list[Change]:
    """An entry's `changes` as lines: `field: before → after` for a change, `field: value` for a fact."""
    lines = []
    for name, value in sorted((changes or {}).items()):
        if isinstance(value, dict) and set(value) == {"before", "after"}:
            lines.append(Change(name, _text(value["before"], nothing), _text(value["after"], nothing)))
        else:
            lines.append(Change(name, None, _text(value, nothing)))
    return lines


def _pick(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    pair = table.get(key)
    return pair[1 if lang == "ru" else 0] if pair else key


def _day(value: str, name: str, *, end: bool) -> str | None:
    """A form's day as the API's moment: its start (`since`), or the next day's start (`until`, so the
    day itself is included)."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError("Not a date.", name) from None
    return dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), dt.UTC).isoformat()


def _form() -> dict[str, str]:
    return {name: request.args.get(name, "").strip()[:80] for name in ("action", "actor", "target", "since", "until")}


def _query(form: dict[str, str]) -> dict[str, Any]:
    """The form as an AuditQuery (the API's own validation), raising ValidationError."""
    raw: dict[str, Any] = {name: form[name] for name in ("action", "actor", "target") if form[name]}
    for name in ("since", "until"):
        if (moment := _day(form[name], name, end=name == "until")) is not None:
            raw[name] = moment
    raw["limit"] = PAGE_SIZE
    if request.args.get("cursor"):
        raw["cursor"] = request.args["cursor"]
    return AuditQuery().load(raw)


def _choices(brand_id: int, lang: str) -> dict[str, list[tuple[str, str]]]:
    """The filter lists: the actions, people and keys, and kinds of object this brand's log holds."""
    session = db.session()
    ours = AuditEntry.brand_id == brand_id
    actions = sorted(session.scalars(select(AuditEntry.action).where(ours).distinct()))
    kinds = sorted({action.partition(".")[0] for action in actions})
    actors = session.execute(select(AuditEntry.actor_kind, AuditEntry.actor_id, func.max(AuditEntry.actor_label))
                             .where(ours).group_by(AuditEntry.actor_kind, AuditEntry.actor_id)
                             .order_by(AuditEntry.actor_kind, AuditEntry.actor_id).limit(300)).all()
    actor_kinds = sorted({kind for kind, _, _ in actors})
    targets = sorted(session.scalars(select(AuditEntry.target_type).where(ours).distinct()))
    text = words.words_for(lang)
    return {
        "actions": [(action, _pick(ACTIONS, action, lang)) for action in actions],
        "action_kinds": [(f"{kind}.", text["audit_every_of_kind"].format(kind=_pick(KINDS, kind, lang)))
                         for kind in kinds],
        "actor_kinds": [(kind, text["audit_every_actor"].format(kind=_pick(KINDS, kind, lang)))
                        for kind in actor_kinds],
        "actors": [(f"{kind}:{number}", label) for kind, number, label in actors if number is not None],
        "targets": [(kind, _pick(KINDS, kind, lang)) for kind in targets],
    }


@bp.get("/console/audit")
@signed_in("audit")
def index() -> Response:
    lang = language()
    text = words.words_for(lang)
    brand_id = g.console_session.account.brand_id
    form = _form()
    entries: list[AuditEntry] = []
    next_url = error = None
    status = 200
    asked = {name: value for name, value in form.items() if value}
    try:
        query = _query(form)
        after = decode_cursor(query["cursor"])
    except ValidationError as invalid:
        status, error = 422, text["audit_bad_filter"].format(detail=_messages(invalid.messages))
    except Problem as problem:  # a cursor not made by us
        status, error = 422, text["audit_bad_filter"].format(detail=problem.detail or problem.title)
    else:
        statement = filtered(select(AuditEntry).where(AuditEntry.brand_id == brand_id), query)
        if after is not None:
            statement = statement.where(AuditEntry.id < after)
        entries = list(db.session().scalars(statement.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE + 1)))
        if len(entries) > PAGE_SIZE:
            entries = entries[:PAGE_SIZE]
            next_url = url_for(".index", **asked, cursor=encode_cursor(entries[-1].id))
    api_args = {name: value for name, value in form.items() if value and name in ("action", "actor", "target")}
    rows = [{"entry": entry, "action": _pick(ACTIONS, entry.action, lang),
             "target": _pick(KINDS, entry.target_type, lang),
             "changes": readable(entry.changes, text["audit_none"])} for entry in entries]
    return render("audit/log.html", status, rows=rows, form=form, choices=_choices(brand_id, lang),
                  next_url=next_url, error=error,
                  first_url=url_for(".index", **asked) if request.args.get("cursor") else None,
                  api_url="/api/v1/audit-log" + (f"?{urlencode(api_args)}" if api_args else ""))


def _messages(messages: Any) -> str:
    """marshmallow's field messages as one line ("since: Not a date.")."""
    if isinstance(messages, dict):
        return "; ".join(f"{name}: {' '.join(map(str, value)) if isinstance(value, list) else value}"
                         for name, value in messages.items())
    return str(messages)
