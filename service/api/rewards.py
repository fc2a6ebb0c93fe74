"""Rewards and coupons: a program's catalogue, what a card holds, buying, granting and redeeming.

The rules are service/loyalty/rewards.py; this is their HTTP face. Every write on a card takes an
Idempotency-Key (as transactions do): the same key and body answers the first answer again
(`Idempotent-Replayed: true`), another body with it is a 422. Cashier tokens (and PIN sessions)
may buy and redeem for cards of their brand; granting coupons and the catalogue are the brand's.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand, require_brand_or_cashier
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.cards import brand_card, brand_program
from service.api.fields import Id
from service.api.schemas import HeldRewardOut
from service.api.transactions import _KEY_PARAMETER, BOTH_AUTH, _actor, idempotency_key
from service.api.transactions import _problem as transaction_problem
from service.loyalty import rewards
from service.loyalty.engine import LoyaltyError, Outcome
from service.models import Campaign, CatalogueReward, Program, utcnow
from service.platform import db
from service.web.problems import Problem, validation_problem

blp = Blueprint("rewards", __name__, url_prefix="/api/v1",
                description="Rewards and coupons: the catalogue, what a card holds, buying and redeeming")

MAX_COST = 10_000_000


# --- schemas ---------------------------------------------------------------------------------------


class CatalogueRewardIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"example": "Free coffee"})
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500),
                                metadata={"example": "Any coffee, any size"})
    cost_points = fields.Integer(load_default=None, allow_none=True, strict=True,
                                 validate=validate.Range(min=1, max=MAX_COST), metadata={
                                     "description": "Points and cashback programs: what it costs; null: not sold "
                                                    "for points (a coupon, or a full stamp card's reward)",
                                     "example": 150})
    costs_full_card = fields.Boolean(load_default=False, metadata={
        "description": "Stamp programs: a full card's reward may be taken as this at the till"})
    valid_days = fields.Integer(load_default=None, allow_none=True, strict=True,
                                validate=validate.Range(min=1, max=rewards.MAX_VALID_DAYS), metadata={
                                    "description": "Days a card may hold it before it expires; null: no end",
                                    "example": 30})
    active = fields.Boolean(load_default=True, metadata={"description": "false: out of the catalogue"})


class CatalogueRewardPatch(Schema):
    """Only the fields sent change (no defaults: a PATCH of the cost keeps the description)."""

    name = fields.String(validate=validate.Length(min=1, max=100))
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    cost_points = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_COST))
    costs_full_card = fields.Boolean()
    valid_days = fields.Integer(allow_none=True, strict=True,
                                validate=validate.Range(min=1, max=rewards.MAX_VALID_DAYS))
    active = fields.Boolean()


class CatalogueRewardOut(Schema):
    id = fields.Integer(metadata={"example": 3})
    program_id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    cost_points = fields.Integer(allow_none=True)
    costs_full_card = fields.Boolean()
    valid_days = fields.Integer(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class HeldRewardsQuery(Schema):
    state = fields.String(load_default="redeemable", validate=validate.OneOf(["redeemable", "all"]), metadata={
        "description": "redeemable (default): what can be redeemed now; all: every reward held, newest first"})


class BuyIn(Schema):
    reward_id = Id(required=True, strict=True, metadata={"description": "The catalogue reward to buy with points",
                                                         "example": 3})
    store_id = Id(load_default=None, strict=True, metadata={
        "description": "The store it happens at (a brand key may name one; a store manager must name one of theirs; "
                       "a cashier's is their own)"})


class CouponIn(Schema):
    reward_id = Id(load_default=None, strict=True, metadata={"description": "A catalogue reward to grant"})
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=100), metadata={
        "description": "Without reward_id: the coupon's name", "example": "Birthday cake"})
    description = fields.String(load_default=None, validate=validate.Length(max=500))
    valid_days = fields.Integer(load_default=None, strict=True,
                                validate=validate.Range(min=1, max=rewards.MAX_VALID_DAYS),
                                metadata={"description": "Default: the catalogue reward's; none: no end"})
    expires_at = fields.AwareDateTime(load_default=None, metadata={"description": "Instead of valid_days"})
    origin = fields.String(load_default="api", validate=validate.OneOf(rewards.COUPON_ORIGINS), metadata={
        "description": "Who grants it: " + " | ".join(rewards.COUPON_ORIGINS)})
    campaign_id = Id(load_default=None, strict=True, metadata={"description": "The campaign that grants it"})
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=300))

    @validates_schema
    def _shape(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("reward_id") is None and not data.get("name"):
            raise ValidationError("Give reward_id (a catalogue reward) or the coupon's name.", "name")
        if data.get("valid_days") is not None and data.get("expires_at") is not None:
            raise ValidationError("Give valid_days or expires_at, not both.", "expires_at")


class RedeemIn(Schema):
    exchange_for = Id(load_default=None, strict=True, metadata={
        "description": "A full stamp card's reward only: take it as this catalogue reward (one that costs a full "
                       "card)"})
    store_id = Id(load_default=None, strict=True, metadata={
        "description": "The store it happens at (a brand key may name one; a store manager must name one of theirs; "
                       "a cashier's is their own)"})


class RewardTransactionOut(Schema):
    id = fields.Integer(metadata={"description": "The ledger entry"})
    type = fields.String(metadata={"description": "reward_buy | reward_grant | reward_redeem"})
    points = fields.Integer(metadata={"description": "reward_buy: minus the cost; else 0"})
    balance = fields.Integer()
    store_id = fields.Integer(allow_none=True)
    cashier_id = fields.Integer(allow_none=True)
    idempotency_key = fields.String()
    created_at = fields.String(metadata={"format": "date-time"})


class RewardOutcomeOut(Schema):
    """Stored with the ledger entry and returned again on a replay."""

    reward = fields.Nested(HeldRewardOut)
    transaction = fields.Nested(RewardTransactionOut)
    exchanged_from = fields.Dict(metadata={
        "description": "A full card's reward taken as a catalogue reward (exchange_for): what it was before "
                       "(reward_id, name, description); an undo of the redemption holds that again"})


# --- errors ------------------------------------------------------------------------------------------


def _problem(error: LoyaltyError) -> Problem:
    if isinstance(error, rewards.RewardNotFound):
        return Problem(404, "Reward not found", str(error), type_="/problems/reward-not-found")
    if isinstance(error, rewards.RewardAlreadyRedeemed):
        return Problem(409, "Reward already redeemed", str(error), type_="/problems/reward-redeemed",
                       redeemed_at=error.redeemed_at.isoformat() if error.redeemed_at else None)
    if isinstance(error, rewards.RewardExpired):
        return Problem(409, "Reward expired", str(error), type_="/problems/reward-expired",
                       expires_at=error.expires_at.isoformat())
    if isinstance(error, rewards.RewardCancelled):
        return Problem(409, "Reward cancelled", str(error), type_="/problems/reward-cancelled")
    return transaction_problem(error)


def _answer(outcome: Outcome, action: str) -> Response:
    session = db.session()
    if not outcome.replayed and g.cashier is None and action != "reward.redeemed":
        reward = outcome.response["reward"]
        audit.record(session, g.brand.id, action, "card", reward["card_id"],
                     {"held_reward_id": reward["id"], "name": reward["name"],
                      "ledger_entry_id": outcome.response["transaction"]["id"]})
    session.commit()
    response = jsonify(outcome.response)
    response.status_code = 201
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# --- the catalogue -----------------------------------------------------------------------------------


def _catalogue_reward(program: Program, reward_id: int) -> CatalogueReward:
    reward = db.session().get(CatalogueReward, reward_id)
    if reward is None or reward.program_id != program.id:
        raise Problem(404, "Reward not found", f"No reward {reward_id} in program {program.id}.",
                      type_="/problems/reward-not-found")
    return reward


def _check(program: Program, reward: CatalogueReward) -> None:
    if errors := rewards.catalogue_problems(program, reward):
        db.session().rollback()
        raise validation_problem(errors)


_EXAMPLE = {"name": "Free coffee", "description": "Any coffee, any size", "cost_points": 150, "valid_days": 30}


@blp.route("/programs/<int:program_id>/rewards", methods=["GET"])
@require_brand_or_cashier
@requires("read")
@blp.response(200, CatalogueRewardOut(many=True))
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
@blp.doc(security=BOTH_AUTH)
def list_catalogue(program_id: int) -> Any:
    """The program's reward catalogue (inactive rewards too, marked `active: false`)."""
    return rewards.catalogue(db.session(), brand_program(program_id).id)


@blp.route("/programs/<int:program_id>/rewards", methods=["POST"])
@require_brand
@requires("design")
@blp.arguments(CatalogueRewardIn, example=_EXAMPLE)
@blp.response(201, CatalogueRewardOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
@blp.alt_response(422, schema=ProblemOut, content_type=PROBLEM,
                  description="Invalid; or a cost the program's kind cannot pay (points on a stamp card)")
def create_catalogue_reward(body: dict[str, Any], program_id: int) -> Any:
    """Add a reward to the catalogue: bought with points (`cost_points`), a full stamp card's choice
    (`costs_full_card`), or neither (a coupon the brand grants)."""
    program = brand_program(program_id)
    now = utcnow()
    reward = CatalogueReward(brand_id=g.brand.id, program_id=program.id, created_at=now, updated_at=now, **body)
    _check(program, reward)
    session = db.session()
    session.add(reward)
    session.flush()
    audit.record(session, g.brand.id, "reward.created", "reward", reward.id, {"program_id": program.id, **body})
    session.commit()
    return reward


@blp.route("/programs/<int:program_id>/rewards/<int:reward_id>", methods=["GET"])
@require_brand_or_cashier
@requires("read")
@blp.response(200, CatalogueRewardOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program or reward")
@blp.doc(security=BOTH_AUTH)
def get_catalogue_reward(program_id: int, reward_id: int) -> Any:
    """One catalogue reward."""
    return _catalogue_reward(brand_program(program_id), reward_id)


@blp.route("/programs/<int:program_id>/rewards/<int:reward_id>", methods=["PATCH"])
@require_brand
@requires("design")
@blp.arguments(CatalogueRewardPatch, example={"cost_points": 120, "active": True})
@blp.response(200, CatalogueRewardOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program or reward")
def patch_catalogue_reward(body: dict[str, Any], program_id: int, reward_id: int) -> Any:
    """Change a catalogue reward. What cards already hold keeps its name and end date."""
    program = brand_program(program_id)
    reward = _catalogue_reward(program, reward_id)
    before = audit.snapshot(reward, body)
    for key, value in body.items():
        setattr(reward, key, value)
    reward.updated_at = utcnow()
    _check(program, reward)
    if changes := audit.diff(before, audit.snapshot(reward, body)):
        audit.record(db.session(), g.brand.id, "reward.updated", "reward", reward.id, changes)
    db.session().commit()
    return reward


@blp.route("/programs/<int:program_id>/rewards/<int:reward_id>", methods=["DELETE"])
@require_brand
@requires("design")
@blp.response(200, CatalogueRewardOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program or reward")
def delete_catalogue_reward(program_id: int, reward_id: int) -> Any:
    """Take a reward out of the catalogue (`active: false`): no longer bought or granted; what cards
    already hold stays redeemable until its end."""
    program = brand_program(program_id)
    reward = _catalogue_reward(program, reward_id)
    if reward.active:
        reward.active = False
        reward.updated_at = utcnow()
        audit.record(db.session(), g.brand.id, "reward.deactivated", "reward", reward.id, {})
    db.session().commit()
    return reward


# --- a card's rewards ----------------------------------------------------------------------------------


@blp.route("/cards/<int:card_id>/rewards", methods=["GET"])
@require_brand_or_cashier
@requires("read")
@blp.arguments(HeldRewardsQuery, location="query")
@blp.response(200, HeldRewardOut(many=True))
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such card in your brand")
@blp.doc(security=BOTH_AUTH)
def list_held(query: dict[str, Any], card_id: int) -> Any:
    """What the card holds: by default what it can redeem now (soonest to expire first); with
    `state=all` every reward it has held, redeemed, expired and cancelled ones too (newest first)."""
    card = brand_card(card_id)
    session, now = db.session(), utcnow()
    held = (rewards.redeemable(session, card.id, now) if query["state"] == "redeemable"
            else rewards.held_rewards(session, card.id))
    return [rewards.reward_view(reward, now) for reward in held]


@blp.route("/cards/<int:card_id>/rewards", methods=["POST"])
@require_brand_or_cashier
@requires("cashier")  # spending points is the counter's; a marketer grants coupons instead
@blp.arguments(BuyIn, example={"reward_id": 3})
@blp.response(201, RewardOutcomeOut, description="Bought (or, with Idempotent-Replayed: true, bought before)")
@blp.alt_response(400, schema=ProblemOut, content_type=PROBLEM, description="Idempotency-Key missing or malformed")
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such card, or reward")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="Insufficient balance (nothing bought), or the card is voided")
@blp.alt_response(422, schema=ProblemOut, content_type=PROBLEM,
                  description="Not sold for points, inactive, or the key was used with another body")
@blp.doc(parameters=[_KEY_PARAMETER], security=BOTH_AUTH)
def buy(body: dict[str, Any], card_id: int) -> Response:
    """Buy a catalogue reward with the card's points: a `reward_buy` ledger entry of minus its
    cost, and the reward held (on the pass) until redeemed or its end."""
    key = idempotency_key()
    actor = _actor(body.get("store_id"))
    session = db.session()
    try:
        outcome = rewards.buy(session, card_id, body["reward_id"], key, actor=actor, brand_id=g.brand.id)
    except LoyaltyError as error:
        session.rollback()
        raise _problem(error) from None
    return _answer(outcome, "reward.bought")


@blp.route("/cards/<int:card_id>/coupons", methods=["POST"])
@require_brand
@requires("campaigns", also="members")
@blp.arguments(CouponIn, example={"name": "Birthday cake", "valid_days": 14, "origin": "birthday"})
@blp.response(201, RewardOutcomeOut, description="Granted (or, with Idempotent-Replayed: true, granted before)")
@blp.alt_response(400, schema=ProblemOut, content_type=PROBLEM, description="Idempotency-Key missing or malformed")
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such card, or catalogue reward")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM, description="The card is voided")
@blp.alt_response(422, schema=ProblemOut, content_type=PROBLEM, description="Invalid body, or the key was reused")
@blp.doc(parameters=[_KEY_PARAMETER])
def grant(body: dict[str, Any], card_id: int) -> Response:
    """Grant a coupon: a catalogue reward (`reward_id`, whatever it costs: a gift) or one named here.
    It shows on the pass and at the till until redeemed or its end (`valid_days` or `expires_at`;
    default the catalogue reward's; none: no end)."""
    key = idempotency_key()
    if body.get("campaign_id") is not None:
        campaign = db.session().get(Campaign, body["campaign_id"])
        if campaign is None or campaign.brand_id != g.brand.id:
            raise validation_problem([{"field": "campaign_id", "message": "No such campaign in your brand."}])
    session = db.session()
    try:
        outcome = rewards.grant(session, card_id, rewards.CouponSpec(**body), key, brand_id=g.brand.id)
    except LoyaltyError as error:
        session.rollback()
        raise _problem(error) from None
    return _answer(outcome, "reward.granted")


@blp.route("/cards/<int:card_id>/rewards/<int:held_id>/redeem", methods=["POST"])
@require_brand_or_cashier
@requires("cashier")
@blp.arguments(RedeemIn, example={})
@blp.response(201, RewardOutcomeOut, description="Redeemed (or, with Idempotent-Replayed: true, redeemed before "
                                                 "with this key)")
@blp.alt_response(400, schema=ProblemOut, content_type=PROBLEM, description="Idempotency-Key missing or malformed")
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such card, or held reward on it")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="Already redeemed (`/problems/reward-redeemed`), expired (`/problems/reward-expired`), "
                              "cancelled, or the card is voided")
@blp.alt_response(422, schema=ProblemOut, content_type=PROBLEM, description="Invalid exchange, or the key was reused")
@blp.doc(parameters=[_KEY_PARAMETER], security=BOTH_AUTH)
def redeem(body: dict[str, Any], card_id: int, held_id: int) -> Response:
    """Redeem a held reward at the counter: once (a second redemption is a 409, whoever tries),
    never after its end, never on a voided card. A `reward_redeem` ledger entry of 0 points records
    where and by whom."""
    key = idempotency_key()
    actor = _actor(body.get("store_id"))
    session = db.session()
    try:
        outcome = rewards.redeem(session, card_id, held_id, key, actor=actor, brand_id=g.brand.id,
                                 exchange_for=body.get("exchange_for"))
    except LoyaltyError as error:
        session.rollback()
        raise _problem(error) from None
    return _answer(outcome, "reward.redeemed")


@blp.route("/cards/<int:card_id>/rewards/<int:held_id>", methods=["DELETE"])
@require_brand
@requires("members")
@blp.response(200, HeldRewardOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such card, or held reward on it")
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM, description="Already redeemed")
def cancel(card_id: int, held_id: int) -> Any:
    """Take back a reward the card holds (e.g. a coupon granted by mistake): cancelled, off the
    pass and the till. Points paid for it are not refunded here (post an `earn` if you mean to)."""
    session = db.session()
    try:
        held = rewards.cancel(session, card_id, held_id, brand_id=g.brand.id)
    except LoyaltyError as error:
        session.rollback()
        raise _problem(error) from None
    audit.record(session, g.brand.id, "reward.cancelled", "card", card_id, {"held_reward_id": held.id,
                                                                             "name": held.name})
    session.commit()
    return rewards.reward_view(held)
