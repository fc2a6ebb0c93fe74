"""Campaigns: messages to an audience, geo campaigns, their reports; birthday settings."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

from flask import Response, g
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.cards import brand_program
from service.api.fields import DecimalText
from service.api.pagination import LINK_HEADER, PageQuery, decode_cursor, link_next
from service.api.tenancy import brand_row
from service.campaigns import geo, segments, tasks
from service.campaigns.holdout import DEFAULT_PERCENT, MAX_PERCENT
from service.campaigns.report import HOLDOUT_STATE, LIFT_COLUMNS, STATES, lift_rows, recipients, report
from service.models import Campaign, CatalogueReward, Program, Store, Tier, utcnow
from service.platform import db
from service.platform.csv_cells import safe_cell
from service.web.problems import Problem, validation_problem

blp = Blueprint("campaigns", __name__, url_prefix="/api/v1", description="Campaigns, geo campaigns, birthdays")

MESSAGE_LENGTH = validate.Length(min=1, max=1000)
LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")  # en, ru, pt-BR, zh-Hans
UTC_DATETIME = {"format": "iso", "default_timezone": dt.UTC}
#: A send_at this much in the past is taken as "now" (clocks differ a little); earlier is refused.
CLOCK_SKEW = dt.timedelta(minutes=1)
PAST_SEND_AT = "is in the past; give a time to come, or send_now: true to send now"


class AudienceIn(Schema):
    audience = fields.Dict(required=True, metadata={
        "description": 'One rule per object: {"all_cards": true}, {"card_ids": [..]}, {"program_id": N}, '
                       '{"new": {"days": N}}, {"active": {"days": N}}, {"lapsed": {"days": N}}, '
                       '{"tier": ["Gold"]}, {"birthday": "week"|"month"}, {"all": [..]}, {"any": [..]}, '
                       '{"not": rule}', "example": {"all": [{"tier": ["Gold"]}, {"lapsed": {"days": 60}}]}})


class CountOut(Schema):
    count = fields.Integer()


class CampaignCouponIn(Schema):
    """A coupon every recipient gets with the message (and on the pass until redeemed or its end)."""

    reward_id = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=2**31 - 1),
                               metadata={"description": "A catalogue reward (only cards of its program get it)"})
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=100), metadata={
        "description": "Without reward_id: the coupon's name", "example": "Free pastry"})
    description = fields.String(load_default=None, validate=validate.Length(max=500))
    valid_days = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=3650))

    @validates_schema
    def _named(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("reward_id") is None and not data.get("name"):
            raise ValidationError("Give reward_id (a catalogue reward) or the coupon's name.", "name")


class CampaignIn(AudienceIn):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    message = fields.String(required=True, validate=MESSAGE_LENGTH, metadata={
        "description": "Shown on the lock screen and in the pass's News field (default language)"})
    messages = fields.Dict(keys=fields.String(), values=fields.String(validate=MESSAGE_LENGTH), load_default=dict,
                           metadata={"description": "Per-language variants, by the customer's language",
                                     "example": {"ru": "Двойные баллы в эти выходные"}})
    send_at = fields.AwareDateTime(load_default=None, allow_none=True, **UTC_DATETIME,
                                   metadata={"description": "When to send; omit with send_now false for a draft"})
    send_now = fields.Boolean(load_default=False)
    holdout_percent = fields.Integer(
        load_default=DEFAULT_PERCENT, strict=True, validate=validate.Range(min=0, max=MAX_PERCENT), metadata={
            "description": "The share of the audience kept back, chosen by hash (SHA-256 of the report's "
                           "holdout.salt and the card id): recorded, sent nothing, and compared with the rest to "
                           "measure the lift. 0: no holdout (the report then says its figures are not causal)"})
    cost = DecimalText(places=2, load_default=None, allow_none=True,
                       validate=validate.Range(min=Decimal(0), max=Decimal("1000000000")), metadata={
                           "description": "Money you count against the campaign (its offer, its production), "
                                          "in the program's currency; the report's ROMI needs it", "example": "150.00"})
    coupon = fields.Nested(CampaignCouponIn, load_default=None, allow_none=True, metadata={
        "description": "A coupon each recipient gets with the message (rewards and coupons)"})

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        bad = [key for key in data.get("messages", {}) if not LANGUAGE.fullmatch(key)]
        if bad:
            raise ValidationError(f"not language codes: {', '.join(bad)}", "messages")
        if data.get("send_now") and data.get("send_at"):
            raise ValidationError("give send_at or send_now, not both", "send_at")


class ScheduleIn(Schema):
    send_at = fields.AwareDateTime(load_default=None, allow_none=True, **UTC_DATETIME,
                                   metadata={"description": "Omit to send now"})


class GeoCampaignIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    store_ids = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1)),
                            required=True, validate=validate.Length(min=1, max=100))
    relevant_text = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "example": "Today -20% on coffee here"})
    starts_at = fields.AwareDateTime(load_default=None, allow_none=True, **UTC_DATETIME,
                                     metadata={"description": "Omit to start now"})
    ends_at = fields.AwareDateTime(required=True, **UTC_DATETIME)


class CampaignOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "message | geo | restock"})
    name = fields.String()
    status = fields.String(metadata={"description": "draft | scheduled | sending | finished | cancelled; "
                                                    "geo: scheduled | starting | running | ending | finished"})
    message = fields.String(allow_none=True)
    messages = fields.Dict()
    audience = fields.Dict()
    coupon = fields.Dict(allow_none=True, metadata={"description": "The coupon recipients get (null: none)"})
    send_at = fields.DateTime(allow_none=True)
    store_ids = fields.List(fields.Integer())
    relevant_text = fields.String(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    audience_count = fields.Integer(allow_none=True, metadata={
        "description": "Cards the audience holds now (one message campaign before sending; null in lists)"})
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    holdout_percent = fields.Integer(metadata={"description": "The share of the audience kept back (0: none)"})
    cost = DecimalText(allow_none=True, metadata={"description": "Money counted against the campaign, for ROMI"})


class PlatformOut(Schema):
    pushes = fields.Integer()
    sent = fields.Integer()
    accepted = fields.Integer()
    confirmed = fields.Integer()
    failed = fields.Integer()
    pending = fields.Integer()
    not_sent = fields.Integer(metadata={
        "description": "Never left this server: no relay configured for the phone's app, or Google Wallet not "
                       "configured (included in failed for relays, with the reason)"})
    failure_reasons = fields.Dict(keys=fields.String(), values=fields.Integer())
    notified = fields.Integer(metadata={"description": "google: messages that notified"})
    silent = fields.Integer(metadata={"description": "google: messages shown without notifying (quota)"})


class PacedOut(Schema):
    """What the messaging rules (frequency cap, quiet hours, opt-out) did to the campaign."""

    deferred = fields.Integer(metadata={"description": "Recipients held back now, sent when their time comes"})
    deferred_reasons = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                   metadata={"description": "Deferred ones by reason: cap | quiet_hours"})
    sent_later = fields.Integer(metadata={"description": "Deferred, then sent"})
    dropped = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Recipients never sent it, by reason: cap, quiet_hours, opted_out (always given); "
                       "voided, cancelled when they occur",
        "example": {"cap": 3, "quiet_hours": 0, "opted_out": 1}})
class GroupOut(Schema):
    recipients = fields.Integer(metadata={"description": "Cards of the group recorded"})
    reachable = fields.Integer(metadata={"description": "Of them, cards with a phone registration or a Google "
                                                        "Wallet object when the campaign came to them"})
    reached = fields.Integer(metadata={"description": "treated: cards whose push a vendor took or whose Google "
                                                      "message was sent; holdout: cards that would have been "
                                                      "reachable (= reachable)"})
    compared = fields.Integer(metadata={"description": "The cards the figures below count: the reachable ones"})
    buyers = fields.Integer(metadata={"description": "Compared cards that bought in the attribution window"})
    purchases = fields.Integer()
    revenue = fields.String()
    conversion = fields.Float(allow_none=True, metadata={"description": "buyers / compared"})
    revenue_per_card = fields.String(allow_none=True, metadata={"description": "revenue / compared"})


class HoldoutOut(GroupOut):
    percent = fields.Integer(metadata={"description": "The share asked for (0: no holdout)"})
    salt = fields.String(metadata={"description": "A card is held back when the first 8 bytes of "
                                                  "SHA-256(salt + ':' + card id), modulo 10000, are below "
                                                  "percent x 100"})


class IntervalOut(Schema):
    estimate = fields.Raw(metadata={"description": "A number (rates) or a decimal string (money)"})
    low = fields.Raw(metadata={"description": "The 95 % interval's lower end"})
    high = fields.Raw()
    significant = fields.Boolean(metadata={"description": "The interval excludes 0"})


class RomiOut(Schema):
    estimate = fields.Float()
    low = fields.Float()
    high = fields.Float()


class LiftOut(Schema):
    causal = fields.Boolean(metadata={"description": "False without a holdout (or with an empty one): the "
                                                     "figures then show correlation, not what the campaign caused"})
    note = fields.String(allow_none=True, metadata={
        "description": "Why it is not causal, in words; when causal: that few buyers (under 10 a side) make the "
                       "interval rough"})
    confidence = fields.Float(metadata={"example": 0.95})
    conversion_difference = fields.Nested(IntervalOut, allow_none=True, metadata={
        "description": "Treated minus holdout conversion (normal approximation)"})
    revenue_per_card_difference = fields.Nested(IntervalOut, allow_none=True, metadata={
        "description": "Treated minus holdout revenue per card (Welch, normal approximation)"})
    incremental_revenue = fields.Nested(IntervalOut, allow_none=True, metadata={
        "description": "revenue_per_card_difference x treated compared cards"})
    incremental_buyers = fields.Nested(IntervalOut, allow_none=True)
    relative_uplift = fields.Float(allow_none=True, metadata={
        "description": "revenue_per_card_difference / holdout revenue per card"})
    cost = fields.String(allow_none=True, metadata={"description": "The campaign's cost (null: not given)"})
    romi = fields.Nested(RomiOut, allow_none=True, metadata={
        "description": "(incremental revenue - cost) / cost; null without a cost"})
    window_days = fields.Integer(metadata={"description": "The attribution window, from the campaign's start"})
    window_ends_at = fields.DateTime(allow_none=True)
    window_closed = fields.Boolean(metadata={"description": "False: purchases may still come in"})
    currency = fields.String()


class ReportOut(PlatformOut):
    campaign_id = fields.Integer()
    status = fields.String()
    targeted = fields.Integer(metadata={"description": "Cards sent the campaign (the holdout not included)"})
    cards_with_devices = fields.Integer()
    platforms = fields.Dict(keys=fields.String(), values=fields.Nested(PlatformOut),
                            metadata={"description": "apple | fcm | relay | google"})
    paced = fields.Nested(PacedOut)
    treated = fields.Nested(GroupOut, metadata={"description": "The cards sent the campaign"})
    holdout = fields.Nested(HoldoutOut, metadata={"description": "The cards kept back, and their figures"})
    lift = fields.Nested(LiftOut)


class PushOut(Schema):
    platform = fields.String(metadata={"description": "apple | fcm | relay | google"})
    app = fields.String(allow_none=True, metadata={"description": "relay: the wallet app"})
    status = fields.String(metadata={"description": "the delivery's own status (queued, accepted, confirmed, "
                                                    "unreachable...; google: queued, sent, dev, failed)"})
    state = fields.String(metadata={"description": " | ".join(STATES[:-1])})
    reason = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)


class RecipientPacedOut(Schema):
    state = fields.String(metadata={"description": "deferred | dropped | sent (deferred, then sent)"})
    reason = fields.String(metadata={"description": "cap | quiet_hours | opted_out | voided | cancelled"})
    defer_until = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)


class RecipientOut(Schema):
    id = fields.Integer()
    card_id = fields.Integer()
    card_number = fields.String()
    customer_name = fields.String()
    language = fields.String(allow_none=True)
    recorded_at = fields.DateTime(metadata={"description": "When the campaign reached the card"})
    holdout = fields.Boolean(metadata={"description": "Kept back for the holdout: recorded, sent nothing"})
    reachable = fields.Boolean(allow_none=True, metadata={
        "description": "Had a phone registration or Google object then (null: recorded before this was kept)"})
    state = fields.String(metadata={"description": "The best its devices reached: " + " | ".join(STATES)
                                    + " (no_device: the pass shows the message when next opened); "
                                    + HOLDOUT_STATE + ": kept back, sent nothing"})
    reasons = fields.List(fields.String(), metadata={"description": "Why, when the state is a failure"})
    pushes = fields.List(fields.Nested(PushOut))
    paced = fields.Nested(RecipientPacedOut, allow_none=True, metadata={
        "description": "What the messaging rules did (null: sent at once); a held recipient without pushes "
                       "has state deferred or dropped"})


class BirthdayIn(Schema):
    points = fields.Integer(load_default=None, allow_none=True, strict=True,
                            validate=validate.Range(min=0, max=1_000_000))
    message = fields.String(load_default=None, allow_none=True, validate=MESSAGE_LENGTH,
                            metadata={"example": "Happy birthday, {name}! 100 points are on your card."})
    reward_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                               validate=validate.Range(min=1, max=2**31 - 1), metadata={
                                   "description": "A catalogue reward of this program given as a coupon (origin "
                                                  "birthday; its valid_days are the coupon's)"})


class BirthdayOut(Schema):
    program_id = fields.Integer()
    points = fields.Integer(allow_none=True)
    message = fields.String(allow_none=True)
    reward_id = fields.Integer(allow_none=True, metadata={"description": "The birthday coupon (null: none)"})


def brand_campaign(campaign_id: int) -> Campaign:
    return brand_row(Campaign, campaign_id, "campaign")


def _audience(audience: dict[str, Any]) -> dict[str, Any]:
    errors = segments.validate(audience)
    if errors:
        raise validation_problem(errors)
    program_ids = _program_ids(audience)
    for program_id in program_ids:
        brand_program(program_id)  # 404 for another brand's program
    _check_tiers(audience)
    return audience


def _tier_rules(audience: Any, path: str = "audience") -> list[tuple[str, list[str]]]:
    """Each tier rule of a (valid) audience with its JSON path, as segments.validate names them."""
    (rule, value), = audience.items()
    where = f"{path}.{rule}"
    if rule == "tier":
        return [(where, value)]
    if rule in ("all", "any"):
        return [found for index, child in enumerate(value) for found in _tier_rules(child, f"{where}[{index}]")]
    if rule == "not":
        return _tier_rules(value, where)
    return []


def _check_tiers(audience: dict[str, Any]) -> None:
    """A tier name none of the brand's programs has matches no card: a typo, not an empty
    audience, so it is refused by name (tier names are matched exactly, as cards carry them)."""
    rules = _tier_rules(audience)
    if not rules:
        return
    known = sorted(set(db.session().scalars(
        select(Tier.name).join(Program, Program.id == Tier.program_id).where(Program.brand_id == g.brand.id))))
    listed = ", ".join(known) if known else "none"
    errors = [{"field": path, "message": f'unknown tier "{name}"; your programs\' tiers are: {listed}'}
              for path, names in rules for name in dict.fromkeys(names) if name not in known]
    if errors:
        raise validation_problem(errors)


def _future_send_at(send_at: dt.datetime | None) -> dt.datetime | None:
    """send_at as given; a time already past is refused (it would be sent at once, unasked)."""
    if send_at is not None and send_at < utcnow() - CLOCK_SKEW:
        raise validation_problem([{"field": "send_at", "message": PAST_SEND_AT}])
    return send_at


def _program_ids(audience: Any) -> list[int]:
    (rule, value), = audience.items()
    if rule == "program_id":
        return [value]
    if rule in ("all", "any"):
        return [pid for child in value for pid in _program_ids(child)]
    if rule == "not":
        return _program_ids(value)
    return []


def campaign_view(campaign: Campaign, *, count: bool = True) -> dict[str, Any]:
    """The campaign; with the audience's current size while it is still to be sent (not in lists:
    counting a large audience is a query of its own)."""
    view = {key: getattr(campaign, key) for key in CampaignOut._declared_fields if key != "audience_count"}
    view["audience_count"] = None
    if count and campaign.kind == "message" and campaign.status in ("draft", "scheduled"):
        view["audience_count"] = segments.count(db.session(), campaign.brand_id, campaign.audience, utcnow())
    return view


@blp.route("/campaigns/preview", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.arguments(AudienceIn, example={"audience": {"all": [{"tier": ["Gold"]}, {"lapsed": {"days": 60}}]}})
@blp.response(200, CountOut)
def preview(body: dict[str, Any]) -> Any:
    """How many cards an audience holds now (nothing is sent)."""
    audience = _audience(body["audience"])
    return {"count": segments.count(db.session(), g.brand.id, audience, utcnow())}


@blp.route("/campaigns", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.arguments(CampaignIn, example={
    "name": "Weekend", "audience": {"any": [{"new": {"days": 30}}, {"tier": ["Gold"]}]},
    "message": "Double points this weekend", "messages": {"ru": "Двойные баллы в эти выходные"},
    "send_at": "2026-12-05T08:00:00Z", "holdout_percent": 10})
@blp.response(201, CampaignOut)
def create(body: dict[str, Any]) -> Any:
    """A message campaign: a draft, scheduled (send_at), or sent now (send_now).

    `holdout_percent` (default 10) of the audience is kept back by hash and sent nothing, so
    that the report can measure what the campaign caused (its `lift`); 0 keeps nobody back."""
    session = db.session()
    audience = _audience(body["audience"])
    send_at = utcnow() if body["send_now"] else _future_send_at(body["send_at"])
    coupon = _coupon(body.get("coupon"))
    campaign = Campaign(brand_id=g.brand.id, kind="message", name=body["name"], message=body["message"],
                        messages=body["messages"], audience=audience, send_at=send_at, coupon=coupon,
                        status="scheduled" if send_at else "draft", holdout_percent=body["holdout_percent"],
                        cost=body["cost"])
    session.add(campaign)
    session.flush()
    audit.record(session, g.brand.id, "campaign.scheduled" if send_at else "campaign.created", "campaign",
                 campaign.id, audit.snapshot(campaign, ("kind", "name", "message", "audience", "coupon", "send_at",
                                                        "status", "holdout_percent", "cost")))
    session.commit()
    _kick(campaign)
    return campaign_view(campaign)


def _coupon(coupon: dict[str, Any] | None) -> dict[str, Any] | None:
    """The campaign's coupon as stored (None values left out); its catalogue reward must be the brand's."""
    if not coupon:
        return None
    if coupon.get("reward_id") is not None:
        reward = db.session().get(CatalogueReward, coupon["reward_id"])
        if reward is None or reward.brand_id != g.brand.id or not reward.active:
            raise validation_problem([{"field": "coupon.reward_id",
                                       "message": "No such reward in your brand's catalogues (or it is retired)."}])
    return {key: value for key, value in coupon.items() if value is not None}


def _kick(campaign: Campaign) -> None:
    """A campaign due now starts at once instead of waiting for the minute's periodic run."""
    if campaign.status == "scheduled" and campaign.send_at is not None and campaign.send_at <= utcnow():
        if campaign.kind == "message":
            tasks.run_campaign(campaign.id)
        elif campaign.kind == "geo":
            tasks.geo_start(campaign.id)
        db.session().expire_all()


@blp.route("/campaigns", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, CampaignOut(many=True))
def list_campaigns() -> Any:
    """The brand's campaigns, newest first (up to 100)."""
    campaigns = db.session().scalars(select(Campaign).where(Campaign.brand_id == g.brand.id)
                                     .order_by(Campaign.id.desc()).limit(100))
    return [campaign_view(campaign, count=False) for campaign in campaigns]


@blp.route("/campaigns/<int:campaign_id>", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, CampaignOut)
def get_campaign(campaign_id: int) -> Any:
    """A campaign: its status, and while it is still to be sent the audience's current size."""
    return campaign_view(brand_campaign(campaign_id))


@blp.route("/campaigns/<int:campaign_id>/send", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.arguments(ScheduleIn, example={"send_at": "2026-12-05T08:00:00Z"})
@blp.response(200, CampaignOut)
def schedule(body: dict[str, Any], campaign_id: int) -> Any:
    """Send a draft now, or at send_at; a scheduled campaign can be moved the same way."""
    campaign = brand_campaign(campaign_id)
    if campaign.kind != "message" or campaign.status not in ("draft", "scheduled"):
        raise Problem(409, "Campaign cannot be scheduled",
                      f"Campaign {campaign.id} is a {campaign.kind} campaign in status {campaign.status}.")
    before = audit.snapshot(campaign, ("send_at", "status"))
    campaign.send_at = _future_send_at(body["send_at"]) or utcnow()
    campaign.status = "scheduled"
    audit.record(db.session(), g.brand.id, "campaign.scheduled", "campaign", campaign.id,
                 audit.diff(before, audit.snapshot(campaign, ("send_at", "status"))))
    db.session().commit()
    _kick(campaign)
    return campaign_view(campaign)


@blp.route("/campaigns/<int:campaign_id>/cancel", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.response(200, CampaignOut)
def cancel(campaign_id: int) -> Any:
    """Stop a campaign: a draft or scheduled one is never sent; a sending one stops after its
    current batch (cards already reached keep the message); a running geo campaign ends now."""
    session = db.session()
    campaign = brand_campaign(campaign_id)
    if campaign.kind == "geo" and campaign.status in ("starting", "running"):
        campaign.ends_at = utcnow()
        audit.record(session, g.brand.id, "campaign.cancelled", "campaign", campaign.id,
                     {"kind": "geo", "status": campaign.status, "ends_at": campaign.ends_at})
        session.commit()
        if campaign.status == "running":
            tasks.geo_end(campaign.id)
            session.expire_all()
        return campaign_view(campaign)
    if campaign.kind == "restock":
        raise Problem(409, "Campaign cannot be cancelled",
                      f"Campaign {campaign.id} tells the subscribers of a restock event; it cannot be cancelled.")
    if campaign.status not in ("draft", "scheduled", "sending"):
        raise Problem(409, "Campaign cannot be cancelled", f"Campaign {campaign.id} is {campaign.status}.")
    audit.record(session, g.brand.id, "campaign.cancelled", "campaign", campaign.id,
                 {"status": {"before": campaign.status, "after": "cancelled"}})
    campaign.status, campaign.finished_at = "cancelled", utcnow()
    session.commit()
    return campaign_view(campaign)


class ReportQuery(Schema):
    format = fields.String(load_default=None, validate=validate.OneOf(["json", "csv"]), metadata={
        "description": "csv: the treated and holdout groups and the lift as a table (figure, treated, holdout, "
                       "difference, low, high, currency)"})


@blp.route("/campaigns/<int:campaign_id>/report", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(ReportQuery, location="query")
@blp.response(200, ReportOut)
def campaign_report(query: dict[str, Any], campaign_id: int) -> Any:
    """Targeted cards, and per platform: pushes sent, accepted, confirmed, failed (with reasons);
    the treated group beside the holdout (buyers, purchases, revenue in the attribution window)
    and the lift: the differences with 95 % intervals, incremental revenue, cost and ROMI.
    `?format=csv`: the groups and the lift as a table."""
    figures = report(db.session(), brand_campaign(campaign_id))
    if query["format"] == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(LIFT_COLUMNS)
        writer.writerows([safe_cell(value) for value in row] for row in lift_rows(figures))
        return Response(out.getvalue(), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="passcast-campaign-{campaign_id}-lift.csv"'})
    return figures


@blp.route("/campaigns/<int:campaign_id>/recipients", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(PageQuery, location="query")
@blp.response(200, RecipientOut(many=True), headers=LINK_HEADER)
def campaign_recipients(query: dict[str, Any], campaign_id: int) -> Any:
    """The cards the campaign reached, oldest first, each with the state of its pushes (fetched,
    pushed, pending, failed or unreachable with the reason, not sent, or no device)."""
    campaign = brand_campaign(campaign_id)
    rows = recipients(db.session(), campaign, decode_cursor(query["cursor"]), query["limit"] + 1)
    if len(rows) > query["limit"]:
        rows = rows[:query["limit"]]
        link_next(rows[-1]["id"])
    return rows


@blp.route("/geo-campaigns", methods=["POST"])
@require_brand
@requires("campaigns")
@blp.arguments(GeoCampaignIn, example={
    "name": "Coffee hour", "store_ids": [1, 2], "relevant_text": "Today -20% on coffee here",
    "starts_at": "2026-12-05T07:00:00Z", "ends_at": "2026-12-05T11:00:00Z"})
@blp.response(201, CampaignOut)
def create_geo(body: dict[str, Any]) -> Any:
    """Change the lock-screen text near some stores for a period; passes return to the default after."""
    session = db.session()
    starts_at = body["starts_at"] or utcnow()
    if body["ends_at"] <= starts_at:
        raise validation_problem([{"field": "ends_at", "message": "must be after starts_at" if body["starts_at"]
                                   else "must be in the future (after starts_at, which defaults to now)"}])
    store_ids = sorted(set(body["store_ids"]))
    found = set(session.scalars(select(Store.id).where(Store.brand_id == g.brand.id, Store.id.in_(store_ids))))
    missing = [store_id for store_id in store_ids if store_id not in found]
    if missing:
        listed = ", ".join(map(str, missing))
        raise validation_problem([{"field": "store_ids", "message": f"no such stores in your brand: {listed}"}])
    clash = geo.overlapping(session, g.brand.id, store_ids, starts_at, body["ends_at"])
    if clash:
        raise Problem(409, "Overlapping geo campaign",
                      f"Geo campaign(s) {clash} already change the text of some of these stores during this "
                      "period; cancel it or choose other stores or times.")
    campaign = Campaign(brand_id=g.brand.id, kind="geo", name=body["name"], store_ids=store_ids,
                        relevant_text=body["relevant_text"], send_at=starts_at, ends_at=body["ends_at"],
                        status="scheduled", audience={})
    session.add(campaign)
    session.flush()
    audit.record(session, g.brand.id, "campaign.scheduled", "campaign", campaign.id,
                 audit.snapshot(campaign, ("kind", "name", "store_ids", "relevant_text", "send_at", "ends_at")))
    session.commit()
    _kick(campaign)
    return campaign_view(campaign)


@blp.route("/programs/<int:program_id>/birthday", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, BirthdayOut)
def get_birthday(program_id: int) -> Any:
    """The program's birthday points and message (null: none)."""
    program = brand_program(program_id)
    return _birthday_view(program)


def _birthday_view(program: Program) -> dict[str, Any]:
    return {"program_id": program.id, "points": program.birthday_points, "message": program.birthday_message,
            "reward_id": program.birthday_reward_id}


@blp.route("/programs/<int:program_id>/birthday", methods=["PUT"])
@require_brand
@requires("campaigns")
@blp.arguments(BirthdayIn, example={"points": 100, "message": "Happy birthday, {name}! 100 points for you."})
@blp.response(200, BirthdayOut)
def put_birthday(body: dict[str, Any], program_id: int) -> Any:
    """Points, a message and/or a coupon (a catalogue reward) on each customer's birthday (daily at
    08:03 UTC, once a year).

    All null switches it off. "{name}" in the message becomes the customer's first name."""
    program = brand_program(program_id)
    if body["points"] and program.kind == "discount":
        raise validation_problem([{"field": "points", "message": "a discount card has no points; send a message"}])
    if body["reward_id"] is not None:
        reward = db.session().get(CatalogueReward, body["reward_id"])
        if reward is None or reward.program_id != program.id or not reward.active:
            raise validation_problem([{"field": "reward_id",
                                       "message": "No such reward in this program's catalogue (or it is retired)."}])
    fields = ("birthday_points", "birthday_message", "birthday_reward_id")
    before = audit.snapshot(program, fields)
    program.birthday_points, program.birthday_message = body["points"] or None, body["message"]
    program.birthday_reward_id = body["reward_id"]
    if changes := audit.diff(before, audit.snapshot(program, fields)):
        audit.record(db.session(), g.brand.id, "program.birthday_updated", "program", program.id, changes)
    db.session().commit()
    return _birthday_view(program)
