"""Every text of the cashier's page (/cashier), in English and Russian: key -> (English, Russian).

The template renders PAGE's texts; SCRIPT's texts go to cashier.js as a JSON block (the CSP
forbids inline scripts, a JSON block is data), which fills the `{name}` places with figures it
has formatted in the page's language. Keys ending in _one/_few/_many/_other are the plural
forms cashier.js picks with Intl.PluralRules (English uses only "one" and "other"; Russian
"other" is for fractions, which counts of points, phones or seconds never are).

The API's own problem details (a wrong check digit, an unknown token, a wrong PIN) are the
API's words and reach the page as the API wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from service.web.languages import LANGUAGES

#: The texts the server puts in the HTML.
PAGE: dict[str, tuple[str, str]] = {
    "page_title": ("Till · Passcast", "Касса · Passcast"),
    "till": ("Till", "Касса"),
    "language": ("Language", "Язык"),
    "sign_out": ("Sign out", "Выйти"),
    "signin_title": ("Sign in", "Вход"),
    "pin_cashier": ("Cashier", "Кассир"),
    "pin": ("PIN", "PIN-код"),
    "pin_hint": ("Sign out when you leave the till; a PIN sign-in also ends by itself when the till sits unused.",
                 "Выходите из кассы, когда отходите; вход по PIN-коду также завершается сам, "
                 "если кассой долго не пользуются."),
    "sign_in": ("Sign in", "Войти"),
    "use_token": ("Sign in with a cashier token instead", "Войти по токену кассира"),
    "token": ("Cashier token", "Токен кассира"),
    "token_hint": ("Your manager gives you this token. It stays on this device until you sign out.",
                   "Токен выдаёт управляющий. Он хранится на этом устройстве, пока вы не выйдете."),
    "use_pin": ("Sign in with your PIN", "Войти по PIN-коду"),
    "scan_title": ("Find the card", "Поиск карты"),
    "code": ("Scan the card, or type its number", "Отсканируйте карту или введите её номер"),
    "code_placeholder": ("e.g. 123 456 789", "например, 123 456 789"),
    "find": ("Find", "Найти"),
    "camera_start": ("Scan with camera", "Сканировать камерой"),
    "camera_hint": ("Hold the card's QR code in front of the camera.", "Поднесите QR-код карты к камере."),
    "camera_stop": ("Stop camera", "Выключить камеру"),
    "next_customer": ("Next customer", "Следующий покупатель"),
    "balance": ("Balance", "Баланс"),
    "tier": ("Tier", "Уровень"),
    "discount": ("Discount", "Скидка"),
    "what_happens": ("What happens", "Операция"),
    "purchase": ("Purchase", "Покупка"),
    "redeem": ("Redeem points", "Списать баллы"),
    "amount": ("Amount paid", "Сумма покупки"),
    "amount_placeholder": ("12.50", "12,50"),
    "points": ("Points to redeem", "Сколько баллов списать"),
    "points_placeholder": ("100", "100"),
    "continue": ("Continue", "Далее"),
    "confirm": ("Confirm", "Подтвердить"),
    "change": ("Change", "Изменить"),
    "recent": ("Recent", "Последние операции"),
    "stamp": ("Stamp", "Поставить штамп"),
    "stamps_to_give": ("Stamps to give", "Сколько штампов поставить"),
    "stamps_placeholder": ("1", "1"),
    "undo": ("Undo", "Отменить"),
    "rewards_title": ("Rewards to redeem", "Награды к выдаче"),
    "offers_title": ("Rewards for points", "Награды за баллы"),
}

#: The texts cashier.js shows: status lines, errors, confirmations, figures.
SCRIPT: dict[str, tuple[str, str]] = {
    "no_connection": ("No connection to the server. Check the network and try again.",
                      "Нет связи с сервером. Проверьте сеть и попробуйте ещё раз."),
    "token_invalid": ("This cashier token is not valid.", "Этот токен кассира недействителен."),
    "sign_in_again": ("{reason} Sign in again.", "{reason} Войдите снова."),
    "server_answered": ("The server answered {status}.", "Ошибка сервера: {status}."),
    "pin_locked": ("Too many wrong PINs: PIN sign-in for this cashier is locked until {until}. "
                   "Ask your manager, or sign in with your cashier token.",
                   "Слишком много неверных PIN-кодов: вход по PIN-коду для этого кассира заблокирован до {until}. "
                   "Обратитесь к управляющему или войдите по токену кассира."),
    "no_pins": ("No cashier has a PIN for this till yet: your manager sets PINs.",
                "Ни у одного кассира ещё нет PIN-кода для этой кассы: PIN-коды задаёт управляющий."),
    "pin_format": ("A PIN is 4 to 8 digits.", "PIN-код состоит из 4–8 цифр."),
    "signing_in": ("Signing in…", "Входим…"),
    "idle_signed_out": ("Signed out after {span} without use. Sign in again with your PIN.",
                        "Выход выполнен: кассой не пользовались {span}. Войдите снова по PIN-коду."),
    # "without use for ..." (Russian: the accusative, "1 минуту", "1 секунду")
    "for_minutes_one": ("{n} minute", "{n} минуту"),
    "for_minutes_few": ("{n} minutes", "{n} минуты"),
    "for_minutes_many": ("{n} minutes", "{n} минут"),
    "for_minutes_other": ("{n} minutes", "{n} минуты"),
    "for_seconds_one": ("{n} second", "{n} секунду"),
    "for_seconds_few": ("{n} seconds", "{n} секунды"),
    "for_seconds_many": ("{n} seconds", "{n} секунд"),
    "for_seconds_other": ("{n} seconds", "{n} секунды"),
    "looking_up": ("Looking up the card…", "Ищем карту…"),
    "points_one": ("{n} point", "{n} балл"),
    "points_few": ("{n} points", "{n} балла"),
    "points_many": ("{n} points", "{n} баллов"),
    "points_other": ("{n} points", "{n} балла"),
    "money": ("{amount} {currency}", "{amount} {currency}"),
    "balance_money": ("{money} ({points})", "{money} ({points})"),
    "card_meta": ("Card {number} · {program}", "Карта {number} · {program}"),
    # A partner program's card of another brand: its holder is that brand's customer, not shown here.
    "partner_holder": ("Partner programme member", "Участник партнёрской программы"),
    "percent": ("{percent} %", "{percent} %"),
    "points_expire": ("Points expire on {date}.", "Баллы сгорят {date}"),  # the Russian date ends in "г."
    # A ledger entry's kind in the "Recent" list (service/models/cards.py Transaction.kind).
    "kind_issue": ("issue", "выпуск карты"),
    "kind_earn": ("earn", "начисление"),
    "kind_purchase": ("purchase", "покупка"),
    "kind_redeem": ("redeem", "списание"),
    "kind_expire": ("expire", "сгорание"),
    "kind_adjust": ("adjust", "корректировка"),
    "kind_import": ("import", "перенос"),
    "amount_invalid": ("Enter the amount paid, such as 12.50.", "Введите сумму покупки, например 12,50."),
    "points_invalid": ("Enter a whole number of points to redeem, such as 100.",
                       "Введите целое число баллов для списания, например 100."),
    "points_too_many": ("The card has only {points}.", "На карте только {points}."),
    "confirm_purchase": ("Purchase of {amount} for {name}?", "Провести покупку на {amount} по карте {name}?"),
    "confirm_redeem": ("Redeem {points} for {name}?", "Списать {points} с карты {name}?"),
    "confirm_stamp": ("{stamps} for {name}?", "Поставить {stamps} на карту {name}?"),
    "saving": ("Saving…", "Сохраняем…"),
    "saved": ("Saved.", "Сохранено."),
    "replayed": ("Already saved earlier; nothing was done twice.",
                 "Уже сохранено ранее; повторно ничего не проведено."),
    "new_balance": ("New balance: {balance}.", "Новый баланс: {balance}."),
    "notifying": ("Card updated; notifying phones…", "Карта обновлена; уведомляем телефоны…"),
    "try_again": ("{error} Press Confirm to try again.", "{error} Нажмите «Подтвердить», чтобы попробовать ещё раз."),
    "no_phone": ("Card updated; no phone has this card in its wallet yet.",
                 "Карта обновлена; эту карту ещё не добавили в кошелёк ни на одном телефоне."),
    "push_report": ("Card updated; {parts}.", "Карта обновлена; {parts}."),
    "phones_sent_one": ("{n} phone notified", "{n} телефон получил уведомление"),
    "phones_sent_few": ("{n} phones notified", "{n} телефона получили уведомление"),
    "phones_sent_many": ("{n} phones notified", "{n} телефонов получили уведомление"),
    "phones_sent_other": ("{n} phones notified", "{n} телефона получили уведомление"),
    "phones_pending_one": ("{n} phone still being notified", "{n} телефон ещё ждёт уведомления"),
    "phones_pending_few": ("{n} phones still being notified", "{n} телефона ещё ждут уведомления"),
    "phones_pending_many": ("{n} phones still being notified", "{n} телефонов ещё ждут уведомления"),
    "phones_pending_other": ("{n} phones still being notified", "{n} телефона ещё ждут уведомления"),
    "phones_failed_one": ("{n} phone could not be reached", "{n} телефон недоступен"),
    "phones_failed_few": ("{n} phones could not be reached", "{n} телефона недоступны"),
    "phones_failed_many": ("{n} phones could not be reached", "{n} телефонов недоступны"),
    "phones_failed_other": ("{n} phones could not be reached", "{n} телефона недоступны"),
    "qr_reader_failed": ("The QR reader could not be loaded.", "Не удалось загрузить считыватель QR-кодов."),
    "no_camera_api": ("This browser cannot use the camera here. Use a scanner or type the card number.",
                      "Этот браузер не может включить здесь камеру. Воспользуйтесь сканером или введите номер карты."),
    "camera_blocked": ("The camera is blocked. Allow it in the browser, or use a scanner or the card number.",
                       "Доступ к камере запрещён. Разрешите его в браузере или воспользуйтесь сканером "
                       "или номером карты."),
    "camera_failed": ("The camera could not be started. Use a scanner or type the card number.",
                      "Не удалось включить камеру. Воспользуйтесь сканером или введите номер карты."),
    "signed_out": ("Signed out.", "Вы вышли из кассы."),
    "paired": ("This till is paired: cashiers sign in here with their PIN.",
               "Касса подключена: кассиры входят здесь по своему PIN-коду."),
    # stamp cards
    "stamps_one": ("{n} stamp", "{n} штамп"),
    "stamps_few": ("{n} stamps", "{n} штампа"),
    "stamps_many": ("{n} stamps", "{n} штампов"),
    "stamps_other": ("{n} stamps", "{n} штампа"),
    "stamps_of": ("{stamps} of {required} stamps", "штампов: {stamps} из {required}"),
    "stamps_invalid": ("Enter a whole number of stamps, such as 1.", "Введите целое число штампов, например 1."),
    "rewards_earned": ("Rewards earned: {names}.", "Заработанные награды: {names}."),
    "reward_earned": ("Reward earned: {names}.", "Получена награда: {names}."),
    "kind_stamp": ("stamp", "штамп"),
    "kind_card_full": ("card filled", "карта заполнена"),
    "kind_reversal": ("undone", "отмена операции"),
    # undo, and the till's safeguards (the API's problem types, service/api/transactions.py)
    "undo_until": ("You can undo this until {time}.", "Операцию можно отменить до {time}."),
    "undoing": ("Undoing…", "Отменяем…"),
    "undone": ("Undone.", "Операция отменена."),
    "problem_limit_once_per_hours": ("This card has already earned recently; the next can be given from {next}. "
                                     "Nothing was posted.",
                                     "По этой карте уже недавно начисляли; следующее начисление возможно с {next}. "
                                     "Ничего не проведено."),
    "problem_limit_daily_cap": ("This card has reached today's limit of {limit}; the next can be given from {next}. "
                                "Nothing was posted.",
                                "Карта достигла дневного лимита ({limit}); следующее начисление возможно с {next}. "
                                "Ничего не проведено."),
    "problem_limit_daily_cap_left": ("This would go over today's limit of {limit} for this card: it can get {left} "
                                     "more today. Nothing was posted.",
                                     "Это превысит дневной лимит карты ({limit}): сегодня можно начислить ещё "
                                     "{left}. Ничего не проведено."),
    "problem_limit_per_transaction_cap": ("At most {limit} can be given in one transaction here. Nothing was posted.",
                                          "За одну операцию можно начислить не больше {limit}. Ничего не проведено."),
    "problem_reversal_window_closed": ("The time to undo this has passed ({until}); ask a store manager.",
                                       "Время на отмену прошло ({until}); обратитесь к управляющему магазином."),
    "problem_reversal_not_yours": ("You can undo only your own transactions; ask a store manager.",
                                   "Отменять можно только свои операции; обратитесь к управляющему магазином."),
    "problem_reversal_already_reversed": ("This transaction has already been undone.", "Эта операция уже отменена."),
    "problem_reversal_balance_negative": ("This cannot be undone: the points have been spent since.",
                                          "Отменить нельзя: баллы уже потрачены."),
    "problem_reversal_later_stamps": ("Later stamps depend on this one: undo those first, newest first.",
                                      "От этой операции зависят более поздние штампы: сначала отмените их, "
                                      "начиная с последнего."),
    "problem_reversal_referral_bonus_spent": ("This brought a referral bonus that has been spent since, so it "
                                              "cannot be undone.",
                                              "За эту покупку начислен бонус за приглашение, и он уже потрачен: "
                                              "отменить её нельзя."),
    "problem_reversal_rewards_earned": ("A reward this earned has been redeemed since: undo that redemption first.",
                                        "Награда за эту операцию уже выдана: сначала отмените её выдачу."),
    # rewards and coupons the customer holds (service/loyalty/rewards.py)
    "redeem_reward": ("Redeem", "Выдать"),
    "reward_until": ("until {date}", "до {date}"),
    "confirm_reward": ("Redeem “{reward}” for {name}?", "Выдать «{reward}» по карте {name}?"),
    "reward_redeemed": ("Redeemed: {reward}.", "Выдано: {reward}."),
    "buy_reward": ("Buy", "Купить"),
    "confirm_buy": ("Buy “{reward}” for {points} from {name}'s card?", "Купить «{reward}» за {points} с карты {name}?"),
    "reward_bought": ("Bought: {reward}; it is on the card to redeem.", "Куплено: {reward}; награда на карте, "
                      "её можно выдать."),
    "kind_reward_buy": ("reward bought", "награда куплена"),
    "kind_reward_grant": ("coupon", "купон"),
    "kind_reward_redeem": ("reward redeemed", "награда выдана"),
}

WORDS: Mapping[str, tuple[str, str]] = MappingProxyType({**PAGE, **SCRIPT})
assert not PAGE.keys() & SCRIPT.keys(), "a key is either the page's or the script's"


def words_for(language: str) -> dict[str, str]:
    """Every text in `language` (English for anything not in LANGUAGES)."""
    column = LANGUAGES.index(language) if language in LANGUAGES else 0
    return {key: texts[column] for key, texts in WORDS.items()}


def script_words(language: str) -> dict[str, str]:
    """The texts cashier.js needs, in `language`: what goes into the page's JSON block."""
    everything = words_for(language)
    return {key: everything[key] for key in SCRIPT}
