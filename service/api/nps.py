"""NPS surveys: ask a program's card holders "How likely are you to recommend us?" (0-10).

While a survey runs, the back of each pass of the program links to the card's own answer
page (/nps/<token>); starting or stopping a survey now updates every pass of the program.
Results: GET /api/v1/analytics/nps; each answer with its comment:
GET /api/v1/nps-surveys/<id>/responses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.cards import brand_program
from service.api.pagination import LINK_HEADER, PageQuery, page
from service.api.tenancy import brand_row
from service.models import NpsAnswer, NpsSurvey, utcnow
from service.nps import survey as nps
from service.platform import db

blp = Blueprint("nps", __name__, url_prefix="/api/v1", description="NPS surveys on the back of the pass")

UTC_DATETIME = {"format": "iso", "default_timezone": dt.UTC}


class SurveyIn(Schema):
    program_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1))
    question = fields.String(load_default="How likely are you to recommend us to a friend?",
                             validate=validate.Length(min=1, max=300))
    starts_at = fields.AwareDateTime(load_default=None, allow_none=True, **UTC_DATETIME,
                                     metadata={"description": "Omit to start now"})
    ends_at = fields.AwareDateTime(load_default=None, allow_none=True, **UTC_DATETIME,
                                   metadata={"description": "Omit to run until stopped"})

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        starts, ends = data.get("starts_at") or utcnow(), data.get("ends_at")
        if ends is not None and ends <= starts:
            raise ValidationError("must be after starts_at (and after now when starting now)", "ends_at")


class SurveyOut(Schema):
    id = fields.Integer()
    program_id = fields.Integer()
    question = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()


class ResponseOut(Schema):
    id = fields.Integer()
    survey_id = fields.Integer()
    card_id = fields.Integer()
    score = fields.Integer(metadata={"description": "0..10"})
    comment = fields.String(allow_none=True, metadata={"description": "What the customer wrote, as written"})
    store_id = fields.Integer(allow_none=True, metadata={"description": "Where the answer is attributed"})
    answered_at = fields.DateTime(metadata={"description": "When the latest answer was given"})


def _view(survey: NpsSurvey) -> dict[str, Any]:
    now = utcnow()
    running = survey.starts_at <= now and (survey.ends_at is None or survey.ends_at > now)
    return {"id": survey.id, "program_id": survey.program_id, "question": survey.question,
            "starts_at": survey.starts_at, "ends_at": survey.ends_at, "active": running,
            "created_at": survey.created_at}


def brand_survey(survey_id: int) -> NpsSurvey:
    return brand_row(NpsSurvey, survey_id, "NPS survey")


@blp.route("/nps-surveys", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.arguments(SurveyIn, example={"program_id": 1, "question": "How likely are you to recommend us to a friend?",
                                  "ends_at": "2026-12-31T23:00:00Z"})
@blp.response(201, SurveyOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def create_survey(body: dict[str, Any]) -> Any:
    """Start (or schedule) a survey. The link goes onto every pass of the program when it
    starts (now, or within a minute of `starts_at`) and off again when it ends."""
    program = brand_program(body["program_id"])
    now = utcnow()
    survey = NpsSurvey(brand_id=g.brand.id, program_id=program.id, question=body["question"],
                       starts_at=body["starts_at"] or now, ends_at=body["ends_at"], created_at=now)
    session = db.session()
    session.add(survey)
    session.flush()
    if survey.starts_at <= now:
        nps.refresh_passes(session, program.id)
        survey.shown_on_passes = True
    session.commit()
    return _view(survey)


@blp.route("/nps-surveys", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, SurveyOut(many=True))
def list_surveys() -> Any:
    """The brand's surveys, newest first."""
    surveys = db.session().scalars(select(NpsSurvey).where(NpsSurvey.brand_id == g.brand.id)
                                   .order_by(NpsSurvey.id.desc()).limit(200))
    return [_view(survey) for survey in surveys]


@blp.route("/nps-surveys/<int:survey_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, SurveyOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such survey in your brand")
def get_survey(survey_id: int) -> Any:
    """One survey; `active` says whether it is running now."""
    return _view(brand_survey(survey_id))


@blp.route("/nps-surveys/<int:survey_id>/stop", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.response(200, SurveyOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such survey in your brand")
def stop_survey(survey_id: int) -> Any:
    """End a survey now: its link leaves the passes and the page stops taking answers."""
    survey = brand_survey(survey_id)
    now = utcnow()
    if survey.ends_at is None or survey.ends_at > now:
        was_running = survey.starts_at <= now
        survey.ends_at = now
        db.session().flush()
        if was_running:
            nps.refresh_passes(db.session(), survey.program_id)
        survey.shown_on_passes = survey.removed_from_passes = True
    db.session().commit()
    return _view(survey)


@blp.route("/nps-surveys/<int:survey_id>/responses", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(PageQuery, location="query")
@blp.response(200, ResponseOut(many=True), headers=LINK_HEADER)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such survey in your brand")
def list_responses(query: dict[str, Any], survey_id: int) -> Any:
    """The survey's answers with their comments, newest first (one per card: a changed answer
    keeps its place)."""
    survey = brand_survey(survey_id)
    return page(select(NpsAnswer).where(NpsAnswer.survey_id == survey.id, NpsAnswer.brand_id == g.brand.id),
                NpsAnswer.id, query)
