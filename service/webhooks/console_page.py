"""The console's webhooks (/console/webhooks): the brand's endpoints, adding and editing one,
rotating its secret (shown once), sending a test, and what was delivered (state, the receiver's
answer) with a retry for a failed delivery.

Needs the "webhooks" permission to open at all (only the owner has it: an endpoint's URL may
carry a credential, and the page can show a signing secret). Every change goes through
/api/v1/webhooks and /api/v1/webhook-deliveries (console.js forms; static/webhooks.js shows a
new secret once). Reads are rendered from the brand's own rows.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, request
from sqlalchemy import func, select

from service.audit import safe_url
from service.console import sections, words
from service.console.guard import render, signed_in
from service.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from service.platform import db
from service.webhooks.events import EVENTS

bp = Blueprint("webhooks_page", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/webhooks-console")
sections.add(sections.Section("webhooks_page.index", "nav_webhooks", "webhooks", 70, "/console/webhooks"))

PAGE_SIZE = 25
STATES = ("queued", "sending", "retry", "delivered", "failed")

words.add({
    "nav_webhooks": ("Webhooks", "Вебхуки"),
    "webhooks_title": ("Webhooks", "Вебхуки"),
    "webhooks_intro": ("Passcast POSTs each event to your URLs, signed with the endpoint's secret "
                       "(header Passcast-Signature); a failed delivery is retried with growing pauses.",
                       "Passcast отправляет каждое событие POST-запросом на ваши адреса, с подписью секретом "
                       "адреса (заголовок Passcast-Signature); неудачная доставка повторяется со "
                       "всё большими паузами."),
    "webhooks_endpoints": ("Endpoints", "Адреса"),
    "webhooks_url": ("URL", "Адрес (URL)"),
    "webhooks_description": ("Description", "Описание"),
    "webhooks_events": ("Events", "События"),
    "webhooks_events_hint": ("Choose one or more (Ctrl or ⌘ and click, or Shift and the arrows).",
                             "Выберите одно или несколько (Ctrl или ⌘ и щелчок, или Shift и стрелки)."),
    "webhooks_all_events": ("every event (*)", "все события (*)"),
    "webhooks_active": ("Active (deliveries are sent)", "Включён (доставки отправляются)"),
    "webhooks_state_on": ("active", "включён"),
    "webhooks_state_off": ("paused", "на паузе"),
    "webhooks_add": ("Add an endpoint", "Добавить адрес"),
    "webhooks_create": ("Add", "Добавить"),
    "webhooks_open": ("Open", "Открыть"),
    "webhooks_open_new": ("Open the new endpoint", "Открыть новый адрес"),
    "webhooks_edit": ("Endpoint", "Адрес"),
    "webhooks_secret_title": ("Signing secret", "Секрет подписи"),
    "webhooks_secret_once": ("Copy it now: it is shown this once. Your receiver checks each delivery's "
                             "signature with it.",
                             "Скопируйте сейчас: он показывается один раз. Получатель проверяет им подпись "
                             "каждой доставки."),
    "webhooks_actions": ("Secret, test, removal", "Секрет, тест, удаление"),
    "webhooks_rotate": ("Rotate the secret", "Сменить секрет"),
    "webhooks_rotate_confirm": ("Make a new secret? Deliveries are signed with it from now on; "
                                "the old one stops working.",
                                "Создать новый секрет? Доставки сразу начнут подписываться им; старый перестанет "
                                "действовать."),
    "webhooks_test": ("Send a test", "Отправить тест"),
    "webhooks_test_sent": ("Test queued: it appears in the deliveries below.",
                           "Тест поставлен в очередь: он появится в доставках ниже."),
    "webhooks_delete_confirm": ("Delete this endpoint and its delivery history?",
                                "Удалить этот адрес и историю его доставок?"),
    "webhooks_deliveries": ("Deliveries", "Доставки"),
    "webhooks_event": ("Event", "Событие"),
    "webhooks_state": ("State", "Состояние"),
    "webhooks_attempts": ("Attempts", "Попыток"),
    "webhooks_response": ("Response", "Ответ"),
    "webhooks_when": ("Created", "Создана"),
    "webhooks_retry": ("Retry", "Повторить"),
    "webhooks_filter": ("Filter", "Отобрать"),
    "webhooks_any_state": ("any state", "любое состояние"),
    "webhooks_status_queued": ("queued", "в очереди"),
    "webhooks_status_sending": ("sending", "отправляется"),
    "webhooks_status_retry": ("will retry", "повтор позже"),
    "webhooks_status_delivered": ("delivered", "доставлено"),
    "webhooks_status_failed": ("failed", "не доставлено"),
    "webhooks_next_try": ("next try {at} UTC", "следующая попытка {at} UTC"),
    "webhooks_all": ("All endpoints", "Все адреса"),
})


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session().get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.brand_id != g.console_session.account.brand_id:
        abort(404)
    return endpoint


@bp.get("/console/webhooks")
@signed_in("webhooks")
def index() -> Response:
    brand_id = g.console_session.account.brand_id
    session = db.session()
    endpoints = list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.brand_id == brand_id)
                                     .order_by(WebhookEndpoint.id)))
    failed = {endpoint_id: count for endpoint_id, count in session.execute(
        select(WebhookDelivery.endpoint_id, func.count()).where(
            WebhookDelivery.brand_id == brand_id, WebhookDelivery.status == "failed")
        .group_by(WebhookDelivery.endpoint_id))}
    return render("webhooks_console/endpoints.html", endpoints=endpoints, failed=failed, events=EVENTS,
                  safe_url=safe_url)


@bp.get("/console/webhooks/<int:endpoint_id>")
@signed_in("webhooks")
def endpoint(endpoint_id: int) -> Response:
    row = _endpoint(endpoint_id)
    state = request.args.get("status", "")
    before = request.args.get("before", type=int)
    statement = (select(WebhookDelivery, WebhookEvent.type)
                 .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                 .where(WebhookDelivery.brand_id == row.brand_id, WebhookDelivery.endpoint_id == row.id))
    if state in STATES:
        statement = statement.where(WebhookDelivery.status == state)
    if before:
        statement = statement.where(WebhookDelivery.id < before)
    deliveries = list(db.session().execute(statement.order_by(WebhookDelivery.id.desc()).limit(PAGE_SIZE + 1)))
    more = len(deliveries) > PAGE_SIZE
    deliveries = deliveries[:PAGE_SIZE]
    return render("webhooks_console/endpoint.html", endpoint=row, events=EVENTS, deliveries=deliveries,
                  state=state if state in STATES else "", states=STATES,
                  next_before=deliveries[-1][0].id if more else None, safe_url=safe_url)
