"""The console's members pages (/console/members): find a card by name, phone, e-mail or card number,
and a card's page: balance, tier, rewards and coupons held, ledger, devices and why each phone has (not)
updated, with the actions a brand takes for a customer (adjust points, give or cancel a coupon, void,
resend the card link, export or erase the customer's data).

Reads are rendered here from the models, with the same search statement as GET /api/v1/cards
(service/api/card_admin.py `card_search`) and the same diagnosis as GET /api/v1/cards/{id}/diagnosis
(service/push/diagnosis.py). Every change is a form console.js posts to the brand API, which
checks the role's permissions again (`members` for all of them): a role without it sees no controls.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select

from service.access.roles import STORE_SCOPED, permissions_of
from service.api.card_admin import card_search
from service.api.pagination import decode_cursor, encode_cursor
from service.console import sections, words
from service.console.guard import language, render, signed_in
from service.loyalty import rewards
from service.loyalty.cards import display_number
from service.loyalty.privacy import is_erased
from service.loyalty.reversal import REVERSIBLE
from service.models import Card, LedgerEntry, PushDelivery, Registration, Store, utcnow
from service.platform import db
from service.push.diagnosis import card_diagnosis
from service.web.problems import Problem

bp = Blueprint("members_page", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/members")
sections.add(sections.Section("members_page.index", "nav_members", "read", 20, "/console/members"))

PAGE_SIZE = 25
LEDGER_ROWS = 100

words.add({
    "nav_members": ("Members", "Участники"),
    "members_title": ("Members", "Участники"),
    "members_search_label": ("Find a member: name, phone, e-mail or card number",
                             "Найти участника: имя, телефон, почта или номер карты"),
    "members_search": ("Search", "Найти"),
    "members_none": ("No card matches.", "Подходящих карт нет."),
    "members_newest": ("Newest cards", "Новые карты"),
    "members_found": ("Cards found", "Найденные карты"),
    "members_next": ("Next page", "Следующая страница"),
    "members_first": ("First page", "Первая страница"),
    "members_name": ("Name", "Имя"),
    "members_number": ("Card number", "Номер карты"),
    "members_legacy_number": ("Plastic card number", "Номер пластиковой карты"),
    "members_email": ("E-mail", "Эл. почта"),
    "members_phone": ("Phone", "Телефон"),
    "members_birthday": ("Birthday", "День рождения"),
    "members_balance": ("Balance", "Баланс"),
    "members_tier": ("Tier", "Уровень"),
    "members_program": ("Program", "Программа"),
    "members_status": ("Status", "Статус"),
    "members_active": ("active", "активна"),
    "members_voided": ("voided", "аннулирована"),
    "members_anonymous": ("Anonymous (data erased)", "Аноним (данные удалены)"),
    "members_no_name": ("(no name)", "(без имени)"),
    "members_back": ("All members", "Все участники"),
    "members_card": ("Card", "Карта"),
    "members_lifetime": ("Points ever earned", "Всего начислено баллов"),
    "members_since": ("Member since", "Участник с"),
    "members_points_expire": ("Points expire", "Баллы сгорают"),
    "members_other_cards": ("Other cards of this customer", "Другие карты этого клиента"),
    "members_ledger": ("Ledger", "Журнал операций"),
    "members_ledger_none": ("No transactions yet.", "Операций пока нет."),
    "members_when": ("When", "Когда"),
    "members_kind": ("Kind", "Вид"),
    "members_points": ("Points", "Баллы"),
    "members_amount": ("Amount", "Сумма"),
    "members_reason": ("Reason", "Причина"),
    "members_store": ("Store", "Магазин"),
    "members_kind_issue": ("issued", "выпуск"), "members_kind_earn": ("earned", "начисление"),
    "members_kind_redeem": ("redeemed", "списание"), "members_kind_purchase": ("purchase", "покупка"),
    "members_kind_expire": ("expired", "сгорание"), "members_kind_adjust": ("adjustment", "корректировка"),
    "members_kind_import": ("imported", "импорт"),
    "members_kind_stamp": ("stamp", "штамп"), "members_kind_card_full": ("card filled", "карта заполнена"),
    "members_kind_reversal": ("reversal", "отмена"),
    "members_reverse": ("Reverse", "Отменить"),
    "members_reversed": ("reversed", "отменена"),
    "members_reverse_confirm": ("Reverse this transaction? Its points or stamps go back exactly; the ledger and the "
                                "audit log keep both.",
                                "Отменить эту операцию? Баллы или штампы вернутся в точности; журнал и аудит "
                                "сохранят обе записи."),
    "members_devices": ("Devices", "Устройства"),
    "members_devices_none": ("No device holds this card.", "Ни одно устройство не хранит эту карту."),
    "members_device": ("Device", "Устройство"),
    "members_app": ("Wallet app", "Приложение-кошелёк"),
    "members_added": ("Added", "Добавлена"),
    "members_last_push": ("Last push", "Последний пуш"),
    "members_app_apple": ("Apple Wallet", "Apple Wallet"),
    "members_app_fcm": ("Android app (our FCM)", "Android-приложение (наш FCM)"),
    "members_diagnosis": ("Why hasn't this phone updated?", "Почему телефон не обновился?"),
    "members_diag_token_dead": ("The wallet app refused this phone's push token ({reason}). It gets no pushes until "
                                "the customer adds the card again.",
                                "Приложение-кошелёк отклонило пуш-токен этого телефона ({reason}). Пушей не будет, "
                                "пока клиент не добавит карту заново."),
    "members_diag_relay_not_configured": ("The phone uses {app}, whose push relay is not configured here ({reason}). "
                                          "Its pushes wait until the relay is set up.",
                                          "Телефон использует {app}, а ретранслятор пушей этого приложения здесь не "
                                          "настроен ({reason}). Пуши ждут, пока его не настроят."),
    "members_diag_up_to_date": ("Up to date: the phone has the current version of the card.",
                                "Всё в порядке: на телефоне текущая версия карты."),
    "members_diag_push_pending": ("The push about the last change is waiting to be sent ({attempts} attempts so far).",
                                  "Пуш о последнем изменении ждёт отправки (попыток: {attempts})."),
    "members_diag_pushed_not_fetched": ("Pushed, but not fetched: the phone got the push about the last change but "
                                        "has not asked for the card since. It may be off, offline or have background "
                                        "refresh turned off.",
                                        "Пуш отправлен, но карта не загружена: телефон получил пуш о последнем "
                                        "изменении, но с тех пор не запрашивал карту. Возможно, он выключен, без "
                                        "сети или у него отключено фоновое обновление."),
    "members_diag_push_failed": ("The push about the last change failed ({reason}).",
                                 "Пуш о последнем изменении не доставлен ({reason})."),
    "members_diag_unreachable": ("No push route reaches this phone ({reason}).",
                                 "Пуш не может дойти до этого телефона ({reason})."),
    "members_diag_not_pushed": ("The card changed after the phone's last known version; the push is not queued yet.",
                                "Карта изменилась после версии, известной телефону; пуш ещё не поставлен в очередь."),
    "members_diag_no_registration": ("No registration at all: the card was never added to Apple Wallet or an "
                                     "Android wallet app, or it was removed.",
                                     "Регистраций нет: карту не добавляли в Apple Wallet или Android-кошелёк, "
                                     "либо удалили."),
    "members_diag_removed": ("No phone holds the card any more: it was on a phone and was removed (or the app was "
                             "uninstalled).",
                             "Карты больше нет ни на одном телефоне: она была добавлена, а потом удалена (или "
                             "удалено приложение)."),
    "members_google_saved": ("Google Wallet: saved.", "Google Wallet: сохранена."),
    "members_google_removed": ("Google Wallet: saved once, then removed.",
                               "Google Wallet: была сохранена, потом удалена."),
    "members_google_not_saved": ("Google Wallet: not saved.", "Google Wallet: не сохранена."),
    "members_google_dev": ("Google Wallet is not configured on this server (development).",
                           "Google Wallet на этом сервере не настроен (разработка)."),
    "members_google_behind": ("Google has not accepted the latest version yet; it is sent again shortly.",
                              "Google ещё не принял последнюю версию; она скоро будет отправлена снова."),
    "members_no_reason": ("no reason given", "причина не указана"),
    "members_actions": ("Actions", "Действия"),
    "members_adjust": ("Adjust points", "Изменить баллы"),
    "members_adjust_type": ("Change", "Изменение"),
    "members_adjust_add": ("Add points", "Начислить"),
    "members_adjust_take": ("Take points", "Списать"),
    "members_adjust_reason_hint": ("Kept in the ledger and the audit log.", "Сохраняется в журнале и в аудите."),
    "members_adjust_do": ("Adjust", "Изменить"),
    "members_resend": ("Send the card link again", "Отправить ссылку на карту ещё раз"),
    "members_resend_hint": ("E-mails {email} a one-time link that opens the card (valid 15 minutes).",
                            "Отправит на {email} одноразовую ссылку на карту (действует 15 минут)."),
    "members_resend_no_email": ("The customer has no e-mail address.", "У клиента нет адреса эл. почты."),
    "members_resend_done": ("Sent.", "Отправлено."),
    "members_void": ("Void the card", "Аннулировать карту"),
    "members_void_confirm": ("Void this card? It will take no more transactions.",
                             "Аннулировать карту? Операции по ней станут невозможны."),
    "members_privacy": ("Customer's data (GDPR)", "Данные клиента (GDPR)"),
    "members_export": ("Download everything we hold (JSON)", "Скачать все данные (JSON)"),
    "members_erase": ("Erase the customer", "Удалить данные клиента"),
    "members_erase_hint": ("Removes name, e-mail, phone, birthday and devices, and voids the cards. The ledger "
                           "stays (anonymous), so balances and analytics do not change. Cannot be undone.",
                           "Удаляет имя, почту, телефон, день рождения и устройства, аннулирует карты. Журнал "
                           "операций остаётся (анонимно), поэтому балансы и аналитика не меняются. Отменить нельзя."),
    "members_erase_confirm": ("Erase this customer's personal data for good?",
                              "Удалить персональные данные клиента навсегда?"),
    "members_erased": ("This customer's personal data was erased.", "Персональные данные клиента удалены."),
    "members_not_found": ("No such card in your brand.", "В вашем бренде нет такой карты."),
    "members_kind_reward_buy": ("reward bought", "покупка награды"),
    "members_kind_reward_grant": ("coupon granted", "купон подарен"),
    "members_kind_reward_redeem": ("reward redeemed", "награда выдана"),
    "members_rewards": ("Rewards and coupons", "Награды и купоны"),
    "members_rewards_none": ("The card holds no rewards.", "На карте нет наград."),
    "members_reward": ("Reward", "Награда"),
    "members_reward_source": ("From", "Откуда"),
    "members_reward_until": ("Until", "До"),
    "members_source_ladder": ("stamp card", "карта штампов"), "members_source_full_card": ("full stamp card",
                                                                                         "заполненная карта штампов"),
    "members_source_bought": ("bought with points", "куплена за баллы"), "members_source_coupon": ("coupon", "купон"),
    "members_state_held": ("to redeem", "к выдаче"), "members_state_redeemed": ("redeemed", "выдана"),
    "members_state_expired": ("expired", "истекла"), "members_state_cancelled": ("cancelled", "отменена"),
    "members_reward_cancel": ("Cancel", "Отменить"),
    "members_reward_cancel_confirm": ("Cancel this reward? It leaves the pass and cannot be redeemed.",
                                      "Отменить награду? Она исчезнет с карты, выдать её будет нельзя."),
    "members_grant": ("Give a coupon", "Подарить купон"),
    "members_grant_catalogue": ("From the catalogue", "Из каталога"),
    "members_grant_own": ("— or name one below —", "— или назовите свой ниже —"),
    "members_grant_name": ("Coupon name", "Название купона"),
    "members_grant_days": ("Valid for (days)", "Действует (дней)"),
    "members_grant_do": ("Give the coupon", "Подарить купон"),
})


def _brand_id() -> int:
    return int(g.console_session.account.brand_id)


def _permissions() -> frozenset[str]:
    return permissions_of(g.console_session.account.role)


@bp.get("/console/members")
@signed_in("read")
def index() -> Response:
    """The search box and one page of cards (newest first); `cursor` pages on as GET /cards does."""
    q = (request.args.get("q") or "").strip()[:320]
    try:
        after = decode_cursor(request.args.get("cursor") or None)
    except Problem:
        after = None
    statement = card_search(_brand_id(), {"q": q})
    if after is not None:
        statement = statement.where(Card.id < after)
    cards = list(db.session().scalars(statement.order_by(Card.id.desc()).limit(PAGE_SIZE + 1)))
    more = len(cards) > PAGE_SIZE
    cards = cards[:PAGE_SIZE]
    return render("members/index.html", q=q, cards=cards, number=display_number, erased=is_erased,
                  next_cursor=encode_cursor(cards[-1].id) if more else None, paged=after is not None)


@bp.get("/console/members/<int:card_id>")
@signed_in("read")
def card_page(card_id: int) -> Response:
    """One card: what it holds, its ledger, its devices and why each has (not) updated, and the actions."""
    session = db.session()
    card = session.get(Card, card_id)
    if card is None or card.brand_id != _brand_id():
        return render("console/message.html", 404, message=words.words_for(language())["members_not_found"])
    settings = current_app.config["PASSCAST"]
    diagnosis = card_diagnosis(session, settings, card)
    ledger = session.scalars(select(LedgerEntry).where(LedgerEntry.card_id == card.id)
                             .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(LEDGER_ROWS)).all()
    stores = {store.id: store.name for store in session.scalars(select(Store).where(Store.brand_id == card.brand_id))}
    registrations = {row.id: row for row in session.scalars(
        select(Registration).where(Registration.card_id == card.id).order_by(Registration.id))}
    last_push: dict[int | None, PushDelivery] = {}
    for delivery in session.scalars(select(PushDelivery).where(PushDelivery.card_id == card.id)
                                    .order_by(PushDelivery.id.desc()).limit(500)):
        last_push.setdefault(delivery.registration_id, delivery)
    others = session.scalars(select(Card).where(Card.customer_id == card.customer_id, Card.id != card.id)
                             .order_by(Card.id)).all()
    now = utcnow()
    held = [(reward, rewards.state(reward, now)) for reward in rewards.held_rewards(session, card.id)]
    return render("members/card.html", card=card, customer=card.customer, number=display_number,
                  erased=is_erased(card.customer), diagnosis=diagnosis, ledger=ledger, stores=stores,
                  registrations=registrations, last_push=last_push, others=others,
                  can_change="members" in _permissions(), reversible=_reversible(card, ledger), held=held,
                  catalogue=rewards.catalogue(session, card.program_id, active_only=True),
                  reversed_ids={entry.reversed_entry_id for entry in ledger if entry.reversed_entry_id})


def _reversible(card: Card, ledger: list[LedgerEntry]) -> set[int]:
    """The ledger rows this account may reverse (POST /api/v1/transactions/{id}/reverse, which checks
    again): with `cashier` or `members`, transactions of a reversible kind not reversed yet, and for a
    store manager only those of their stores."""
    account = g.console_session.account
    if card.voided or not _permissions() & {"cashier", "members"}:
        return set()
    stores = set(account.stores or ()) if account.role in STORE_SCOPED else None
    done = {entry.reversed_entry_id for entry in ledger if entry.reversed_entry_id}
    return {entry.id for entry in ledger if entry.kind in REVERSIBLE and entry.id not in done
            and (stores is None or entry.store_id in stores)}


def diagnosis_text(texts: dict[str, str], device: dict[str, Any]) -> str:
    """The console's sentence for one device's diagnosis, in the page's language."""
    return texts[f"members_diag_{device['state']}"].format(
        reason=device.get("reason") or texts["members_no_reason"], app=device.get("app") or "",
        attempts=device.get("attempts") or 0)


@bp.app_template_filter("members_diagnosis")
def _diagnosis_filter(device: dict[str, Any], texts: dict[str, str]) -> str:
    return diagnosis_text(texts, device)
