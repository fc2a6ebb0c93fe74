"""Challenges: "N visits or purchases within a period earn a bonus", per program.

The rules are service/journeys/challenges.py; this is their HTTP face. Reading takes `read`,
changing takes `campaigns` (as campaigns and messaging rules do). Every change bumps the program's
challenges_version in the same transaction, so every process counts by the new rules at once.
What a change does to cards already counting: their progress stays (a changed target applies from
the next transaction); a switched-off challenge counts nothing and leaves the pass.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import delete, func, select, update

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.cards import brand_program
from service.api.fields import DecimalText, Id
from service.api.tenancy import brand_row
from service.journeys import challenge_passes, challenges
from service.loyalty.rewards import MAX_VALID_DAYS
from service.models import CatalogueReward, Challenge, ChallengeProgress, Program, utcnow
from service.platform import db
from service.web.problems import validation_problem

blp = Blueprint("challenges", __name__, url_prefix="/api/v1",
                description="Challenges: N visits or purchases within a period earn a bonus")

UTC_DATETIME = {"format": "iso", "default_timezone": dt.UTC}
MAX_BONUS_POINTS = 1_000_000
MAX_BONUS_STAMPS = 100
#: The fields a brand sets (and the audit log compares).
FIELDS = ("name", "counts", "min_amount", "target", "starts_at", "ends_at", "rolling_days", "bonus",
          "bonus_amount", "coupon_reward_id", "coupon_name", "coupon_valid_days", "enabled")


class ChallengePatch(Schema):
    """Only the fields sent change; null clears an optional one."""

    name = fields.String(validate=validate.Length(min=1, max=60), metadata={
        "description": "Shown on the pass as the field's label", "example": "December challenge"})
    counts = fields.String(validate=validate.OneOf(challenges.COUNTS), metadata={
        "description": "visits: every purchase or stamp; purchases: purchases of at least min_amount"})
    min_amount = DecimalText(allow_none=True, places=2, validate=validate.Range(min=0, max=10_000_000), metadata={
        "description": "counts=purchases: the least a purchase must be to count (null: any)", "example": "10.00"})
    target = fields.Integer(strict=True, validate=validate.Range(min=1, max=challenges.MAX_TARGET),
                            metadata={"description": "How many qualifying transactions complete it", "example": 5})
    starts_at = fields.AwareDateTime(**UTC_DATETIME, metadata={
        "description": "Transactions from this moment count (default: now)", "example": "2026-12-01T00:00:00Z"})
    ends_at = fields.AwareDateTime(allow_none=True, **UTC_DATETIME, metadata={
        "description": "Transactions before this moment count (null: no end; then rolling_days is required)",
        "example": "2027-01-01T00:00:00Z"})
    rolling_days = fields.Integer(allow_none=True, strict=True,
                                  validate=validate.Range(min=1, max=challenges.MAX_ROLLING_DAYS), metadata={
                                      "description": "Each card has this many days from its first qualifying "
                                                     "transaction (null: the fixed period only); a rolling "
                                                     "challenge can be completed again in a new window"})
    bonus = fields.String(validate=validate.OneOf(challenges.BONUSES), metadata={
        "description": "points (points and cashback programs), stamps (stamp programs) or coupon"})
    bonus_amount = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_BONUS_POINTS),
                                  metadata={"description": "The points or stamps given", "example": 100})
    coupon_reward_id = Id(allow_none=True, strict=True, metadata={
        "description": "bonus=coupon: a catalogue reward of the program"})
    coupon_name = fields.String(allow_none=True, validate=validate.Length(min=1, max=100), metadata={
        "description": "bonus=coupon without coupon_reward_id: the coupon's name", "example": "Free pastry"})
    coupon_valid_days = fields.Integer(allow_none=True, strict=True,
                                       validate=validate.Range(min=1, max=MAX_VALID_DAYS))
    enabled = fields.Boolean(metadata={"description": "false: switched off (counts nothing, not on the pass)"})


class ChallengeIn(ChallengePatch):
    """A new challenge: name, target and bonus are required; the rest as described."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=60),
                         metadata={"example": "December challenge"})
    target = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=challenges.MAX_TARGET),
                            metadata={"example": 5})
    bonus = fields.String(required=True, validate=validate.OneOf(challenges.BONUSES), metadata={"example": "points"})
    counts = fields.String(load_default="visits", validate=validate.OneOf(challenges.COUNTS))
    enabled = fields.Boolean(load_default=True)


class ChallengeOut(Schema):
    id = fields.Integer()
    program_id = fields.Integer()
    name = fields.String()
    counts = fields.String()
    min_amount = DecimalText(allow_none=True, places=2)
    target = fields.Integer()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    rolling_days = fields.Integer(allow_none=True)
    bonus = fields.String()
    bonus_amount = fields.Integer(allow_none=True)
    coupon_reward_id = fields.Integer(allow_none=True)
    coupon_name = fields.String(allow_none=True)
    coupon_valid_days = fields.Integer(allow_none=True)
    enabled = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    cards_started = fields.Integer(metadata={"description": "GET of one challenge: cards with progress in it"})
    cards_completed = fields.Integer(metadata={"description": "GET of one challenge: windows completed"})


_EXAMPLE = {"name": "December challenge", "counts": "visits", "target": 5, "starts_at": "2026-12-01T00:00:00Z",
            "ends_at": "2027-01-01T00:00:00Z", "bonus": "points", "bonus_amount": 100}


def _problems(program: Program, challenge: Challenge) -> list[dict[str, str]]:
    """What the fields together or the program's kind refuse; one entry per field."""
    errors = []
    if challenge.counts != "purchases" and challenge.min_amount is not None:
        errors.append({"field": "min_amount", "message": "Only a purchases challenge has a least amount."})
    if challenge.ends_at is None and challenge.rolling_days is None:
        errors.append({"field": "ends_at", "message": "Give ends_at (a fixed period), rolling_days, or both."})
    if challenge.ends_at is not None and challenge.ends_at <= challenge.starts_at:
        errors.append({"field": "ends_at", "message": "must be after starts_at"})
    if challenge.bonus == "coupon":
        if challenge.bonus_amount is not None:
            errors.append({"field": "bonus_amount", "message": "A coupon bonus has no amount; name the coupon."})
        if challenge.coupon_reward_id is None and not challenge.coupon_name:
            errors.append({"field": "coupon_name", "message": "Give coupon_reward_id (a catalogue reward) or "
                                                              "coupon_name."})
        if challenge.coupon_reward_id is not None:
            reward = db.session().get(CatalogueReward, challenge.coupon_reward_id)
            if reward is None or reward.program_id != program.id:
                errors.append({"field": "coupon_reward_id", "message": "No such reward in this program's catalogue."})
    else:
        if challenge.bonus_amount is None:
            errors.append({"field": "bonus_amount", "message": f"How many {challenge.bonus} the bonus gives."})
        if challenge.coupon_reward_id is not None or challenge.coupon_name or challenge.coupon_valid_days:
            errors.append({"field": "bonus", "message": "The coupon fields go with bonus: coupon."})
        if challenge.bonus == "points" and program.kind not in ("points", "cashback"):
            instead = "stamps" if program.kind == "stamps" else "a coupon"
            errors.append({"field": "bonus", "message": f"A {program.kind} program has no points to give; "
                                                        f"give {instead}."})
        if challenge.bonus == "stamps" and program.kind != "stamps":
            errors.append({"field": "bonus", "message": "Only a stamp-card program gives stamps."})
        if (challenge.bonus == "stamps" and challenge.bonus_amount is not None
                and challenge.bonus_amount > MAX_BONUS_STAMPS):
            errors.append({"field": "bonus_amount", "message": f"At most {MAX_BONUS_STAMPS} stamps."})
    return errors


def _checked(program: Program, challenge: Challenge) -> None:
    if errors := _problems(program, challenge):
        raise validation_problem(errors)


def _own_challenge(challenge_id: int) -> Challenge:
    return brand_row(Challenge, challenge_id, "challenge")


def _with_figures(challenge: Challenge) -> dict[str, Any]:
    session = db.session()
    started, completed = session.execute(
        select(func.count(func.distinct(ChallengeProgress.card_id)), func.count(ChallengeProgress.completed_at))
        .where(ChallengeProgress.challenge_id == challenge.id)).one()
    return {**{name: getattr(challenge, name) for name in ("id", "program_id", *FIELDS, "created_at", "updated_at")},
            "cards_started": int(started or 0), "cards_completed": int(completed or 0)}


@blp.route("/programs/<int:program_id>/challenges", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, ChallengeOut(many=True))
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def list_challenges(program_id: int) -> Any:
    """The program's challenges, switched off ones too."""
    program = brand_program(program_id)
    return list(db.session().scalars(select(Challenge).where(Challenge.program_id == program.id)
                                     .order_by(Challenge.id)))


@blp.route("/programs/<int:program_id>/challenges", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.arguments(ChallengeIn, example=_EXAMPLE)
@blp.response(201, ChallengeOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
@blp.alt_response(422, schema=ProblemOut, content_type=PROBLEM,
                  description="Invalid; or a bonus the program's kind cannot give (points on a stamp card)")
def create_challenge(body: dict[str, Any], program_id: int) -> Any:
    """Make a challenge: `target` visits (or purchases of at least `min_amount`) between `starts_at`
    and `ends_at`, and/or within `rolling_days` of a card's first, earn the bonus. Each card's
    progress shows on its pass; the bonus is given once per card per window."""
    program = brand_program(program_id)
    now = utcnow()
    body.setdefault("starts_at", now)
    challenge = Challenge(brand_id=g.brand.id, program_id=program.id, created_at=now, updated_at=now, **body)
    _checked(program, challenge)
    session = db.session()
    session.add(challenge)
    session.flush()
    challenges.changed(session, program)
    if challenge_passes.running(challenge, now):  # it shows on every pass of the program from now
        challenge_passes.bump_program(session, program.id)
    audit.record(session, g.brand.id, "challenge.created", "challenge", challenge.id,
                 {"program_id": program.id, **body})
    session.commit()
    return challenge


@blp.route("/challenges/<int:challenge_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, ChallengeOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such challenge in your brand")
def get_challenge(challenge_id: int) -> Any:
    """One challenge, with how many cards started it and how many windows were completed."""
    return _with_figures(_own_challenge(challenge_id))


@blp.route("/challenges/<int:challenge_id>", methods=["PATCH"])
@require_brand
@requires("campaigns")
@blp.arguments(ChallengePatch, example={"enabled": False})
@blp.response(200, ChallengeOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such challenge in your brand")
@blp.alt_response(422, schema=ProblemOut, content_type=PROBLEM, description="Invalid, as for POST")
def patch_challenge(body: dict[str, Any], challenge_id: int) -> Any:
    """Change a challenge, or switch it off (`enabled: false`) and on. Progress already made stays;
    a fixed period's new dates move every card's window with it. Once cards have started, the window
    cannot change between fixed and rolling (422 on rolling_days)."""
    challenge = _own_challenge(challenge_id)
    session = db.session()
    program = session.get(Program, challenge.program_id)
    assert program is not None
    before = audit.snapshot(challenge, FIELDS)
    was_shown = challenge_passes.running(challenge, utcnow())
    for key, value in body.items():
        setattr(challenge, key, value)
    _checked(program, challenge)
    started = session.scalar(select(ChallengeProgress.id).where(ChallengeProgress.challenge_id == challenge.id)
                             .limit(1)) is not None
    if started and (before["rolling_days"] is None) != (challenge.rolling_days is None):
        raise validation_problem([{"field": "rolling_days", "message": (
            "Cards have started this challenge: its window cannot change between a fixed period and a "
            "rolling one. Switch it off and make a new challenge.")}])
    if started and challenge.rolling_days is None and (
            (before["starts_at"], before["ends_at"]) != (challenge.starts_at, challenge.ends_at)):
        # a fixed period is every card's one window: the cards' windows move with it
        session.execute(update(ChallengeProgress).where(ChallengeProgress.challenge_id == challenge.id)
                        .values(window_starts_at=challenge.starts_at, window_ends_at=challenge.ends_at))
    if changes := audit.diff(before, audit.snapshot(challenge, FIELDS)):
        challenge.updated_at = utcnow()
        challenges.changed(session, program)
        if was_shown or challenge_passes.running(challenge, utcnow()):  # what the passes show changed
            challenge_passes.bump_program(session, program.id)
        audit.record(session, g.brand.id, "challenge.updated", "challenge", challenge.id, changes)
    session.commit()
    return _with_figures(challenge)


@blp.route("/challenges/<int:challenge_id>", methods=["DELETE"])
@require_brand
@requires("campaigns")
@blp.response(204)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such challenge in your brand")
def delete_challenge(challenge_id: int) -> None:
    """Remove a challenge and the cards' progress in it. Bonuses already given stay on the cards
    (their ledger entries remain, and can be reversed one by one); to keep the record, switch the
    challenge off instead."""
    challenge = _own_challenge(challenge_id)
    session = db.session()
    program = session.get(Program, challenge.program_id)
    assert program is not None
    was_shown = challenge_passes.running(challenge, utcnow())
    session.execute(delete(ChallengeProgress).where(ChallengeProgress.challenge_id == challenge.id))
    audit.record(session, g.brand.id, "challenge.deleted", "challenge", challenge.id, {"name": challenge.name})
    session.delete(challenge)
    challenges.changed(session, program)
    if was_shown:  # its field leaves every pass of the program
        challenge_passes.bump_program(session, program.id)
    session.commit()
