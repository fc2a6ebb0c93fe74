"""What a customer's browser sees when a page cannot be served: a short page in English or
Russian, never an API's JSON.

Which answers are for machines (the API, PassKit, Google's callbacks, the health checks:
problem+json) and which for people (everything else: join, card, NPS, download pages) is
decided here, by path, so that every error handler agrees.
"""

from __future__ import annotations

from flask import Response, render_template, request

from service.web.languages import choose_language
from service.web.page_headers import secure_page

MACHINE_PREFIXES = ("/api/", "/passkit/", "/google/")
MACHINE_PATHS = ("/healthz", "/livez", "/readyz")

WORDS: dict[str, dict[int, tuple[str, str]]] = {
    "en": {
        404: ("Page not found", "There is no page at this address. Please check the link, or ask the shop for "
                                "its join page or QR code again."),
        413: ("Too much data", "What was sent is larger than this page accepts. Please go back and try again."),
        422: ("Unreadable characters", "The address or the form contains characters we cannot read. "
                                       "Please go back and type it again."),
        503: ("Back in a moment", "We cannot reach our records right now. Please try again in a few minutes; "
                                  "your card and points are safe."),
    },
    "ru": {
        404: ("Страница не найдена", "По этому адресу ничего нет. Проверьте ссылку или попросите в магазине "
                                     "ещё раз ссылку на страницу вступления или QR-код."),
        413: ("Слишком много данных", "Отправлено больше, чем принимает эта страница. Вернитесь и попробуйте ещё раз."),
        422: ("Непонятные символы", "В адресе или в форме есть символы, которые мы не можем прочитать. "
                                    "Вернитесь и введите ещё раз."),
        503: ("Скоро вернёмся", "Сейчас нет связи с нашей базой. Попробуйте через несколько минут; "
                                "ваша карта и баллы в сохранности."),
    },
}


def is_machine_path(path: str | None = None) -> bool:
    path = request.path if path is None else path
    return path.startswith(MACHINE_PREFIXES) or path in MACHINE_PATHS


def customer_error_page(status: int) -> Response:
    """The page for `status` (404, 413, 422 or 503) in the customer's language; 503 asks to retry."""
    language = choose_language(request)
    title, text = WORDS[language].get(status) or WORDS[language][503]
    response = Response(render_template("error_page.html", language=language, title=title, text=text),
                        status=status, mimetype="text/html")
    response.headers["Content-Language"] = language
    response.headers["Cache-Control"] = "no-store"
    if status == 503:
        response.headers["Retry-After"] = "60"
    return secure_page(response, default_src="'none'", style_src="'self'")
