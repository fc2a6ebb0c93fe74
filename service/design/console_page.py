"""The console's card designer (/console/design): a marketer designs the loyalty card without curl.

The page is rendered from the models; everything it changes goes through the brand API with the
console session (PATCH /programs/{id}, PUT .../images/{kind}, PATCH .../tiers/{id},
POST .../apply-preset), and the live preview is POST .../preview.png of the unsaved draft, so
the console can do nothing the API cannot. Roles with the "design" permission get the form; the
others (an analyst) see the saved card's previews only, with no control to change it (the API
refuses their writes anyway).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, request
from sqlalchemy import select

from passes.barcodes import FORMATS as BARCODE_FORMATS
from service.console import sections, words
from service.console.guard import render, signed_in
from service.design.card_design import LABEL_KEYS, STRINGS
from service.design.presets import PRESETS
from service.models import Program
from service.platform import db

bp = Blueprint("design_page", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/design")
sections.add(sections.Section("design_page.index", "nav_design", "read", 40, "/console/design"))

#: The label boxes the form shows, in the card's order (LABEL_KEYS has the API's names).
LABEL_ORDER = ("balance", "discount", "tier", "holder", "number", "spend", "news", "expiry", "terms")

# The till's safeguards (service/loyalty/limits.py): a form of their own on this page, PATCHing the program.
words.add({
    "design_limits": ("The till's safeguards", "Защита на кассе"),
    "design_limits_hint": ("Limits on what one card may earn (points, or stamps on a stamp card); leave a box empty "
                           "to switch that limit off. A refused transaction is explained at the till and counted.",
                           "Ограничения на то, сколько может получить одна карта (баллы или штампы); оставьте поле "
                           "пустым, чтобы отключить ограничение. Отказ объясняется на кассе и учитывается."),
    "design_limit_hours": ("At most one earning transaction every … hours (24: once a day)",
                           "Не чаще одного начисления раз в … часов (24: раз в день)"),
    "design_limit_daily": ("At most this much per card per day (the program's time zone)",
                           "Не больше стольких в день на карту (по часовому поясу программы)"),
    "design_limit_transaction": ("At most this much in one transaction (a larger purchase is refused)",
                                 "Не больше стольких за одну операцию (более крупная покупка отклоняется)"),
    "design_undo_window": ("Minutes a cashier may undo their own transaction (0: never)",
                           "Сколько минут кассир может отменить свою операцию (0: никогда)"),
})

words.add({
    "nav_design": ("Card design", "Дизайн карты"),
    "design_title": ("Card designer", "Конструктор карты"),
    "design_program": ("Program", "Программа"),
    "design_show": ("Show", "Показать"),
    "design_no_program": ("This brand has no program yet. Create one through the API first.",
                          "У бренда пока нет программы. Сначала создайте её через API."),
    "design_read_only": ("Your role can look at the card but not change it.",
                         "Ваша роль может смотреть на карту, но не менять её."),
    "design_presets": ("Ready-made designs", "Готовые дизайны"),
    "design_presets_hint": ("One click dresses the card: colours, strip, description and terms text. "
                            "Earn rules, tiers, logo and icon stay.",
                            "Один щелчок — и карта одета: цвета, полоса, описание и условия. "
                            "Правила начисления, уровни, логотип и значок остаются."),
    "design_apply": ("Use the {name} design", "Применить дизайн «{name}»"),
    "design_apply_confirm": ("Replace the card's colours, strip, description and terms with this design? "
                             "Every card is updated.",
                             "Заменить цвета, полосу, описание и условия карты этим дизайном? "
                             "Обновятся все карты."),
    "design_colours": ("Colours", "Цвета"),
    "design_background": ("Background", "Фон"),
    "design_foreground": ("Values", "Значения"),
    "design_label_colour": ("Labels", "Подписи"),
    "design_texts": ("Texts", "Тексты"),
    "design_name": ("Program name (on the card without a logo, and on Google)",
                    "Название программы (на карте без логотипа и в Google)"),
    "design_description": ("Description (what the phone reads out)", "Описание (его читает телефон)"),
    "design_terms": ("Your own terms text (the rules are written for you in both languages)",
                     "Ваш текст условий (правила пишутся сами, на обоих языках)"),
    "design_barcode": ("Barcode", "Штрихкод"),
    "design_barcode_format": ("The cards' barcode", "Штрихкод карт"),
    "design_barcode_qr": ("QR code with the signed card code (recommended)",
                          "QR-код с подписанным кодом карты (рекомендуется)"),
    "design_barcode_code128": ("Code 128 (your plastic cards' numbers)", "Code 128 (номера ваших пластиковых карт)"),
    "design_barcode_ean13": ("EAN-13 (your plastic cards' numbers)", "EAN-13 (номера ваших пластиковых карт)"),
    "design_barcode_pdf417": ("PDF417 (your plastic cards' numbers)", "PDF417 (номера ваших пластиковых карт)"),
    "design_barcode_aztec": ("Aztec (your plastic cards' numbers)", "Aztec (номера ваших пластиковых карт)"),
    "design_barcode_hint": ("Moving from plastic cards? Choose their barcode so your till scanners keep reading "
                            "them: a card imported with its card number shows that number; the others keep the "
                            "signed code. A plastic number is not signed and can be copied, as on plastic.",
                            "Переходите с пластиковых карт? Выберите их штрихкод, и сканеры на кассах будут "
                            "читать их как раньше: карта, импортированная с номером, показывает этот номер; "
                            "остальные — подписанный код. Номер пластиковой карты не подписан и его можно "
                            "скопировать, как и пластик."),
    "design_labels": ("Figures and their labels", "Показатели и их подписи"),
    "design_labels_hint": ("Where each figure shows: the balance (or discount) large on the front, the tier in "
                           "the header, member and card number below, news, expiry and terms on the back. "
                           "Leave a box empty to keep the standard label.",
                           "Где что показано: баланс (или скидка) крупно на лицевой стороне, уровень в шапке, "
                           "участник и номер карты ниже, новости, срок баллов и условия на обороте. "
                           "Оставьте поле пустым, чтобы была стандартная подпись."),
    "design_place_balance": ("Balance (front, large)", "Баланс (лицевая сторона, крупно)"),
    "design_place_discount": ("Discount (front, large)", "Скидка (лицевая сторона, крупно)"),
    "design_place_tier": ("Tier (front, header)", "Уровень (лицевая, шапка)"),
    "design_place_holder": ("Member (front)", "Участник (лицевая сторона)"),
    "design_place_number": ("Card number (front)", "Номер карты (лицевая сторона)"),
    "design_place_spend": ("Purchases (front)", "Покупки (лицевая сторона)"),
    "design_place_news": ("News (back)", "Новости (оборот)"),
    "design_place_expiry": ("Points expiry (back)", "Сгорание баллов (оборот)"),
    "design_place_terms": ("Terms (back)", "Условия (оборот)"),
    "design_in_english": ("English", "По-английски"),
    "design_in_russian": ("Russian", "По-русски"),
    "design_images": ("Logo, icon and strip", "Логотип, значок и полоса"),
    "design_images_hint": ("PNG or JPEG. Upload saves at once and updates every card.",
                           "PNG или JPEG. Загрузка сохраняется сразу и обновляет все карты."),
    "design_image_logo": ("Logo", "Логотип"),
    "design_image_icon": ("Icon (notifications)", "Значок (уведомления)"),
    "design_image_strip": ("Strip (behind the balance)", "Полоса (за балансом)"),
    "design_upload": ("Upload", "Загрузить"),
    "design_remove": ("Back to the generated one", "Вернуть стандартное"),
    "design_tiers": ("Tier looks", "Вид уровней"),
    "design_tiers_hint": ("A tier's colour left empty keeps the program's. Saved per tier.",
                          "Пустой цвет уровня — цвет программы. Сохраняется для каждого уровня."),
    "design_tier_save": ("Save the {name} look", "Сохранить вид «{name}»"),
    "design_tier_strip": ("{name}: own strip", "{name}: своя полоса"),
    "design_no_tiers": ("The program has no tiers.", "У программы нет уровней."),
    "design_preview": ("Preview", "Предпросмотр"),
    "design_preview_hint": ("Drawn from the real pass of a sample card as you type; nothing is saved until you "
                            "press Save.",
                            "Рисуется из настоящей карты-образца по мере ввода; ничего не сохраняется, "
                            "пока вы не нажмёте «Сохранить»."),
    "design_preview_language": ("Preview language", "Язык предпросмотра"),
    "design_preview_tier": ("Preview a card in tier", "Показать карту уровня"),
    "design_preview_no_tier": ("As a sample card reaches", "Как у карты-образца"),
    "design_preview_message": ("Lock-screen message when this changes", "Сообщение на экране блокировки при смене"),
    "design_message_balance": ("Balance", "Баланс"),
    "design_message_tier": ("Tier", "Уровень"),
    "design_message_news": ("News", "Новости"),
    "design_apple_front": ("Apple Wallet, front", "Apple Wallet, лицевая сторона"),
    "design_apple_back": ("Apple Wallet, back", "Apple Wallet, оборот"),
    "design_google": ("Google Wallet", "Google Wallet"),
    "design_lock_apple": ("iPhone lock screen", "Экран блокировки iPhone"),
    "design_lock_google": ("Android lock screen", "Экран блокировки Android"),
    "design_drawing": ("Drawing…", "Рисуем…"),
    "design_fix": ("The preview shows the last valid design. Fix: {problems}",
                   "Предпросмотр показывает последний верный вариант. Исправьте: {problems}"),
    "design_save": ("Save", "Сохранить"),
    "design_reach": ("Saving updates {cards} cards on {phones} phones ({apple} iPhone, {android} Android app, "
                     "{google} in Google Wallet).",
                     "Сохранение обновит карт: {cards}, на телефонах: {phones} (iPhone: {apple}, "
                     "приложение Android: {android}, в Google Wallet: {google})."),
    "design_nothing_changed": ("Nothing has changed yet.", "Пока ничего не изменено."),
    "design_progress": ("Reaching the phones", "Доставка на телефоны"),
    "design_progress_text": ("{cards} cards updated. Pushes: {sent} sent, {fetched} fetched the new card, "
                             "{waiting} waiting, {failed} not reachable (of {pushes}).",
                             "Обновлено карт: {cards}. Уведомления: отправлено {sent}, новую карту скачали "
                             "{fetched}, ждут {waiting}, недоступны {failed} (из {pushes})."),
    "design_progress_done": ("Every phone was told. Phones that are off fetch the card when they come back.",
                             "Все телефоны оповещены. Выключенные скачают карту, когда включатся."),
    "design_progress_stable": ("No further change for now: the rest fetch the card when they come online.",
                               "Пока без изменений: остальные скачают карту, когда будут в сети."),
})


def _label_keys(program: Program) -> list[str]:
    """The fields this program's card has: a discount card shows the discount and purchases, the
    others the balance and points expiry; the tier only with tiers."""
    hidden = {"balance", "expiry"} if program.kind == "discount" else {"discount", "spend"}
    if not program.tiers:
        hidden.add("tier")
    return [key for key in LABEL_ORDER if key in LABEL_KEYS and key not in hidden]


def _placeholders(program: Program) -> dict[str, tuple[str, str]]:
    """Each label box shows Passcast's own label (English, Russian) until the brand types one."""
    out = {}
    for key, english in LABEL_KEYS.items():
        if key == "balance" and program.kind == "cashback":
            english = "Cashback"
        out[key] = (english, STRINGS["ru"].get(english, english))
    return out


def _programs() -> list[Program]:
    brand = g.console_session.account.brand
    return list(db.session().scalars(select(Program).where(Program.brand_id == brand.id).order_by(Program.id)))


@bp.get("/console/design")
@signed_in("read")
def index() -> Response:
    """The designer for `?program=<id>` (default: the brand's first program)."""
    programs = _programs()
    program = programs[0] if programs else None
    asked = request.args.get("program", type=int)
    if asked is not None:
        program = next((known for known in programs if known.id == asked), None)
        if program is None:
            abort(404)
    return render("design/designer.html", programs=programs, program=program, presets=list(PRESETS.values()),
                  label_keys=_label_keys(program) if program is not None else [],
                  placeholders=_placeholders(program) if program is not None else {},
                  image_kinds=("logo", "icon", "strip"), barcode_formats=BARCODE_FORMATS)
