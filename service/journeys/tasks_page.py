"""The console's tasks for store managers (/console/tasks): what journeys ask them to do (call an
NPS detractor back), with who, how to reach them and what they said, and a Done button.

A store manager sees only their stores' tasks, by the same rule as the API
(service/access/store_scope.py); Done posts to POST /api/v1/journey-tasks/{id}/done (console.js),
which needs `campaigns` or `cashier` (store managers hold the latter).
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from service.access import store_scope
from service.access.roles import STORE_SCOPED, permissions_of
from service.api.pagination import decode_cursor, encode_cursor
from service.console import sections, words
from service.console.guard import render, signed_in
from service.journeys import tasks_view
from service.models import JourneyTask
from service.platform import db
from service.web.problems import Problem

bp = Blueprint("journey_tasks_page", __name__, template_folder="templates")
sections.add(sections.Section("journey_tasks_page.index", "nav_tasks", "read", 36, "/console/tasks"))

PAGE = 50
#: Either opens POST /api/v1/journey-tasks/{id}/done (service/api/journeys.py).
CLOSE_PERMISSIONS = ("campaigns", "cashier")

words.add({
    "nav_tasks": ("Tasks", "Задачи"),
    "tasks_title": ("Tasks for store managers", "Задачи для управляющих"),
    "tasks_intro": ("What journeys ask the store to do: call back an unhappy customer, greet a new VIP. Mark each "
                    "done once handled.",
                    "Что сценарии просят сделать магазин: перезвонить недовольному клиенту, поприветствовать "
                    "нового VIP. Отметьте каждую задачу, когда она выполнена."),
    "tasks_state_open": ("Open", "Открытые"),
    "tasks_state_done": ("Done", "Выполненные"),
    "tasks_none": ("No tasks here.", "Задач нет."),
    "tasks_score": ("Score", "Оценка"),
    "tasks_done": ("Done", "Готово"),
    "tasks_done_by": ("Done by", "Выполнил(а)"),
})


@bp.get("/console/tasks")
@signed_in("read")
def index() -> Response:
    account = g.console_session.account
    g.store_ids = account.stores if account.role in STORE_SCOPED else None  # as the API's sign-in sets it
    state = request.args.get("state", "open")
    state = state if state in ("open", "done") else "open"
    statement = store_scope.visible(tasks_view.statement(account.brand_id, state=state), JourneyTask.store_id)
    try:
        after = decode_cursor(request.args.get("cursor") or None)
    except Problem:
        after = None
    if after is not None:
        statement = statement.where(JourneyTask.id < after)
    rows = list(db.session().scalars(statement.order_by(JourneyTask.id.desc()).limit(PAGE + 1)))
    next_cursor = encode_cursor(rows[PAGE - 1].id) if len(rows) > PAGE else None
    permissions = permissions_of(account.role)
    return render("journey_tasks/tasks.html", tasks=tasks_view.views(db.session(), rows[:PAGE]), state=state,
                  next_cursor=next_cursor, may_close=any(p in permissions for p in CLOSE_PERMISSIONS))
