"""Card previews and ready-made designs: what a program's card looks like on the phone, saved or
as a draft the marketer is still typing, and one-click designs for a new program.

A preview is a sample card's real pass (service/design/preview.py) drawn by passes/preview.py;
nothing is stored, bumped or pushed, even for a draft (which is validated as a PATCH is).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut, ProgramRules
from service.api.cards import brand_program
from service.api.programs import _check_rules, _mark_all_cards_changed
from service.api.schemas import ProgramOut
from service.design import preview
from service.design.presets import PRESETS
from service.platform import db
from service.web.problems import validation_problem

blp = Blueprint("previews", __name__, url_prefix="/api/v1",
                description="Card previews (PNG) and ready-made designs")

_PNG = {"200": {"description": "The picture (PNG)",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}}


class PreviewQuery(Schema):
    platform = fields.String(load_default="apple", validate=validate.OneOf(preview.PLATFORMS))
    side = fields.String(load_default="front", validate=validate.OneOf(preview.SIDES),
                         metadata={"description": "Apple only: the front or the back (Google shows one side)"})
    language = fields.String(load_default="en", validate=validate.OneOf(preview.LANGUAGES))
    tier = fields.String(validate=validate.Length(min=1, max=50),
                         metadata={"description": "Show a card in this tier (by name)"})
    message = fields.String(validate=validate.OneOf(preview.MESSAGE_KEYS), metadata={
        "description": "Instead of the card: the lock-screen notification when this field changes (Apple: "
                       "its changeMessage; Google: the changed figure's label and value, as Android shows "
                       "Google Wallet's notification; Google writes its own texts, so this is an approximation)"})
    news = fields.String(validate=validate.Length(min=1, max=1000),
                         metadata={"description": "The sample card's news text (with message=news)"})


class PreviewDraft(ProgramRules):
    """The fields PATCH /programs/{id} accepts, plus what to preview them with."""

    preset = fields.String(validate=validate.OneOf(list(PRESETS)),
                           metadata={"description": "Start from this ready-made design (the other fields win)"})
    message = fields.String(validate=validate.OneOf(preview.MESSAGE_KEYS))
    news = fields.String(validate=validate.Length(min=1, max=1000))


class PresetIn(Schema):
    name = fields.String(required=True, validate=validate.OneOf(list(PRESETS)), metadata={"example": "cafe"})


class PresetOut(Schema):
    name = fields.String()
    title = fields.Dict(keys=fields.String(), values=fields.String())
    background_color = fields.String()
    foreground_color = fields.String()
    label_color = fields.String()
    motif = fields.String()
    description = fields.String()
    terms = fields.String()


def _png(program: Any, args: dict[str, Any]) -> Response:
    asked = preview.Request(platform=args["platform"], side=args["side"], language=args["language"],
                            tier=args.get("tier"), message=args.get("message"), news=args.get("news"))
    try:
        picture = preview.render(current_app.config["PASSCAST"], program, asked)
    except preview.PreviewError as error:
        raise validation_problem([{"field": error.field, "message": str(error)}]) from None
    response = Response(picture, mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@blp.route("/programs/<int:program_id>/preview.png", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(PreviewQuery, location="query")
@blp.doc(responses=_PNG)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def get_preview(args: dict[str, Any], program_id: int) -> Response:
    """A sample card of the program as the phone shows it: Apple front or back, Google, or the
    lock-screen message of a change. Drawn from the real pass of a card that is never stored."""
    return _png(brand_program(program_id), args)


@blp.route("/programs/<int:program_id>/preview.png", methods=["POST"])
@require_brand
@requires("read")  # a draft preview only reads: it stores nothing
@blp.arguments(PreviewQuery, location="query")
@blp.arguments(PreviewDraft, example={"background_color": "#1f2937", "name": "Bean There"})
@blp.doc(responses=_PNG)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def post_preview(args: dict[str, Any], body: dict[str, Any], program_id: int) -> Response:
    """What the card WOULD look like with these program fields (as PATCH takes them), without saving
    anything: no change to the program, no card updated, no push."""
    program = brand_program(program_id)
    for key in ("message", "news"):
        if key in body:
            args[key] = body.pop(key)
    changes: dict[str, Any] = {}
    name = body.pop("preset", None)
    if name is not None:
        changes.update(PRESETS[name].fields())
    changes.update(body)
    draft = preview.draft_program(program, changes)
    _check_rules(draft, changes)
    return _png(draft, args)


@blp.route("/program-presets", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, PresetOut(many=True))
def list_presets() -> Any:
    """The ready-made designs: café, bakery, fashion, beauty."""
    return list(PRESETS.values())


@blp.route("/programs/<int:program_id>/apply-preset", methods=["POST"])
@require_brand
@requires("design")
@blp.arguments(PresetIn, example={"name": "cafe"})
@blp.response(200, ProgramOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def apply_preset(body: dict[str, Any], program_id: int) -> Any:
    """Dress the program in a ready-made design (colours, strip, description, terms text); every
    card's pass is updated. Earn rules, tiers and uploaded logo and icon are kept."""
    program = brand_program(program_id)
    fields_of_preset = PRESETS[body["name"]].fields()
    before = audit.snapshot(program, fields_of_preset)
    for key, value in fields_of_preset.items():
        setattr(program, key, value)
    if changes := audit.diff(before, audit.snapshot(program, fields_of_preset)):
        audit.record(db.session(), g.brand.id, "program.preset_applied", "program", program.id,
                     {"preset": body["name"], **changes})
    _mark_all_cards_changed(program)
    db.session().commit()
    return program
