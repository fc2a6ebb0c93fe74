"""The join page's and poster's words in English and Russian.

A small dictionary per language rather than a catalogue toolchain: the page has a few dozen
strings. The language comes from `?lang=`, else the browser's Accept-Language, else English.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from service.enrolment import formats
from service.web.languages import LANGUAGES, choose_language  # noqa: F401  (re-exported for the join page)

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "join_title": "Join {program}",
        "intro": "Your {brand} card in your phone's wallet. No app, no password.",
        "name": "Your name",
        "email": "Email",
        "phone": "Phone",
        "contact_hint": "A phone number or an email is enough.",
        "birthday": "Birthday (optional)",
        "birthday_hint": "For a treat on your birthday.",
        "consent": "I agree to the terms of {brand}",
        "terms": "Terms",
        "submit": "Get my card",
        "referred": "A friend invited you: you both get {points} points after your first purchase.",
        "errors_title": "Please check the form:",
        "error_name": "Please enter your name.",
        "error_name_long": "The name is too long (at most 200 characters).",
        "error_contact": "Please enter a phone number or an email.",
        "error_email": "This email address does not look right.",
        "error_phone": "Use digits, spaces, dashes and an optional leading +.",
        "error_birthday": "Please enter a valid date.",
        "error_birthday_future": "The birthday cannot be in the future.",
        "error_consent": "Please accept the terms to join.",
        "error_required": "Please fill in every field marked required.",
        "required": "(required)",
        "birthday_asked": "Birthday",
        "contact_one": "We need it to reach you about your card.",
        "welcome": "Join now and get {points} on your card.",
        "error_token": "The form expired or was sent from elsewhere. Please send it again.",
        "error_rate": "Too many tries from this connection. Please wait a minute and send it again.",
        "card_title": "Your {program} card",
        "card_ready": "Welcome, {name}! Your card is ready.",
        "card_again": "You are already a member, {name}: here is your card again.",
        "add_to": "Add to",
        "apple_wallet": "Apple Wallet",
        "google_wallet": "Google Wallet",
        "add_apple": "Add to Apple Wallet",
        "add_google": "Add to Google Wallet",
        "other_phone": "Other phone?",
        "google_pending": "Google Wallet is not available right now; please try again in a minute.",
        "card_number": "Card number",
        "balance": "Balance",
        "points": "points",
        "discount": "Discount",
        "points_expire": "Points expire on {date}",
        "invite_title": "Invite friends",
        "invite_text": "Share your link: when a friend makes a first purchase, you both get {points} points.",
        "poster_heading": "Scan to join",
        "poster_sub": "Your {program} card in Apple Wallet or Google Wallet",
        "poster_url": "or open",
        "other_language": "Русский",
        "not_found": "This page does not exist.",
        "sent_title": "Check your messages",
        "sent_text": ("If this email or phone already has a {program} card, we have just sent it a one-time code "
                      "(an e-mail also has a link). Type the code here, or open the link; they work for {minutes} "
                      "minutes."),
        "code": "Code from the message",
        "code_submit": "Show my card",
        "error_code": "That code is not right. Tries left: {tries}.",
        "error_code_locked": ("This code no longer works (too many tries, used or too old). "
                              "Send the join form again to get a new one."),
        "dev_logged": ("Development: {setting} is not set, so the message was not sent but written to the "
                       "server log (logger passcast.notify)."),
        "link_title": "Your {program} card",
        "link_text": "Tap the button to open your card.",
        "link_bad": ("This link no longer works: it was already used or is too old. "
                     "Send the join form again to get a new one."),
        "start_again": "Back to the join form",
        "recovery_subject": "Your {program} card",
        "recovery_email": ("Hello,\n\nsomeone, hopefully you, asked for the {program} card of this address "
                           "on the join page of {brand}.\n\nOpen your card: {link}\n\nor type this code on "
                           "the page: {code}\n\nThe link and the code work once, for {minutes} minutes. "
                           "If it was not you, ignore this message: nothing happens without them.\n"),
        "recovery_sms": "{brand}: your card code is {code} (once, {minutes} min). Not you? Ignore it.",
    },
    "ru": {
        "join_title": "Вступайте в {program}",
        "intro": "Карта {brand} в кошельке вашего телефона. Без приложения и пароля.",
        "name": "Ваше имя",
        "email": "Email",
        "phone": "Телефон",
        "contact_hint": "Достаточно телефона или email.",
        "birthday": "День рождения (необязательно)",
        "birthday_hint": "Для подарка в ваш день рождения.",
        "consent": "Я принимаю условия {brand}",
        "terms": "Условия",
        "submit": "Получить карту",
        "referred": "Вас пригласил друг: после первой покупки вы оба получите {points} баллов.",
        "errors_title": "Проверьте форму:",
        "error_name": "Введите ваше имя.",
        "error_name_long": "Имя слишком длинное (не больше 200 символов).",
        "error_contact": "Введите телефон или email.",
        "error_email": "Похоже, в адресе email ошибка.",
        "error_phone": "Используйте цифры, пробелы, дефисы и + в начале.",
        "error_birthday": "Введите правильную дату.",
        "error_birthday_future": "День рождения не может быть в будущем.",
        "error_consent": "Чтобы вступить, примите условия.",
        "error_required": "Заполните все поля с пометкой «обязательно».",
        "required": "(обязательно)",
        "birthday_asked": "День рождения",
        "contact_one": "Нужен, чтобы связаться с вами по поводу карты.",
        "welcome": "Вступите сейчас и получите {points} на карту.",
        "error_token": "Форма устарела или отправлена не отсюда. Отправьте её ещё раз.",
        "error_rate": "Слишком много попыток с этого подключения. Подождите минуту и отправьте ещё раз.",
        "card_title": "Ваша карта {program}",
        "card_ready": "Добро пожаловать, {name}! Ваша карта готова.",
        "card_again": "{name}, вы уже участник: вот ваша карта.",
        "add_to": "Добавить в",
        "apple_wallet": "Apple Wallet",
        "google_wallet": "Google Кошелек",
        "add_apple": "Добавить в Apple Wallet",
        "add_google": "Добавить в Google Кошелек",
        "other_phone": "Другой телефон?",
        "google_pending": "Google Кошелек сейчас недоступен; попробуйте через минуту.",
        "card_number": "Номер карты",
        "balance": "Баланс",
        "points": "баллов",
        "discount": "Скидка",
        "points_expire": "Баллы сгорают {date}",
        "invite_title": "Пригласите друзей",
        "invite_text": "Поделитесь ссылкой: после первой покупки друга вы оба получите {points} баллов.",
        "poster_heading": "Отсканируйте, чтобы вступить",
        "poster_sub": "Карта {program} в Apple Wallet или Google Кошельке",
        "poster_url": "или откройте",
        "other_language": "English",
        "not_found": "Такой страницы нет.",
        "sent_title": "Проверьте сообщения",
        "sent_text": ("Если у этого email или телефона уже есть карта {program}, мы только что отправили на него "
                      "одноразовый код (в письме есть и ссылка). Введите код здесь или откройте ссылку; они "
                      "действуют {minutes} минут."),
        "code": "Код из сообщения",
        "code_submit": "Показать мою карту",
        "error_code": "Код неверный. Осталось попыток: {tries}.",
        "error_code_locked": ("Этот код больше не действует (слишком много попыток, уже использован или устарел). "
                              "Отправьте форму ещё раз, чтобы получить новый."),
        "dev_logged": ("Режим разработки: {setting} не задан, поэтому сообщение не отправлено, а записано в "
                       "журнал сервера (logger passcast.notify)."),
        "link_title": "Ваша карта {program}",
        "link_text": "Нажмите кнопку, чтобы открыть карту.",
        "link_bad": ("Эта ссылка больше не действует: она уже использована или устарела. "
                     "Отправьте форму ещё раз, чтобы получить новую."),
        "start_again": "Вернуться к форме",
        "recovery_subject": "Ваша карта {program}",
        "recovery_email": ("Здравствуйте!\n\nКто-то, надеемся, что вы, запросил карту {program} для этого адреса "
                           "на странице {brand}.\n\nОткройте карту: {link}\n\nили введите на странице код: "
                           "{code}\n\nСсылка и код действуют один раз, {minutes} минут. Если это были не вы, "
                           "просто не отвечайте: без них ничего не произойдёт.\n"),
        "recovery_sms": "{brand}: код карты {code}, действует {minutes} мин. Не вы? Игнорируйте.",
    },
}


class Words:
    """`words("card_ready", name="Anna")`, and `words.other` for the language switch."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self.table = WORDS[self.language]

    def __call__(self, key: str, **values: object) -> str:
        text = self.table.get(key) or WORDS["en"][key]
        return text.format(**values) if values else text

    def date(self, day: dt.date | dt.datetime) -> str:
        return formats.long_date(day, self.language)

    def money(self, amount: Decimal, currency: str) -> str:
        return formats.money(amount, currency, self.language)

    def points(self, count: int) -> str:
        return formats.points(count, self.language)

    @property
    def other(self) -> str:
        return "ru" if self.language == "en" else "en"
