"""The console's staff page (/console/staff): the brand's cashiers and the tills they sign in on.

Everyone signed in may look; changing needs the "staff" permission (owner, store manager). Reads
are rendered here from the models, a store manager's limited to their stores as the API's are;
every change is a browser call to /api/v1/cashiers and /api/v1/tills (console.js data-api forms).

A new cashier's token and a new till's key are shown once, in the API's answer: the page script
(static/staff.js) puts them on screen, and for a till the QR code the API drew (`pair_qr`, a
data: PNG of the pair URL /cashier#till=...) for the tablet's camera. Nothing leaves our origin.
"""

from __future__ import annotations

from flask import Blueprint, Response, g
from sqlalchemy import select

from service.access.roles import STORE_SCOPED
from service.access.store_scope import visible
from service.console import sections, words
from service.console.guard import render, signed_in
from service.models import Cashier, Store, Till, utcnow
from service.platform import db

bp = Blueprint("staff_page", __name__, template_folder="templates",
               static_folder="static", static_url_path="/static/staff")
sections.add(sections.Section("staff_page.index", "nav_staff", "read", 55, "/console/staff"))

words.add({
    "nav_staff": ("Staff", "Персонал"),
    "staff_title": ("Cashiers and tills", "Кассиры и кассы"),
    "staff_intro": ("Cashiers sign in on a paired till with their PIN, or on any device with their own token.",
                    "Кассиры входят на подключённой кассе по PIN-коду или на любом устройстве по своему токену."),
    "staff_read_only": ("Your role can look, not change cashiers or tills.",
                        "Ваша роль может смотреть, но не менять кассиров и кассы."),
    "staff_cashiers": ("Cashiers", "Кассиры"),
    "staff_no_cashiers": ("No cashiers yet.", "Кассиров пока нет."),
    "staff_name": ("Name", "Имя"),
    "staff_store": ("Store", "Магазин"),
    "staff_any_store": ("Any store (brand-wide)", "Любой магазин (весь бренд)"),
    "staff_active": ("active", "работает"),
    "staff_disabled": ("disabled", "отключён"),
    "staff_pin_set": ("PIN set", "PIN задан"),
    "staff_no_pin": ("no PIN", "без PIN"),
    "staff_pin_locked": ("PIN locked until {until} UTC", "PIN заблокирован до {until} UTC"),
    "staff_pin": ("PIN (4-8 digits, optional)", "PIN (4-8 цифр, необязательно)"),
    "staff_new_pin": ("New PIN (4-8 digits)", "Новый PIN (4-8 цифр)"),
    "staff_pin_hint": ("Not one repeated digit or a run such as 1234.",
                       "Не одна повторяющаяся цифра и не ряд вроде 1234."),
    "staff_set_pin": ("Set the PIN", "Задать PIN"),
    "staff_clear_pin": ("Clear the PIN", "Убрать PIN"),
    "staff_clear_pin_confirm": ("Clear this cashier's PIN? They can no longer sign in on tills by PIN.",
                                "Убрать PIN кассира? Он больше не сможет входить на кассах по PIN."),
    "staff_rename": ("Rename", "Переименовать"),
    "staff_disable": ("Disable", "Отключить"),
    "staff_disable_confirm": ("Disable this cashier? Their token, PIN and sessions stop working at once.",
                              "Отключить кассира? Его токен, PIN и сеансы сразу перестанут работать."),
    "staff_enable": ("Enable", "Включить"),
    "staff_add_cashier": ("Add a cashier", "Добавить кассира"),
    "staff_cashier_made": ("Cashier {name} added. Their token, shown this once, signs them in on any device:",
                           "Кассир {name} добавлен. Его токен (показан один раз) для входа на любом устройстве:"),
    "staff_tills": ("Tills", "Кассы"),
    "staff_no_tills": ("No tills yet.", "Касс пока нет."),
    "staff_till_name": ("Till name", "Название кассы"),
    "staff_idle": ("Sign out after (seconds unused)", "Выход после бездействия (секунд)"),
    "staff_idle_short": ("Idle sign-out", "Выход при бездействии"),
    "staff_paired": ("paired", "подключена"),
    "staff_revoked": ("unpaired", "отключена"),
    "staff_add_till": ("Pair a till", "Подключить кассу"),
    "staff_revoke": ("Unpair", "Отключить"),
    "staff_revoke_confirm": ("Unpair this till? PIN sign-ins on it stop and its sessions end.",
                             "Отключить кассу? Вход по PIN на ней прекратится, сеансы завершатся."),
    "staff_till_made": ("Till {name} is ready. Scan this code with the tablet's camera (or open the link on it) "
                        "once; the code is shown only now.",
                        "Касса {name} готова. Отсканируйте код камерой планшета (или откройте на нём ссылку) "
                        "один раз; код показан только сейчас."),
    "staff_pair_qr": ("QR code to pair the till", "QR-код для подключения кассы"),
    "staff_done": ("Done: show the list", "Готово: показать список"),
    "staff_seconds": ("{n} s", "{n} с"),
})


def _limit_to_my_stores() -> None:
    """g.store_ids as the API's console principal sets it, so `store_scope.visible` reads the same rows."""
    account = g.console_session.account
    g.store_ids = account.stores if account.role in STORE_SCOPED else None


@bp.get("/console/staff")
@signed_in("read")
def index() -> Response:
    _limit_to_my_stores()
    brand_id = g.console_session.account.brand_id
    session = db.session()
    stores = list(session.scalars(visible(select(Store).where(Store.brand_id == brand_id), Store.id)
                                  .order_by(Store.id)))
    cashiers = list(session.scalars(visible(select(Cashier).where(Cashier.brand_id == brand_id), Cashier.store_id)
                                    .order_by(Cashier.active.desc(), Cashier.id).limit(1000)))
    tills = list(session.scalars(visible(select(Till).where(Till.brand_id == brand_id), Till.store_id)
                                 .order_by(Till.revoked_at.is_not(None), Till.id).limit(1000)))
    return render("staff/index.html", stores=stores, store_names={store.id: store.name for store in stores},
                  cashiers=cashiers, tills=tills, now=utcnow(), brand_wide=g.store_ids is None)
