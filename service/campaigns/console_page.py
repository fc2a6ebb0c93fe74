"""The console's campaigns section (/console/campaigns): the list, composing a message campaign
(per-language text, an audience with its live size, the lock-screen preview, now / later / draft),
a geo campaign and a back-in-stock event, and each campaign's state and report, with its lift
against the holdout (the cards kept back) or, without one, a plain "not causal".

Reads are rendered here from the models, always within the signed-in person's brand; every
change (create, send, schedule, cancel, restock) goes through the brand API from the page
(console.js and static/campaigns.js), so the console can do nothing the API cannot.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request
from sqlalchemy import func, select

from service.api.pagination import decode_cursor, encode_cursor
from service.campaigns import outcomes, segments
from service.campaigns.report import STATES, recipients, report
from service.console import sections, words
from service.console.guard import language, render, signed_in
from service.models import (
    Campaign,
    CampaignRecipient,
    ProductSubscription,
    Program,
    RestockEvent,
    Store,
    Tier,
    utcnow,
)
from service.platform import db
from service.web.problems import Problem

bp = Blueprint("campaigns_page", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/campaigns")
sections.add(sections.Section("campaigns_page.index", "nav_campaigns", "read", 30, "/console/campaigns"))

RECIPIENTS_PAGE = 50
#: Statuses after which a campaign changes no more (the page stops watching it).
FINAL = ("draft", "scheduled", "finished", "cancelled", "running")

words.add({
    "nav_campaigns": ("Campaigns", "Рассылки"),
    "campaigns_title": ("Campaigns", "Рассылки"),
    "campaigns_new": ("New message", "Новое сообщение"),
    "campaigns_new_geo": ("New geo campaign", "Новая гео-рассылка"),
    "campaigns_new_restock": ("Back in stock", "Снова в наличии"),
    "campaigns_none": ("No campaigns yet.", "Рассылок пока нет."),
    "campaigns_name": ("Name", "Название"),
    "campaigns_name_hint": ("For you and your team; customers do not see it.",
                            "Для вас и команды; клиенты его не видят."),
    "campaigns_kind": ("Kind", "Вид"),
    "campaigns_status": ("Status", "Состояние"),
    "campaigns_when": ("When", "Когда"),
    "campaigns_recipients_n": ("Recipients", "Получатели"),
    "campaigns_kind_message": ("Message", "Сообщение"),
    "campaigns_kind_geo": ("Geo", "Гео"),
    "campaigns_kind_restock": ("Back in stock", "Снова в наличии"),
    "campaigns_status_draft": ("Draft", "Черновик"),
    "campaigns_status_scheduled": ("Scheduled", "Запланирована"),
    "campaigns_status_sending": ("Sending", "Отправляется"),
    "campaigns_status_finished": ("Finished", "Завершена"),
    "campaigns_status_cancelled": ("Cancelled", "Отменена"),
    "campaigns_status_starting": ("Starting", "Запускается"),
    "campaigns_status_running": ("Running", "Идёт"),
    "campaigns_status_ending": ("Ending", "Завершается"),
    # compose
    "campaigns_compose_title": ("New message campaign", "Новая рассылка"),
    "campaigns_message": ("Message (default language)", "Сообщение (язык по умолчанию)"),
    "campaigns_message_hint": ("Shown on the lock screen and in the card's news. Everyone whose language has no "
                               "text of its own gets this one.",
                               "Показывается на экране блокировки и в новостях карты. Его получают все, для чьего "
                               "языка нет своего текста."),
    "campaigns_message_ru": ("Message in Russian (optional)", "Сообщение на русском (необязательно)"),
    "campaigns_message_ru_hint": ("Customers whose language is Russian get this text.",
                                  "Клиенты с русским языком получат этот текст."),
    "campaigns_audience": ("Audience", "Аудитория"),
    "campaigns_audience_hint": ("Cards that meet every condition you set; with none set, every card.",
                                "Карты, подходящие под все выбранные условия; без условий — все карты."),
    "campaigns_program": ("Program", "Программа"),
    "campaigns_any_program": ("Every program", "Все программы"),
    "campaigns_tiers": ("Tiers (any of those ticked)", "Уровни (любой из отмеченных)"),
    "campaigns_activity": ("Activity", "Активность"),
    "campaigns_activity_any": ("Anyone", "Все"),
    "campaigns_activity_new": ("Joined in the last … days", "Присоединились за последние … дней"),
    "campaigns_activity_active": ("Visited in the last … days", "Были за последние … дней"),
    "campaigns_activity_lapsed": ("Not seen for … days", "Не появлялись … дней"),
    "campaigns_days": ("Days", "Дней"),
    "campaigns_birthday": ("Birthday", "День рождения"),
    "campaigns_birthday_any": ("Any day", "Любой день"),
    "campaigns_birthday_week": ("This week", "На этой неделе"),
    "campaigns_birthday_month": ("This month", "В этом месяце"),
    "campaigns_count": ("Cards in this audience now:", "Карт в этой аудитории сейчас:"),
    "campaigns_counting": ("counting…", "считаем…"),
    "campaigns_rule": ("The rule sent to the API", "Правило, которое уйдёт в API"),
    "campaigns_preview": ("Preview", "Предпросмотр"),
    "campaigns_preview_language": ("Preview language", "Язык предпросмотра"),
    "campaigns_preview_apple": ("Apple Wallet: the lock screen", "Apple Wallet: экран блокировки"),
    "campaigns_preview_apple_alt": ("The message on an iPhone's lock screen", "Сообщение на экране блокировки iPhone"),
    "campaigns_preview_google": ("Google Wallet: a text notification", "Google Wallet: текстовое уведомление"),
    "campaigns_preview_google_hint": ("Google Wallet shows the message as an Android notification and on the card; "
                                      "Google writes the notification itself, so this is an approximation.",
                                      "Google Wallet показывает сообщение как уведомление Android и на карте; "
                                      "уведомление оформляет сам Google, поэтому здесь примерный вид."),
    "campaigns_preview_none": ("Type a message to see it.", "Введите сообщение, чтобы увидеть его."),
    "campaigns_when_now": ("Send now", "Отправить сейчас"),
    "campaigns_when_later": ("Schedule", "Запланировать"),
    "campaigns_when_draft": ("Save as a draft", "Сохранить черновик"),
    "campaigns_send_at": ("Send at (your local time)", "Когда отправить (ваше местное время)"),
    "campaigns_time_needed": ("Choose a date and time.", "Выберите дату и время."),
    "campaigns_send_to": ("Send now to {n} cards", "Отправить сейчас на {n} карт"),
    "campaigns_schedule": ("Schedule", "Запланировать"),
    "campaigns_save_draft": ("Save draft", "Сохранить черновик"),
    "campaigns_no_programs": ("Create a program first: a campaign goes to its cards.",
                              "Сначала создайте программу: рассылка уходит её картам."),
    # geo
    "campaigns_geo_title": ("New geo campaign", "Новая гео-рассылка"),
    "campaigns_geo_intro": ("For a period, the lock-screen text shown near the chosen stores changes on every "
                            "pass that lists them, and goes back to the default afterwards.",
                            "На время меняется текст на экране блокировки рядом с выбранными магазинами на всех "
                            "картах, где они указаны, а потом возвращается обычный."),
    "campaigns_stores": ("Stores", "Магазины"),
    "campaigns_stores_hint": ("Hold Ctrl (⌘ on a Mac) to choose several.", "Удерживайте Ctrl (⌘ на Mac), чтобы "
                              "выбрать несколько."),
    "campaigns_relevant_text": ("Text near the stores", "Текст рядом с магазинами"),
    "campaigns_starts_at": ("Starts (your local time; empty: now)", "Начало (ваше местное время; пусто — сейчас)"),
    "campaigns_ends_at": ("Ends (your local time)", "Окончание (ваше местное время)"),
    "campaigns_geo_create": ("Start the geo campaign", "Запустить гео-рассылку"),
    "campaigns_no_stores": ("Add a store first.", "Сначала добавьте магазин."),
    # restock
    "campaigns_restock_title": ("Back in stock", "Снова в наличии"),
    "campaigns_restock_intro": ("Tell every card waiting for this product (its size and colour) that it is back, "
                                "once, through their pass.",
                                "Сообщить всем картам, ждущим этот товар (размер и цвет), что он снова в наличии — "
                                "один раз, через карту."),
    "campaigns_sku": ("SKU", "Артикул"),
    "campaigns_size": ("Size (empty: every size)", "Размер (пусто — все размеры)"),
    "campaigns_colour": ("Colour (empty: every colour)", "Цвет (пусто — все цвета)"),
    "campaigns_product_name": ("Product name (optional)", "Название товара (необязательно)"),
    "campaigns_store": ("Back at store (optional)", "В каком магазине (необязательно)"),
    "campaigns_no_store": ("No store named", "Без магазина"),
    "campaigns_restock_send": ("Tell the subscribers", "Оповестить подписчиков"),
    "campaigns_waiting": ("Waiting for a product", "Ждут товар"),
    "campaigns_waiting_none": ("Nobody is waiting for a product.", "Никто не ждёт товар."),
    "campaigns_waiting_n": ("Cards waiting", "Ждут карт"),
    "campaigns_any": ("any", "любой"),
    # detail and report
    "campaigns_back": ("All campaigns", "Все рассылки"),
    "campaigns_texts": ("Texts", "Тексты"),
    "campaigns_default": ("default", "по умолчанию"),
    "campaigns_audience_now": ("Cards in the audience now", "Карт в аудитории сейчас"),
    "campaigns_created": ("Created", "Создана"),
    "campaigns_send_at_label": ("Sends at", "Отправка"),
    "campaigns_started": ("Started", "Начата"),
    "campaigns_finished": ("Finished", "Завершена"),
    "campaigns_period": ("Period", "Период"),
    "campaigns_product": ("Product", "Товар"),
    "campaigns_send_now": ("Send now", "Отправить сейчас"),
    "campaigns_reschedule": ("Move the time", "Перенести"),
    "campaigns_cancel": ("Cancel the campaign", "Отменить рассылку"),
    "campaigns_end_now": ("End now", "Завершить сейчас"),
    "campaigns_cancel_confirm": ("Cancel this campaign? Cards already reached keep the message.",
                                 "Отменить рассылку? Уже получившие карты сохранят сообщение."),
    "campaigns_watching": ("Sending; this page follows it.", "Идёт отправка; страница следит за ней."),
    "campaigns_funnel": ("Funnel", "Воронка"),
    "campaigns_f_audience": ("Cards in the audience now", "Карт в аудитории сейчас"),
    "campaigns_f_targeted": ("Recipients (cards sent the campaign)", "Получатели (карт, кому отправлена)"),
    "campaigns_f_devices": ("Cards with a phone to push to", "Карт с телефоном для уведомления"),
    "campaigns_f_sent": ("Pushes sent (one per phone)", "Отправлено уведомлений (по одному на телефон)"),
    "campaigns_f_accepted": ("Delivered to Apple / Google", "Принято Apple / Google"),
    "campaigns_f_confirmed": ("Fetched by the phone", "Получено телефоном"),
    "campaigns_f_reached": ("Reached (a phone or Google took it)", "Дошло (принял телефон или Google)"),
    "campaigns_f_buyers": ("Reached and bought within 7 days", "Дошло и купили за 7 дней"),
    "campaigns_f_failed": ("Failed or unreachable", "Не доставлено или недоступно"),
    "campaigns_f_not_sent": ("Not sent (no route configured)", "Не отправлено (нет настроенного канала)"),
    "campaigns_f_pending": ("Waiting to be sent", "Ждут отправки"),
    "campaigns_platforms": ("By platform", "По платформам"),
    "campaigns_platform": ("Platform", "Платформа"),
    "campaigns_p_pushes": ("Pushes", "Уведомлений"),
    "campaigns_p_sent": ("Sent", "Отправлено"),
    "campaigns_p_accepted": ("Accepted", "Принято"),
    "campaigns_p_confirmed": ("Fetched", "Получено"),
    "campaigns_p_failed": ("Failed", "Ошибки"),
    "campaigns_p_not_sent": ("Not sent", "Не отправлено"),
    "campaigns_p_pending": ("Pending", "В очереди"),
    "campaigns_reasons": ("Why some were not delivered", "Почему часть не доставлена"),
    "campaigns_recipients": ("Recipients", "Получатели"),
    "campaigns_recipients_none": ("Nobody has been reached yet.", "Пока никто не получил."),
    "campaigns_card": ("Card", "Карта"),
    "campaigns_customer": ("Customer", "Клиент"),
    "campaigns_language": ("Language", "Язык"),
    "campaigns_state": ("State", "Состояние"),
    "campaigns_devices": ("Phones", "Телефоны"),
    "campaigns_first_page": ("First page", "Первая страница"),
    "campaigns_state_fetched": ("fetched", "получено"),
    "campaigns_state_pushed": ("pushed", "отправлено"),
    "campaigns_state_pending": ("pending", "в очереди"),
    "campaigns_state_failed": ("failed", "ошибка"),
    "campaigns_state_unreachable": ("unreachable", "недоступен"),
    "campaigns_state_not_sent": ("not sent", "не отправлено"),
    "campaigns_state_no_device": ("no phone", "нет телефона"),
    "campaigns_states_hint": ("No phone: the card has no phone to push to; the pass shows the message when it is "
                              "next opened. Not sent: no route to the phone's wallet app is configured on this "
                              "server. Fetched: the phone downloaded the updated pass.",
                              "Нет телефона: у карты нет телефона для уведомления; сообщение покажется при "
                              "следующем открытии карты. Не отправлено: на сервере не настроен канал к "
                              "приложению-кошельку телефона. Получено: телефон загрузил обновлённую карту."),
    "campaigns_state_holdout": ("held back", "в контрольной группе"),
    # holdout and lift
    "campaigns_holdout": ("Holdout: % of the audience kept back", "Контрольная группа: % аудитории без рассылки"),
    "campaigns_holdout_hint": ("These cards, chosen at random, get nothing; comparing them with the rest shows what "
                               "the campaign really caused. 0 keeps nobody back, and the report then cannot tell "
                               "effect from coincidence.",
                               "Эти карты, выбранные случайно, ничего не получат; сравнение с остальными покажет, "
                               "что на самом деле дала рассылка. 0 — никого не откладывать, и тогда отчёт не "
                               "отличит эффект от совпадения."),
    "campaigns_cost": ("Cost of the campaign (optional)", "Стоимость рассылки (необязательно)"),
    "campaigns_cost_hint": ("What you count against it (the offer, its production), in your program's currency; "
                            "the report's ROMI needs it.",
                            "Что вы на неё относите (предложение, подготовка), в валюте программы; без неё отчёт "
                            "не посчитает ROMI."),
    "campaigns_lift": ("Lift against the holdout", "Эффект по сравнению с контрольной группой"),
    "campaigns_lift_not_causal": ("No holdout was kept, so these figures are not causal: they show what the "
                                  "recipients did, not what the message made them do.",
                                  "Контрольной группы нет, поэтому эти цифры не причинные: они показывают, что "
                                  "сделали получатели, а не что сделало сообщение."),
    "campaigns_lift_too_small": ("A group has fewer than two reachable cards yet, so no difference can be "
                                 "measured.",
                                 "В одной из групп пока меньше двух достижимых карт, поэтому разницу не измерить."),
    "campaigns_lift_few_buyers": ("Few buyers on a side (under 10): the interval is rough; read it as a guide and "
                                  "wait for more purchases or a larger holdout.",
                                  "Мало покупателей в одной из групп (меньше 10): интервал приблизительный; "
                                  "считайте его ориентиром и дождитесь покупок или возьмите группу больше."),
    "campaigns_lift_window": ("Purchases in the {days} days from the start, by the cards a message could reach "
                              "when it was sent (a phone or a Google Wallet card).",
                              "Покупки за {days} дней с начала — по картам, до которых сообщение могло дойти в "
                              "момент отправки (телефон или карта Google Wallet)."),
    "campaigns_lift_open": ("Purchases may still come in until", "Покупки ещё могут прийти до"),
    "campaigns_lift_treated": ("Sent", "Получили"),
    "campaigns_lift_holdout": ("Held back", "Контрольная группа"),
    "campaigns_lift_recipients": ("Cards", "Карт"),
    "campaigns_lift_reached": ("Reached (held back: would have been)", "Дошло (у контрольной — могло бы)"),
    "campaigns_lift_compared": ("Compared (reachable when sent)", "В сравнении (достижимы при отправке)"),
    "campaigns_lift_buyers": ("Buyers", "Покупатели"),
    "campaigns_lift_purchases": ("Purchases", "Покупки"),
    "campaigns_lift_revenue": ("Revenue", "Выручка"),
    "campaigns_lift_conversion": ("Conversion", "Конверсия"),
    "campaigns_lift_revenue_per_card": ("Revenue per card", "Выручка на карту"),
    "campaigns_lift_groups_hint": ("Buyers, purchases and revenue count the compared cards of each side.",
                                   "Покупатели, покупки и выручка — по картам в сравнении с каждой стороны."),
    "campaigns_lift_conversion_difference": ("Conversion difference", "Разница в конверсии"),
    "campaigns_lift_points": ("percentage points", "п. п."),
    "campaigns_lift_revenue_difference": ("Revenue per card difference", "Разница выручки на карту"),
    "campaigns_lift_incremental": ("Incremental revenue", "Дополнительная выручка"),
    "campaigns_lift_cost": ("Cost", "Стоимость"),
    "campaigns_lift_no_cost": ("not given (no ROMI)", "не указана (ROMI не считается)"),
    "campaigns_lift_from": ("95 % interval", "95 % интервал"),
    "campaigns_lift_to": ("to", "до"),
    "campaigns_lift_significant": ("The interval excludes zero: the difference is unlikely to be chance.",
                                   "Интервал не включает ноль: разница вряд ли случайна."),
    "campaigns_lift_chance": ("The interval includes zero: the data cannot tell this difference from chance yet.",
                              "Интервал включает ноль: по этим данным разницу пока не отличить от случайности."),
    "campaigns_platform_apple": ("Apple", "Apple"),
    "campaigns_platform_fcm": ("Android (FCM)", "Android (FCM)"),
    "campaigns_platform_relay": ("Android wallet app", "Android-приложение"),
    "campaigns_platform_google": ("Google Wallet", "Google Wallet"),
})


def _brand_id() -> int:
    return int(g.console_session.account.brand_id)


def _campaign(campaign_id: int) -> Campaign | None:
    """The brand's campaign; None for another brand's id, exactly as for a missing one."""
    campaign = db.session().get(Campaign, campaign_id)
    return campaign if campaign is not None and campaign.brand_id == _brand_id() else None


def _programs() -> list[Program]:
    return list(db.session().scalars(select(Program).where(Program.brand_id == _brand_id()).order_by(Program.id)))


def _stores() -> list[Store]:
    return list(db.session().scalars(select(Store).where(Store.brand_id == _brand_id()).order_by(Store.name)))


@bp.get("/console/campaigns")
@signed_in("read")
def index() -> Response:
    session = db.session()
    campaigns = list(session.scalars(select(Campaign).where(Campaign.brand_id == _brand_id())
                                     .order_by(Campaign.id.desc()).limit(100)))
    counts = dict(session.execute(  # type: ignore[arg-type]
        select(CampaignRecipient.campaign_id, func.count())
        .where(CampaignRecipient.campaign_id.in_([campaign.id for campaign in campaigns]),
               CampaignRecipient.holdout.is_(False))
        .group_by(CampaignRecipient.campaign_id)).all()) if campaigns else {}
    return render("campaigns/list.html", campaigns=campaigns, counts=counts)


@bp.get("/console/campaigns/new")
@signed_in("campaigns")
def compose() -> Response:
    programs = _programs()
    tiers = list(dict.fromkeys(db.session().scalars(
        select(Tier.name).join(Program, Program.id == Tier.program_id)
        .where(Program.brand_id == _brand_id()).order_by(Tier.threshold, Tier.name))))
    brand = g.console_session.account.brand
    return render("campaigns/compose.html", programs=programs, tiers=tiers, brand_name=brand.name)


@bp.get("/console/campaigns/geo/new")
@signed_in("campaigns")
def compose_geo() -> Response:
    return render("campaigns/geo.html", stores=_stores())


@bp.get("/console/campaigns/restock")
@signed_in("campaigns")
def compose_restock() -> Response:
    waiting = db.session().execute(
        select(ProductSubscription.sku, ProductSubscription.size, ProductSubscription.colour,
               func.max(ProductSubscription.product_name), func.count())
        .where(ProductSubscription.brand_id == _brand_id(), ProductSubscription.ended_at.is_(None))
        .group_by(ProductSubscription.sku, ProductSubscription.size, ProductSubscription.colour)
        .order_by(func.count().desc(), ProductSubscription.sku).limit(100)).all()
    return render("campaigns/restock.html", stores=_stores(), waiting=waiting)


@bp.get("/console/campaigns/<int:campaign_id>")
@signed_in("read")
def detail(campaign_id: int) -> Response:
    session = db.session()
    campaign = _campaign(campaign_id)
    if campaign is None:
        return render("console/message.html", 404, message=words.words_for(language())["not_found"])
    try:
        after = decode_cursor(request.args.get("cursor") or None)
    except Problem:
        after = None
    rows = recipients(session, campaign, after, RECIPIENTS_PAGE + 1)
    next_cursor = encode_cursor(rows[RECIPIENTS_PAGE - 1]["id"]) if len(rows) > RECIPIENTS_PAGE else None
    figures = report(session, campaign)
    # pushes refused here count among the failed ones for devices (with their reason), not for
    # Google; the page shows them apart from those a vendor refused
    google_not_sent = figures["platforms"].get("google", {}).get("not_sent", 0)
    failed_delivered = figures["failed"] - (figures["not_sent"] - google_not_sent)
    audience_now = None
    if campaign.kind == "message" and campaign.status in ("draft", "scheduled"):
        audience_now = segments.count(session, campaign.brand_id, campaign.audience, utcnow())
    buyers = None
    if campaign.started_at is not None:
        buyers = (campaign.buyers_7d if campaign.buyers_7d is not None
                  else outcomes.purchases(session, campaign.id, campaign.started_at)[0])
    event = (session.scalar(select(RestockEvent).where(RestockEvent.campaign_id == campaign.id))
             if campaign.kind == "restock" else None)
    stores = {store.id: store.name for store in _stores()} if campaign.kind == "geo" else {}
    return render("campaigns/detail.html", campaign=campaign, figures=figures, recipients=rows[:RECIPIENTS_PAGE],
                  failed_delivered=failed_delivered, next_cursor=next_cursor, paged=after is not None,
                  audience_now=audience_now, buyers=buyers,
                  event=event, store_names=stores, states=STATES, watching=campaign.status not in FINAL,
                  describe=describe_audience)


def describe_audience(audience: dict[str, Any], texts: dict[str, str]) -> str:
    """The audience rule in the page's words (the JSON is shown beside it for the exact rule)."""
    if not audience:
        return ""
    (rule, value), = audience.items()
    if rule == "all_cards":
        return texts["campaigns_any_program"]
    if rule == "program_id":
        program = db.session().get(Program, value)
        return f'{texts["campaigns_program"]}: {program.name if program else value}'
    if rule == "tier":
        return f'{texts["campaigns_tiers"]}: {", ".join(value)}'
    if rule in ("new", "active", "lapsed"):
        return texts[f"campaigns_activity_{rule}"].replace("…", str(value["days"]))
    if rule == "birthday":
        return f'{texts["campaigns_birthday"]}: {texts["campaigns_birthday_" + value]}'
    if rule == "all":
        return "; ".join(describe_audience(child, texts) for child in value)
    return ""  # any / not / card_ids: the JSON beside it says it exactly
