"""Journeys: a program's automatic playbooks (trigger, conditions, actions), the ready-made ones a
brand switches on in one call, each journey's report against its holdout, and the tasks
journeys leave for store managers."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from service import audit
from service.access import store_scope
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.campaigns import IntervalOut, RomiOut
from service.api.cards import brand_program
from service.api.fields import DecimalText
from service.api.pagination import LINK_HEADER, PageQuery, page
from service.api.tenancy import brand_row
from service.campaigns.holdout import DEFAULT_PERCENT, MAX_PERCENT
from service.journeys import editing, playbooks, tasks_view
from service.journeys import report as journey_report
from service.models import Journey, JourneyTask, Program, utcnow
from service.platform import db
from service.platform.csv_cells import safe_cell
from service.platform.row_locks import lock_row
from service.web.problems import Problem, validation_problem

blp = Blueprint("journeys", __name__, url_prefix="/api/v1",
                description="Journeys: automatic playbooks, ready-made ones, their reports and managers' tasks")

_NOT_FOUND = {"schema": ProblemOut, "content_type": PROBLEM}
TRIGGER_WORDS = ("joined | first_purchase | nth_visit (value: the visit N) | reward_within_reach (value: points or "
                 "stamps from a reward) | points_expiring (value: days before) | lapsed (value: days without a "
                 "visit) | tier_up | tier_down | birthday | nps_at_or_below (value: the score 0-10)")


class JourneyIn(Schema):
    """A journey; checked whole (service/journeys/definitions.py, then against the program), so a
    422 lists every problem at once. Creating: name, trigger and actions are needed; PATCH: any."""

    # strings, so the parser refuses control characters and line breaks in them before anything else
    # (service/api/parser.py); the rest is checked whole by the journeys' own rules
    name = fields.String(metadata={"example": "Welcome", "maxLength": 200})
    trigger = fields.String(metadata={"description": TRIGGER_WORDS, "example": "lapsed"})
    trigger_value = fields.Raw(allow_none=True, metadata={
        "type": "integer", "nullable": True, "description": "What the trigger counts (null for triggers without one)",
        "example": 30})
    conditions = fields.Raw(metadata={
        "type": "object", "description": "All optional, all must hold: tiers [names], min_balance, max_balance, "
                                         "store_ids [the card's home store]", "example": {"min_balance": 100}})
    actions = fields.Raw(metadata={
        "type": "array", "items": {"type": "object"},
        "description": 'One to ten of: {"type": "message", "text", "variants": {"ru": ..}} (placeholders '
                       + ", ".join("{" + p + "}" for p in playbooks.PLACEHOLDERS) + '); {"type": "points", '
                       '"points"}; {"type": "stamps", "stamps"}; {"type": "coupon", "reward_id"} or {"type": '
                       '"coupon", "name", "description"?, "valid_days"?}; {"type": "webhook"} (event '
                       'journey.entered); {"type": "task", "text"} (for the store manager)',
        "example": [{"type": "message", "text": "We miss you, {name}!", "variants": {"ru": "Мы скучаем, {name}!"}}]})
    holdout_percent = fields.Raw(metadata={
        "type": "integer", "description": f"0-{MAX_PERCENT}, default {DEFAULT_PERCENT}: the entering cards kept back "
                                          "by hash (nothing done) and compared in the report; 0: none (the report "
                                          "then says it is not causal)", "example": 10})
    enabled = fields.Raw(metadata={"type": "boolean", "description": "Default false: a new journey is off"})
    cost_per_entry = fields.Raw(allow_none=True, metadata={
        "type": "string", "format": "decimal", "nullable": True,
        "description": "Money one treated entry costs beyond points and catalogue coupons (for ROMI)",
        "example": "0.50"})


class JourneyOut(Schema):
    id = fields.Integer()
    program_id = fields.Integer()
    name = fields.String()
    trigger = fields.String()
    trigger_value = fields.Integer(allow_none=True)
    conditions = fields.Dict()
    actions = fields.List(fields.Dict())
    holdout_percent = fields.Integer()
    enabled = fields.Boolean()
    cost_per_entry = DecimalText(allow_none=True)
    playbook = fields.String(allow_none=True, metadata={"description": "The ready-made journey it came from"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PlaybookStepOut(Schema):
    name = fields.String()
    trigger = fields.String()
    trigger_value = fields.Integer(allow_none=True)
    actions = fields.List(fields.String())
    holdout_percent = fields.Integer()


class PlaybookOut(Schema):
    name = fields.String(metadata={"example": "win_back"})
    title = fields.String()
    summary = fields.String()
    title_ru = fields.String()
    summary_ru = fields.String()
    state = fields.String(metadata={"description": "on (every step enabled) | partly | off"})
    enabled = fields.Boolean(metadata={"description": "state is on"})
    available = fields.Boolean()
    unavailable_reason = fields.String(allow_none=True)
    journey_ids = fields.List(fields.Integer())
    steps = fields.List(fields.Nested(PlaybookStepOut))


class PlaybookIn(Schema):
    reward_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                               validate=validate.Range(min=1, max=2**31 - 1), metadata={
                                   "description": "win_back: the catalogue reward its 90-day coupon gives (else a "
                                                  "coupon named \"A treat on us\", 30 days)"})
    holdout_percent = fields.Integer(load_default=None, allow_none=True, strict=True,
                                     validate=validate.Range(min=0, max=MAX_PERCENT), metadata={
                                         "description": "Instead of 10 for every step that keeps a holdout"})


class PlaybookSwitchedOut(Schema):
    playbook = fields.String()
    created = fields.Integer(metadata={"description": "Journeys made now (0: all were there; they are on now)"})
    journeys = fields.List(fields.Nested(JourneyOut))


class ReportQuery(Schema):
    format = fields.String(load_default=None, validate=validate.OneOf(["json", "csv"]), metadata={
        "description": "csv: the two sides, the lift and the cost as a table (figure, treated, holdout, "
                       "difference, low, high, currency)"})


class SideOut(Schema):
    entered = fields.Integer(metadata={"description": "Entries recorded (a card entering twice counts twice)"})
    recipients = fields.Integer(metadata={"description": "= entered (the campaign report's name)"})
    cards = fields.Integer(metadata={"description": "Distinct cards among them"})
    skipped = fields.Integer(metadata={"description": "Entries whose card failed the conditions (or was voided)"})
    reachable = fields.Integer(metadata={"description": "A phone or Google Wallet held the card when it entered"})
    reached = fields.Integer(metadata={"description": "treated: its message was sent to a reachable card; "
                                                      "holdout: = reachable (would have been)"})
    compared = fields.Integer(metadata={"description": "The entries the figures below count"})
    buyers = fields.Integer(metadata={"description": "Compared entries whose card bought in its window"})
    purchases = fields.Integer()
    revenue = fields.String()
    conversion = fields.Float(allow_none=True)
    revenue_per_card = fields.String(allow_none=True, metadata={"description": "revenue / compared entries"})


class HoldoutSideOut(SideOut):
    percent = fields.Integer()
    salt = fields.String(metadata={"description": 'A card is held back when SHA-256(salt + ":" + card id)\'s first '
                                                  "8 bytes, modulo 10000, are below percent x 100"})


class JourneyLiftOut(Schema):
    causal = fields.Boolean(metadata={"description": "False without a holdout: correlation, not effect"})
    note = fields.String(allow_none=True)
    confidence = fields.Float()
    conversion_difference = fields.Nested(IntervalOut, allow_none=True)
    revenue_per_card_difference = fields.Nested(IntervalOut, allow_none=True)
    incremental_revenue = fields.Nested(IntervalOut, allow_none=True)
    incremental_buyers = fields.Nested(IntervalOut, allow_none=True)
    relative_uplift = fields.Float(allow_none=True)
    cost = fields.String(allow_none=True, metadata={"description": "= cost.total"})
    romi = fields.Nested(RomiOut, allow_none=True, metadata={"description": "(incremental revenue - cost) / cost"})
    window_days = fields.Integer(metadata={"description": "Each entry's window: this many days from its entry"})
    window_ends_at = fields.DateTime(allow_none=True, metadata={"description": "The last entry's window's end"})
    window_closed = fields.Boolean()
    currency = fields.String()
    unit = fields.String(metadata={"description": "entry: the figures count entries, each with its own window"})


class CostOut(Schema):
    points_given = fields.Integer(metadata={"description": "Points (stamp cards: stamps) the treated side got"})
    points_value = fields.String(allow_none=True, metadata={"description": "At the program's point_value"})
    coupons_given = fields.Integer()
    coupons_value = fields.String(allow_none=True, metadata={"description": "At the catalogue reward's price"})
    cost_per_entry = fields.String(allow_none=True)
    per_entry_total = fields.String(allow_none=True)
    total = fields.String(allow_none=True, metadata={"description": "null: a part's value is unknown (see unknown)"})
    unknown = fields.List(fields.String())


class JourneyReportOut(Schema):
    journey_id = fields.Integer()
    name = fields.String()
    enabled = fields.Boolean()
    trigger = fields.String()
    trigger_value = fields.Integer(allow_none=True)
    treated = fields.Nested(SideOut)
    holdout = fields.Nested(HoldoutSideOut)
    lift = fields.Nested(JourneyLiftOut)
    cost = fields.Nested(CostOut)


class TaskQuery(PageQuery):
    state = fields.String(load_default="open", validate=validate.OneOf(["open", "done", "all"]))
    store_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    journey_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))


class TaskOut(Schema):
    id = fields.Integer()
    journey_id = fields.Integer()
    journey_name = fields.String()
    card_id = fields.Integer()
    card_number = fields.String()
    customer_name = fields.String(metadata={"description": "Who"})
    customer_phone = fields.String(allow_none=True)
    customer_email = fields.String(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    store_name = fields.String(allow_none=True)
    text = fields.String(metadata={"description": "What to do"})
    detail = fields.Dict(metadata={"description": "What the journey knew: the NPS score and comment (what they said)",
                                   "example": {"score": 3, "comment": "The coffee was cold"}})
    state = fields.String(metadata={"description": "open | done"})
    created_at = fields.DateTime()
    done_at = fields.DateTime(allow_none=True)
    done_by = fields.String(allow_none=True)


def brand_journey(journey_id: int) -> Journey:
    return brand_row(Journey, journey_id, "journey")


def _program_of(journey: Journey) -> Program:
    program = db.session().get(Program, journey.program_id)
    assert program is not None
    return program


def _refused(refused: editing.JourneyRefused) -> Problem:
    db.session().rollback()
    return validation_problem(refused.errors)


@blp.route("/programs/<int:program_id>/journeys", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(PageQuery, location="query")
@blp.response(200, JourneyOut(many=True), headers=LINK_HEADER)
@blp.alt_response(404, description="No such program in your brand", **_NOT_FOUND)
def list_journeys(query: dict[str, Any], program_id: int) -> Any:
    """The program's journeys, newest first."""
    program = brand_program(program_id)
    return [editing.view(journey) for journey in
            page(select(Journey).where(Journey.program_id == program.id), Journey.id, query)]


@blp.route("/programs/<int:program_id>/journeys", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.arguments(JourneyIn, example={
    "name": "Win-back, 30 days", "trigger": "lapsed", "trigger_value": 30, "conditions": {"min_balance": 100},
    "actions": [{"type": "message", "text": "We miss you, {name}!", "variants": {"ru": "Мы скучаем, {name}!"}},
                {"type": "points", "points": 50}], "holdout_percent": 10, "enabled": True})
@blp.response(201, JourneyOut)
@blp.alt_response(404, description="No such program in your brand", **_NOT_FOUND)
def create_journey(body: dict[str, Any], program_id: int) -> Any:
    """A journey of the program (off unless `enabled`). 422 lists every problem: the shape, and
    what the program says (a points action on a stamp card, a coupon of another catalogue, a
    store not the brand's, a tier the program lacks)."""
    session = db.session()
    program = brand_program(program_id)
    try:
        journey = editing.create(session, program, body)
    except editing.JourneyRefused as refused:
        raise _refused(refused) from None
    session.commit()
    return editing.view(journey)


@blp.route("/journeys/<int:journey_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, JourneyOut)
@blp.alt_response(404, description="No such journey in your brand", **_NOT_FOUND)
def get_journey(journey_id: int) -> Any:
    """A journey."""
    return editing.view(brand_journey(journey_id))


@blp.route("/journeys/<int:journey_id>", methods=["PATCH"])
@require_brand
@requires("campaigns")
@blp.arguments(JourneyIn, example={"holdout_percent": 20, "trigger_value": 45})
@blp.response(200, JourneyOut)
@blp.alt_response(404, description="No such journey in your brand", **_NOT_FOUND)
def update_journey(body: dict[str, Any], journey_id: int) -> Any:
    """Change any fields; the journey is checked whole again (422 lists every problem)."""
    session = db.session()
    journey = brand_journey(journey_id)
    try:
        editing.update(session, journey, body)
    except editing.JourneyRefused as refused:
        raise _refused(refused) from None
    session.commit()
    return editing.view(journey)


@blp.route("/journeys/<int:journey_id>", methods=["DELETE"])
@require_brand
@requires("campaigns")
@blp.response(204)
@blp.alt_response(404, description="No such journey in your brand", **_NOT_FOUND)
@blp.alt_response(409, description="Cards have entered it: switch it off instead", **_NOT_FOUND)
def delete_journey(journey_id: int) -> Any:
    """Delete a journey no card has entered yet; one with entries is history (its report, its
    tasks): 409, switch it off instead."""
    session = db.session()
    journey = brand_journey(journey_id)
    if not editing.delete(session, journey):
        raise Problem(409, "Journey has history",
                      f"Cards have entered journey {journey.id}; switch it off (POST .../disable) to stop it.",
                      type_="/problems/journey-has-history")
    session.commit()
    return ""


def _switch(journey_id: int, enabled: bool) -> Any:
    session = db.session()
    journey = brand_journey(journey_id)
    try:
        editing.set_enabled(session, journey, enabled)
    except editing.JourneyRefused as refused:
        raise _refused(refused) from None
    session.commit()
    return editing.view(journey)


@blp.route("/journeys/<int:journey_id>/enable", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.response(200, JourneyOut)
@blp.alt_response(404, description="No such journey in your brand", **_NOT_FOUND)
def enable_journey(journey_id: int) -> Any:
    """Switch the journey on (checked again first: a coupon retired since refuses, 422)."""
    return _switch(journey_id, True)


@blp.route("/journeys/<int:journey_id>/disable", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.response(200, JourneyOut)
@blp.alt_response(404, description="No such journey in your brand", **_NOT_FOUND)
def disable_journey(journey_id: int) -> Any:
    """Switch the journey off: no card enters it from now on; its history stays."""
    return _switch(journey_id, False)


@blp.route("/journeys/<int:journey_id>/report", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(ReportQuery, location="query")
@blp.response(200, JourneyReportOut)
@blp.alt_response(404, description="No such journey in your brand", **_NOT_FOUND)
def get_report(query: dict[str, Any], journey_id: int) -> Any:
    """The treated entries beside the holdout's: entered, reached, buyers, purchases and revenue in
    each entry's 7-day window; the differences with 95 % intervals, incremental revenue, the cost
    of what was given and ROMI. Without a holdout, `lift.causal` is false and `lift.note` says so.
    `?format=csv`: the same as a table."""
    journey = brand_journey(journey_id)
    figures = journey_report.report(db.session(), journey)
    if query["format"] == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(journey_report.COLUMNS)
        writer.writerows([safe_cell(value) for value in row] for row in journey_report.rows(figures))
        return Response(out.getvalue(), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="passcast-journey-{journey_id}-report.csv"'})
    return figures


# ---- playbooks -----------------------------------------------------------------------------

@blp.route("/programs/<int:program_id>/playbooks", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, PlaybookOut(many=True))
@blp.alt_response(404, description="No such program in your brand", **_NOT_FOUND)
def list_playbooks(program_id: int) -> Any:
    """The ready-made journeys, each with its steps for this program and whether it is on."""
    return playbooks.listing(db.session(), brand_program(program_id))


def _playbook_name(name: str) -> str:
    if name not in playbooks.PLAYBOOKS:
        raise Problem(404, "Playbook not found", f"No playbook {name!r}; known: {', '.join(playbooks.PLAYBOOKS)}.")
    return name


@blp.route("/programs/<int:program_id>/playbooks/<string:name>", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.arguments(PlaybookIn, example={"reward_id": 3})
@blp.response(200, PlaybookSwitchedOut)
@blp.alt_response(201, schema=PlaybookSwitchedOut, description="Journeys were created")
@blp.alt_response(404, description="No such program in your brand, or no such playbook", **_NOT_FOUND)
def switch_on_playbook(body: dict[str, Any], program_id: int, name: str) -> Any:
    """Switch a ready-made journey on: its journeys are created enabled (201), or, when they are
    there already, switched on again (200): a second call never makes them twice. Win-back makes
    three (30, 60, 90 days), the expiry reminder two (30 and 3 days)."""
    session = db.session()
    program = brand_program(program_id)
    _playbook_name(name)
    lock_row(session, Program, program.id)  # two calls at once: the second waits and finds the first's
    session.refresh(program)
    try:
        journeys, created = playbooks.switch_on(session, program, name, body)
    except editing.JourneyRefused as refused:
        raise _refused(refused) from None
    session.commit()
    answer = {"playbook": name, "created": created, "journeys": [editing.view(j) for j in journeys]}
    return (answer, 201) if created else answer


@blp.route("/programs/<int:program_id>/playbooks/<string:name>/off", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.response(200, PlaybookSwitchedOut)
@blp.alt_response(404, description="No such program in your brand, or no such playbook", **_NOT_FOUND)
def switch_off_playbook(program_id: int, name: str) -> Any:
    """Switch every journey of the playbook off (they stay, with their reports)."""
    session = db.session()
    program = brand_program(program_id)
    journeys = playbooks.switch_off(session, program, _playbook_name(name))
    session.commit()
    return {"playbook": name, "created": 0, "journeys": [editing.view(j) for j in journeys]}


# ---- managers' tasks -----------------------------------------------------------------------

@blp.route("/journey-tasks", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(TaskQuery, location="query")
@blp.response(200, TaskOut(many=True), headers=LINK_HEADER)
def list_tasks(query: dict[str, Any]) -> Any:
    """What journeys ask store managers to do (an NPS detractor to call back: who, what they
    said), newest first; `state` open (default), done or all. A store manager sees only the tasks
    of their stores."""
    statement = tasks_view.statement(g.brand.id, state=query["state"], store_id=query["store_id"],
                                     journey_id=query["journey_id"])
    statement = store_scope.visible(statement, JourneyTask.store_id)
    return tasks_view.views(db.session(), page(statement, JourneyTask.id, query))


@blp.route("/journey-tasks/<int:task_id>/done", methods=["POST"])
@require_brand
@requires("campaigns", also="cashier")
@blp.response(200, TaskOut)
@blp.alt_response(404, description="No such task in your brand (or not of your stores)", **_NOT_FOUND)
def task_done(task_id: int) -> Any:
    """Mark a task done (again: no change). Store managers only for their stores' tasks."""
    session = db.session()
    task = store_scope.within_stores(brand_row(JourneyTask, task_id, "task"), "task", task_id)
    if task.state != "done":
        task.state, task.done_at = "done", utcnow()
        task.done_by = audit.current_actor().label[:200]
        audit.record(session, task.brand_id, "journey_task.done", "journey_task", task.id,
                     {"state": {"before": "open", "after": "done"}})
        session.commit()
    return tasks_view.views(session, [task])[0]

