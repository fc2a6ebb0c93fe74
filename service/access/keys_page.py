"""API keys in the console (/console/keys): the brand's keys with their scopes, a form that makes
one, and revoking. Every change goes through the brand API (POST and DELETE /api/v1/api-keys, with
the console session: service/api/api_keys.py), so the rules (a key never holds more than its
maker, the last active key stays) live in one place.

The new key's secret is in the API's answer and nowhere else: the page script shows it once, from
that answer, and a reload does not bring it back (only its hash is stored).
"""

from __future__ import annotations

from flask import Blueprint, Response, g
from sqlalchemy import select

from service.access.scopes import SCOPES
from service.console import sections, words
from service.console.guard import render, signed_in
from service.models import ApiKey
from service.platform import db

bp = Blueprint("keys_page", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/keys")
sections.add(sections.Section("keys_page.index", "nav_keys", "keys", 85, "/console/keys"))

#: The scopes in the order the form offers them: narrowest first, so the safe choice is the first one.
SCOPE_ORDER: tuple[str, ...] = ("read_only", "cashier", "campaigns", "full")
assert set(SCOPE_ORDER) == set(SCOPES), "a scope was added: give it words on the keys page"

words.add({
    "nav_keys": ("API keys", "API-ключи"),
    "keys_title": ("API keys", "API-ключи"),
    "keys_intro": ("One key per integration (a till, a shop, a dashboard), each with the narrowest scope that "
                   "does its job. A revoked key stops working at once.",
                   "Отдельный ключ для каждой интеграции (касса, магазин, отчёты), у каждого самая узкая "
                   "область доступа, которой хватает. Отозванный ключ сразу перестаёт работать."),
    "keys_name": ("Name", "Название"),
    "keys_scope": ("Scope", "Область доступа"),
    "keys_prefix": ("Key starts with", "Начало ключа"),
    "keys_created": ("Created", "Создан"),
    "keys_state": ("State", "Состояние"),
    "keys_active": ("active", "действует"),
    "keys_revoked": ("revoked {at}", "отозван {at}"),
    "keys_revoke": ("Revoke", "Отозвать"),
    "keys_revoke_confirm": ("Revoke the key “{name}”? Whatever uses it stops working at once.",
                            "Отозвать ключ «{name}»? Всё, что им пользуется, сразу перестанет работать."),
    "keys_new": ("New key", "Новый ключ"),
    "keys_create": ("Create the key", "Создать ключ"),
    "keys_name_hint": ("What uses it, e.g. “POS sync”.", "Что им пользуется, например «Синхронизация кассы»."),
    "keys_made_title": ("Your new key", "Ваш новый ключ"),
    "keys_made_once": ("Copy it now: this is the only time it is shown. Only its fingerprint is kept, so "
                       "nobody can show it again; if it is lost, make a new key and revoke this one.",
                       "Скопируйте его сейчас: он показывается только один раз. Хранится лишь его отпечаток, "
                       "поэтому показать его снова нельзя; если ключ потерян, создайте новый, а этот отзовите."),
    "keys_copy": ("Copy", "Копировать"),
    "keys_copied": ("Copied.", "Скопировано."),
    "keys_copy_hint": ("Send it as “Authorization: Bearer <key>”.",
                       "Передавайте его как «Authorization: Bearer <ключ>»."),
    "keys_scope_read_only": ("Read-only: reads everything except secrets", "Только чтение: всё, кроме секретов"),
    "keys_scope_cashier": ("Cashier: reads, scans cards, counter transactions",
                           "Кассир: чтение, сканирование карт, операции на кассе"),
    "keys_scope_campaigns": ("Campaigns: reads, campaigns and surveys", "Кампании: чтение, кампании и опросы"),
    "keys_scope_full": ("Full: everything, keys and staff included", "Полный: всё, включая ключи и сотрудников"),
})


@bp.get("/console/keys")
@signed_in("keys")
def index() -> Response:
    brand_id = g.console_session.account.brand_id
    keys = list(db.session().scalars(select(ApiKey).where(ApiKey.brand_id == brand_id).order_by(ApiKey.id)))
    return render("keys/keys.html", keys=keys, scopes=SCOPE_ORDER)
