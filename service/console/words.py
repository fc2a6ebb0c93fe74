"""Every word the console shows, in English and Russian (one key, both languages side by side)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "console": ("Console", "Консоль"),
    "skip": ("Skip to content", "К содержимому"),
    "nav": ("Console sections", "Разделы консоли"),
    "dashboard": ("Dashboard", "Аналитика"),
    "team": ("Team", "Команда"),
    "security": ("Security", "Безопасность"),
    "sign_in": ("Sign in", "Войти"),
    "sign_out": ("Sign out", "Выйти"),
    "sign_out_everywhere": ("Sign out everywhere", "Выйти на всех устройствах"),
    "email": ("E-mail", "Эл. почта"),
    "password": ("Password", "Пароль"),
    "new_password": ("New password (at least 10 characters)", "Новый пароль (не короче 10 символов)"),
    "forgot": ("Forgot your password?", "Забыли пароль?"),
    "code": ("Code from your authenticator app", "Код из приложения-аутентификатора"),
    "code_title": ("Second step", "Второй шаг"),
    "continue": ("Continue", "Продолжить"),
    "language": ("Language", "Язык"),
    "wrong": ("Wrong e-mail, password or code.", "Неверная почта, пароль или код."),
    "attempts_left": ("{n} tries left before sign-in is locked for 15 minutes.",
                      "Осталось попыток до блокировки на 15 минут: {n}."),
    "locked": ("Too many wrong tries: sign-in is locked until {until} UTC. The owner can send you a reset link.",
               "Слишком много ошибок: вход заблокирован до {until} UTC. Владелец может прислать ссылку для сброса."),
    "too_many": ("Too many attempts from this address; wait a minute.",
                 "Слишком много попыток с этого адреса; подождите минуту."),
    "csrf": ("This form has expired; reload the page and try again.",
             "Форма устарела; обновите страницу и попробуйте ещё раз."),
    "forbidden": ("Your role cannot do this.", "Ваша роль этого не позволяет."),
    "link_dead": ("This link has been used or has expired. Ask the owner for a new one.",
                  "Ссылка уже использована или устарела. Попросите владельца прислать новую."),
    "too_short": ("The password must have at least 10 characters.", "Пароль должен быть не короче 10 символов."),
    "too_long": ("The password is too long.", "Пароль слишком длинный."),
    "too_simple": ("This password is too easy to guess.", "Такой пароль легко угадать."),
    "email_taken": ("This e-mail already has an account.", "У этой почты уже есть учётная запись."),
    "bad_email": ("Enter an e-mail address.", "Введите адрес эл. почты."),
    "unknown_role": ("Choose a role.", "Выберите роль."),
    "invite_title": ("Join {brand}", "Присоединиться к {brand}"),
    "invite_intro": ("You are invited as {role} with {email}. Choose a password.",
                     "Вас пригласили как «{role}» с адресом {email}. Придумайте пароль."),
    "reset_title": ("Choose a new password", "Новый пароль"),
    "forgot_title": ("Reset your password", "Сброс пароля"),
    "forgot_intro": ("We e-mail a reset link if the address has an account. Without e-mail, ask your owner.",
                     "Если у адреса есть учётная запись, мы пришлём ссылку. Без почты обратитесь к владельцу."),
    "forgot_sent": ("If that address has an account, a reset link is on its way.",
                    "Если у адреса есть учётная запись, ссылка уже в пути."),
    "send_link": ("Send the link", "Отправить ссылку"),
    "password_set": ("Your password is set. Sign in.", "Пароль сохранён. Войдите."),
    "mail_subject": ("Reset your Passcast password", "Сброс пароля Passcast"),
    "mail_text": ("Open this link within 24 hours to choose a new password:\n\n{link}\n\n"
                  "If you did not ask for it, ignore this e-mail.",
                  "Откройте ссылку в течение 24 часов, чтобы задать новый пароль:\n\n{link}\n\n"
                  "Если вы не просили сброс, просто проигнорируйте письмо."),
    "members": ("Members", "Участники"),
    "role": ("Role", "Роль"),
    "stores": ("Stores (store managers only)", "Магазины (только для управляющих)"),
    "invite": ("Invite", "Пригласить"),
    "invite_someone": ("Invite someone", "Пригласить человека"),
    "invite_made": ("Send this link to {email}; it works once, for 7 days:",
                    "Отправьте эту ссылку на {email}; она работает один раз, 7 дней:"),
    "reset_made": ("Send this reset link to {email}; it works once, for 24 hours:",
                   "Отправьте эту ссылку на {email}; она работает один раз, 24 часа:"),
    "change_role": ("Change role", "Сменить роль"),
    "remove": ("Remove", "Удалить"),
    "reset_link": ("Reset link", "Ссылка для сброса"),
    "you": ("you", "вы"),
    "two_factor": ("two-factor on", "двухфакторный вход"),
    "pending_invites": ("Open invites", "Открытые приглашения"),
    "expires": ("expires {at}", "до {at}"),
    "role_owner": ("Owner", "Владелец"),
    "role_marketer": ("Marketer", "Маркетолог"),
    "role_store_manager": ("Store manager", "Управляющий магазином"),
    "role_analyst": ("Analyst (read-only)", "Аналитик (только чтение)"),
    "totp_title": ("Two-factor sign-in", "Двухфакторный вход"),
    "totp_on": ("Two-factor sign-in is on.", "Двухфакторный вход включён."),
    "totp_off": ("Two-factor sign-in is off. Scan this code with an authenticator app, then type the code it shows.",
                 "Двухфакторный вход выключен. Отсканируйте код приложением-аутентификатором и введите его код."),
    "totp_secret": ("Or type this key by hand:", "Или введите ключ вручную:"),
    "totp_enable": ("Turn on", "Включить"),
    "totp_disable": ("Turn off", "Выключить"),
    "totp_wrong": ("That code is not right; try the next one.", "Код неверный; попробуйте следующий."),
    "signed_out_all": ("Every other session of yours has ended.", "Все остальные ваши сеансы завершены."),
    "qr_alt": ("QR code for your authenticator app", "QR-код для приложения-аутентификатора"),
    "totp_now_on": ("Two-factor sign-in is on. Keep the recovery codes below somewhere safe.",
                    "Двухфакторный вход включён. Сохраните коды восстановления ниже в надёжном месте."),
    "totp_needed": ("Turn on two-factor sign-in first.", "Сначала включите двухфакторный вход."),
    "code_or_recovery": ("Or one of your recovery codes (each works once).",
                         "Или один из кодов восстановления (каждый действует один раз)."),
    "codes_title": ("Recovery codes", "Коды восстановления"),
    "codes_once": ("These {n} codes are shown only now. Each signs you in once instead of the code from your "
                   "app, if you lose your phone. Save them (download or copy) and keep them away from the phone.",
                   "Эти {n} кодов показываются только сейчас. Каждый заменяет код из приложения при одном входе, "
                   "если телефон потерян. Сохраните их (скачайте или скопируйте) и храните не в телефоне."),
    "codes_left": ("Recovery codes left: {left} of {total}.", "Осталось кодов восстановления: {left} из {total}."),
    "codes_none_left": ("No recovery codes left: make new ones now.",
                        "Коды восстановления закончились: создайте новые."),
    "codes_regenerate": ("Make new recovery codes", "Создать новые коды"),
    "codes_regenerate_hint": ("The old codes stop working at once.", "Старые коды сразу перестанут действовать."),
    "codes_regenerated": ("New recovery codes: the old ones no longer work.",
                          "Новые коды восстановления: старые больше не действуют."),
    "codes_download": ("Download as a text file", "Скачать текстовым файлом"),
    "codes_copy": ("Copy", "Копировать"),
    "codes_copied": ("Copied.", "Скопировано."),
    "codes_file_head": ("Passcast recovery codes for {email}. Each works once.",
                        "Коды восстановления Passcast для {email}. Каждый действует один раз."),
    "not_allowed_page": ("This page is not for your role.", "Эта страница недоступна для вашей роли."),
    # what console.js says (the page hands these to the script: see SCRIPT_WORDS)
    "offline": ("No connection to the server. Check the network and try again.",
                "Нет связи с сервером. Проверьте сеть и попробуйте ещё раз."),
    "session_ended": ("Your session has ended. Sign in again.", "Сеанс завершён. Войдите снова."),
    "server_said": ("The server answered", "Сервер ответил"),
    "choose_file": ("Choose a file first.", "Сначала выберите файл."),
    "bad_json": ("A field holds text that is not valid JSON.", "В одном из полей текст не в формате JSON."),
    "saving": ("Saving…", "Сохраняем…"),
    "saved": ("Saved.", "Сохранено."),
    "nothing_yet": ("Nothing here yet.", "Здесь пока ничего нет."),
    "back": ("Back", "Назад"),
    "save": ("Save", "Сохранить"),
    "cancel": ("Cancel", "Отмена"),
    "delete": ("Delete", "Удалить"),
    "search": ("Search", "Найти"),
    "next_page": ("Next page", "Следующая страница"),
    "not_found": ("There is no such page in your brand.", "В вашем бренде такой страницы нет."),
}

#: The words console.js shows, handed to it as JSON in every page.
SCRIPT_WORDS = ("offline", "session_ended", "server_said", "choose_file", "bad_json", "saving", "saved")


def add(words: dict[str, tuple[str, str]]) -> None:
    """A console page's own words (called once, where the page's blueprint is defined), so each page
    keeps its texts beside its code; a key two pages both claim is a mistake, not an override."""
    taken = WORDS.keys() & words.keys()
    if taken:
        raise ValueError(f"console words defined twice: {sorted(taken)}")
    WORDS.update(words)


def words_for(language: str) -> dict[str, str]:
    index = 1 if language == "ru" else 0
    return {key: pair[index] for key, pair in WORDS.items()}
