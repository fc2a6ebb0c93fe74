"""Enrolment settings of a program (join-page slug, the fields and consent sentence it asks, the
welcome bonus, referral points) and a card's referral link."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand, require_brand_or_cashier
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.cards import brand_card, brand_program
from service.enrolment import join_settings
from service.enrolment.page import join_url
from service.loyalty.referrals import code_for
from service.models import Program
from service.platform import db
from service.web.languages import LANGUAGES
from service.web.problems import Problem, validation_problem

blp = Blueprint("enrolment", __name__, url_prefix="/api/v1",
                description="Join page, counter poster and referrals")

SLUG = re.compile(r"^(?![0-9]+$)[a-z0-9]+(?:-[a-z0-9]+)*$")


class EnrolmentIn(Schema):
    slug = fields.String(allow_none=True, validate=[
        validate.Length(min=2, max=80),
        validate.Regexp(SLUG, error="Lower-case letters, digits and single dashes, not only digits.")],
        metadata={"example": "demo-coffee"})
    referral_points = fields.Integer(validate=validate.Range(min=0, max=1_000_000), metadata={
        "description": "Points both cards get at the referred card's first purchase; 0 = off", "example": 50})
    fields_ = fields.Dict(
        data_key="fields", attribute="fields",
        keys=fields.String(validate=validate.OneOf(join_settings.FIELDS)),
        values=fields.String(validate=validate.OneOf(join_settings.STATES)),
        metadata={"description": "What the join form asks besides the name: each of phone, email, birthday is "
                                 "required, optional or off (those left out keep their state); a phone or an "
                                 "email must stay asked", "example": {"phone": "required", "birthday": "off"}})
    consent_text = fields.Dict(
        keys=fields.String(validate=validate.OneOf(LANGUAGES)),
        values=fields.String(validate=validate.Length(max=join_settings.CONSENT_LIMIT)),
        metadata={"description": "The consent checkbox's sentence per language; \"\" puts back the built-in one",
                  "example": {"en": "I agree to the Demo Coffee club terms", "ru": "Я принимаю условия клуба"}})
    welcome_points = fields.Integer(validate=validate.Range(min=0, max=1_000_000), metadata={
        "description": "Points a card joining through the join page gets once (points programs); 0 = none",
        "example": 25})


class EnrolmentOut(Schema):
    program_id = fields.Integer()
    slug = fields.String(allow_none=True)
    referral_points = fields.Integer()
    fields_ = fields.Dict(data_key="fields", attribute="fields", keys=fields.String(), values=fields.String())
    consent_text = fields.Dict(keys=fields.String(), values=fields.String())
    welcome_points = fields.Integer()
    join_url = fields.String()
    poster_png_url = fields.String()
    poster_pdf_url = fields.String()


class ReferralOut(Schema):
    card_id = fields.Integer()
    code = fields.String()
    join_url = fields.String(metadata={"description": "The card's personal join link"})
    referred_by_card_id = fields.Integer(allow_none=True)


def enrolment_view(program: Program) -> dict[str, Any]:
    url = join_url(program, current_app.config["PASSCAST"].public_base_url)
    return {"program_id": program.id, "slug": program.slug, "referral_points": program.referral_points or 0,
            **join_settings.settings_view(program), "join_url": url,
            "poster_png_url": f"{url}/poster.png", "poster_pdf_url": f"{url}/poster.pdf"}


@blp.route("/programs/<int:program_id>/enrolment", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, EnrolmentOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def get_enrolment(program_id: int) -> Any:
    """The program's public join link, its posters and the referral bonus."""
    return enrolment_view(brand_program(program_id))


@blp.route("/programs/<int:program_id>/enrolment", methods=["PATCH"])
@require_brand
@requires("design")
@blp.arguments(EnrolmentIn, example={"slug": "demo-coffee", "referral_points": 50, "welcome_points": 25,
                                     "fields": {"phone": "required", "email": "optional", "birthday": "off"},
                                     "consent_text": {"en": "I agree to the club terms"}})
@blp.response(200, EnrolmentOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM, description="Another program has that slug")
@blp.alt_response(422, schema=ProblemOut, content_type=PROBLEM, description="Neither phone nor email would be asked")
def patch_enrolment(body: dict[str, Any], program_id: int) -> Any:
    """Set the join page's slug (/join/<slug>), the fields it asks, its consent sentence, the
    welcome bonus and the referral bonus."""
    session = db.session()
    program = brand_program(program_id)
    if body.get("slug") and session.scalar(select(Program.id).where(Program.slug == body["slug"],
                                                                    Program.id != program.id)) is not None:
        raise Problem(409, "Slug taken", f"Another program already uses /join/{body['slug']}.",
                      type_="/problems/slug-taken")
    values = dict(body)
    if "fields" in values:  # merged with the current states; a new dict, so the change is seen
        merged = {**join_settings.fields_of(program), **values.pop("fields")}
        if reason := join_settings.fields_problem(merged):
            raise validation_problem([{"field": "fields", "message": reason}])
        values["join_fields"] = merged
    if "consent_text" in values:  # per language; "" removes that language's own sentence
        asked = {lang: text.strip() for lang, text in values["consent_text"].items()}
        texts = {**(program.consent_text or {}), **asked}
        values["consent_text"] = {lang: text for lang, text in texts.items() if text} or None
    before = audit.snapshot(program, values)
    for key, value in values.items():
        setattr(program, key, value)
    if changes := audit.diff(before, audit.snapshot(program, values)):
        audit.record(session, g.brand.id, "program.enrolment_updated", "program", program.id, changes)
    session.commit()
    return enrolment_view(program)


@blp.route("/cards/<int:card_id>/referral", methods=["GET"])
@require_brand_or_cashier
@requires("read")
@blp.response(200, ReferralOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such card in your brand")
@blp.doc(security=[{"apiKey": []}, {"cashierToken": []}])
def get_referral(card_id: int) -> Any:
    """The card's referral code and personal join link (made on first request)."""
    session = db.session()
    card = brand_card(card_id)
    code = code_for(session, card)
    session.commit()
    return {"card_id": card.id, "code": code, "referred_by_card_id": card.referred_by_id,
            "join_url": join_url(card.program, current_app.config["PASSCAST"].public_base_url, code)}
