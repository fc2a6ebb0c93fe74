"""Schemas of the brand's own resources: stores, card look-up and edits, program rules and
tiers, API keys and webhooks. Each carries examples, so the docs page shows real requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from passes.barcodes import FORMATS as BARCODE_FORMATS
from service.access.scopes import DEFAULT_SCOPE, SCOPES
from service.api.fields import DecimalText, Id, birthday_range
from service.api.pagination import PageQuery
from service.api.schemas import HEX_COLOUR
from service.design.card_design import LABEL_KEYS
from service.design.presets import PRESETS
from service.loyalty import stamps
from service.loyalty.engine import PROGRAM_KINDS, ROUNDING_MODES, TIER_BASES
from service.loyalty.limits import MAX_CAP, MAX_HOURS
from service.webhooks.events import EVENTS, TEST_EVENT

UUID_TEXT = validate.Regexp(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                            error="Use a UUID such as E2C56DB5-DFFB-48D2-B060-D0F5A71096E0.")
PHONE = validate.Regexp(r"^\+?[0-9 ()\-]{5,32}$", error="Use digits, spaces, dashes and an optional leading +.")
UINT16 = validate.Range(min=0, max=65535)


# -- stores ------------------------------------------------------------------------------------


class StoreIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"example": "Demo Coffee Centraal"})
    address = fields.String(load_default="", validate=validate.Length(max=300),
                            metadata={"example": "Stationsplein 1, Amsterdam"})
    latitude = fields.Float(required=True, validate=validate.Range(min=-90, max=90), allow_nan=False,
                            metadata={"example": 52.3791})
    longitude = fields.Float(required=True, validate=validate.Range(min=-180, max=180), allow_nan=False,
                             metadata={"example": 4.9003})
    relevant_text = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200), metadata={
        "description": "Shown on the lock screen near the store", "example": "Show your card for double points"})
    beacon_uuid = fields.String(load_default=None, allow_none=True, validate=UUID_TEXT, metadata={
        "description": "iBeacon proximity UUID in the store (optional)",
        "example": "E2C56DB5-DFFB-48D2-B060-D0F5A71096E0"})
    beacon_major = fields.Integer(load_default=None, allow_none=True, strict=True, validate=UINT16,
                                  metadata={"example": 1})
    beacon_minor = fields.Integer(load_default=None, allow_none=True, strict=True, validate=UINT16,
                                  metadata={"example": 7})
    time_zone = fields.String(load_default=None, allow_none=True,
                              validate=[validate.Length(max=64), lambda name: _time_zone(name)], metadata={
                                  "description": "IANA time zone: quiet hours of the customers whose home store "
                                                 "this is; null: the program's", "example": "Europe/Berlin"})

    @validates_schema
    def _beacon(self, data: dict[str, Any], partial: Any = None, **_kwargs: Any) -> None:
        if data.get("beacon_uuid") is None and (data.get("beacon_major") is not None
                                                or data.get("beacon_minor") is not None):
            raise ValidationError("major/minor need a beacon_uuid.", "beacon_uuid")


class StorePatch(StoreIn):
    """Send only what changes."""


class StoreOut(Schema):
    id = fields.Integer(metadata={"example": 3})
    name = fields.String(metadata={"example": "Demo Coffee Centraal"})
    address = fields.String(metadata={"example": "Stationsplein 1, Amsterdam"})
    latitude = fields.Float(metadata={"example": 52.3791})
    longitude = fields.Float(metadata={"example": 4.9003})
    relevant_text = fields.String(allow_none=True, metadata={"example": "Show your card for double points"})
    beacon_uuid = fields.String(allow_none=True, metadata={"example": "E2C56DB5-DFFB-48D2-B060-D0F5A71096E0"})
    beacon_major = fields.Integer(allow_none=True, metadata={"example": 1})
    beacon_minor = fields.Integer(allow_none=True, metadata={"example": 7})
    time_zone = fields.String(allow_none=True, metadata={"example": "Europe/Berlin"})


class StoreQuery(PageQuery):
    q = fields.String(load_default=None, validate=validate.Length(max=200),
                      metadata={"description": "Only stores whose name contains this"})


# -- cards -------------------------------------------------------------------------------------


class CardQuery(PageQuery):
    serial_number = fields.String(load_default=None, validate=validate.Length(max=64))
    email = fields.String(load_default=None, validate=validate.Length(max=320),
                          metadata={"example": "anna@example.com"})
    phone = fields.String(load_default=None, validate=validate.Length(max=32), metadata={"example": "+31 6 1234 5678"})
    name = fields.String(load_default=None, validate=validate.Length(max=200),
                         metadata={"description": "Holder's name contains this (case-insensitive)"})
    number = fields.String(load_default=None, validate=validate.Length(max=40), metadata={
        "description": "The card number as printed under the QR code (spaces and dashes ignored; the last "
                       "digit is the check digit)", "example": "1234 5678 90"})
    q = fields.String(load_default=None, validate=validate.Length(max=320), metadata={
        "description": "Search box: matches a holder's name (contains), e-mail or phone (exactly, "
                       "case-insensitive e-mail), the card number or the serial number", "example": "anna"})
    program_id = Id(load_default=None)
    tier = fields.String(load_default=None, validate=validate.Length(max=50), metadata={"example": "Gold"})
    voided = fields.Boolean(load_default=None, allow_none=True)


class CardPatch(Schema):
    """The holder's details; what the pass shows is re-rendered and pushed."""

    name = fields.String(validate=validate.Length(min=1, max=200), metadata={"example": "Anna de Vries"})
    email = fields.Email(allow_none=True, validate=validate.Length(max=320), metadata={"example": "anna@example.com"})
    phone = fields.String(allow_none=True, validate=PHONE, metadata={"example": "+31 6 1234 5678"})
    birthday = fields.Date(allow_none=True, validate=birthday_range, metadata={"example": "1990-04-01"})
    language = fields.String(validate=validate.OneOf(["en", "ru"]))
    home_store_id = Id(allow_none=True, strict=True)
    legacy_number = fields.String(allow_none=True, validate=validate.Length(min=1, max=64), metadata={
        "description": "The customer's plastic card number (checked against the program's barcode_format, "
                       "unique in the brand); null removes it", "example": "4006381333931"})


class VoidIn(Schema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=280),
                           metadata={"example": "Customer asked to close the account"})


# -- programs and tiers ------------------------------------------------------------------------


_CLOCK = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", error="Use a local time HH:MM (00:00-24:00).")


def _time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Use an IANA time zone such as Europe/Amsterdam.") from None


class StampRungIn(Schema):
    """One reward along the card: reached at `at` stamps (the one at stamps_required is the full card's)."""

    at = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=stamps.MAX_STAMPS_REQUIRED),
                        metadata={"example": 5})
    reward = fields.String(required=True, validate=validate.Length(min=1, max=100),
                           metadata={"example": "A pastry"})


class HappyHourIn(Schema):
    """Stamps times `multiplier` at these stores (null: all), ISO weekdays (1 Monday .. 7 Sunday) and
    local times [from, to) of the program's time_zone (UTC without one)."""

    stores = fields.List(Id(strict=True), load_default=None, allow_none=True,
                         metadata={"description": "Store ids; null: every store", "example": [3]})
    weekdays = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=7)), required=True,
                           validate=validate.Length(min=1, max=7), metadata={"example": [1, 2, 3, 4, 5]})
    from_ = fields.String(required=True, data_key="from", attribute="from", validate=_CLOCK,
                          metadata={"example": "15:00"})
    to = fields.String(required=True, validate=_CLOCK, metadata={"example": "17:00"})
    multiplier = fields.Integer(required=True, strict=True, validate=validate.Range(min=2, max=stamps.MAX_MULTIPLIER),
                                metadata={"example": 2})


def _percent(**kwargs: Any) -> DecimalText:
    return DecimalText(as_string=True, places=2, validate=validate.Range(min=0, max=100), **kwargs)


class LabelText(Schema):
    """One field's label, per language; a language left out (or blank) keeps Passcast's label."""

    en = fields.String(validate=validate.Length(max=40), metadata={"example": "Beans"})
    ru = fields.String(validate=validate.Length(max=40), metadata={"example": "Зёрна"})


def _label(key: str) -> fields.Nested:
    return fields.Nested(LabelText, metadata={"description": f"The `{key}` field's label (default: "
                                                             f"{LABEL_KEYS[key]!r})"})


class ProgramLabels(Schema):
    """The brand's own field labels, by pass field: sent whole, it replaces the program's labels."""

    balance = _label("balance")
    discount = _label("discount")
    tier = _label("tier")
    holder = _label("holder")
    number = _label("number")
    spend = _label("spend")
    news = _label("news")
    expiry = _label("expiry")
    terms = _label("terms")

    @post_load
    def _drop_blanks(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """A blank label is no label (the console's form sends every box): only set texts are kept."""
        kept = {key: {language: text.strip() for language, text in texts.items() if text.strip()}
                for key, texts in data.items() if texts}
        return {key: texts for key, texts in kept.items() if texts}


class ProgramRules(Schema):
    """What a brand may configure on a program: texts, colours, earn rules, tiers basis, expiry."""

    name = fields.String(validate=validate.Length(min=1, max=200), metadata={"example": "Demo Coffee Rewards"})
    description = fields.String(validate=validate.Length(min=1, max=300), metadata={"example": "Loyalty card"})
    terms = fields.String(validate=validate.Length(max=5000), metadata={"example": "1 euro = 10 points."})
    background_color = fields.String(validate=HEX_COLOUR, metadata={"example": "#3b2417"})
    foreground_color = fields.String(validate=HEX_COLOUR, metadata={"example": "#ffffff"})
    label_color = fields.String(validate=HEX_COLOUR, metadata={"example": "#e8c9a0"})
    labels = fields.Nested(ProgramLabels, allow_none=True, metadata={
        "description": "The brand's own field labels per language, e.g. `{\"balance\": {\"en\": \"Beans\", "
                       "\"ru\": \"Зёрна\"}}`; null or a field left out: Passcast's label"})
    kind = fields.String(validate=validate.OneOf(PROGRAM_KINDS), metadata={"example": "points"})
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="Use an ISO 4217 code such as EUR."),
                             metadata={"example": "EUR", "description": "ISO 4217; default: DEFAULT_CURRENCY (EUR)"})
    points_per_unit = DecimalText(as_string=True, places=4, validate=validate.Range(min=0, max=100000),
                                     metadata={"description": "points programs: points per currency "
                                                                              "unit spent", "example": "10"})
    rounding = fields.String(validate=validate.OneOf(list(ROUNDING_MODES)), metadata={"example": "down"})
    cashback_percent = _percent(metadata={"description": "cashback programs", "example": "5"})
    discount_percent = _percent(metadata={"description": "discount programs", "example": "10"})
    tier_basis = fields.String(validate=validate.OneOf(TIER_BASES), metadata={"example": "lifetime_points"})
    points_expire_days = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=3650),
                                        metadata={"description": "null: points never expire", "example": 365})
    point_value = DecimalText(as_string=True, places=4, allow_none=True,
                              validate=validate.Range(min=Decimal(0), max=Decimal(1000000)), metadata={
                                  "description": "points programs: the money value of one point, what points "
                                                 "a campaign or journey gives cost you (for ROMI); null: not said. "
                                                 "Cashback points are money already (minor units)",
                                  "example": "0.01"})
    # stamp cards (kind "stamps"): docs/brands/stamp-cards.md
    stamps_required = fields.Integer(strict=True, validate=validate.Range(min=1, max=stamps.MAX_STAMPS_REQUIRED),
                                     metadata={"description": "stamps programs: stamps that fill a card",
                                               "example": 10})
    starter_stamps = fields.Integer(strict=True, validate=validate.Range(min=0, max=stamps.MAX_STAMPS_REQUIRED - 1),
                                    metadata={"description": "stamps programs: stamps a new card starts with "
                                                             "(fewer than stamps_required)", "example": 2})
    stamp_rule = fields.String(validate=validate.OneOf(stamps.STAMP_RULES), metadata={
        "description": "stamps programs, what a purchase earns: visit (one stamp), purchase_over (one stamp "
                       "from stamp_rule_amount up), per_amount (one per stamp_rule_amount spent)",
        "example": "visit"})
    stamp_rule_amount = DecimalText(as_string=True, places=2, allow_none=True,
                                    validate=validate.Range(min=Decimal("0.01"), max=Decimal("1000000")),
                                    metadata={"description": "stamps programs: the amount of purchase_over / "
                                                             "per_amount", "example": "5.00"})
    stamp_ladder = fields.List(fields.Nested(StampRungIn), allow_none=True,
                               validate=validate.Length(max=stamps.MAX_LADDER), metadata={
                                   "description": "stamps programs: rewards along the card, `at` increasing "
                                                  "within 1..stamps_required",
                                   "example": [{"at": 5, "reward": "A pastry"}, {"at": 10, "reward": "A coffee"}]})
    happy_hours = fields.List(fields.Nested(HappyHourIn), allow_none=True,
                              validate=validate.Length(max=stamps.MAX_HAPPY_HOURS),
                              metadata={"description": "stamps programs: times that multiply stamps"})
    time_zone = fields.String(allow_none=True, validate=[validate.Length(max=64), _time_zone], metadata={
        "description": "IANA time zone of happy hours and of the daily cap's day; null: UTC",
        "example": "Europe/Amsterdam"})
    # the till's safeguards: docs/brands/till-safeguards.md
    earn_once_per_hours = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_HOURS),
                                         metadata={"description": "At most one earning transaction (earn, stamp, "
                                                                  "purchase) per card every N hours; 24: once a "
                                                                  "day; null: off", "example": 24})
    daily_cap = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_CAP), metadata={
        "description": "At most this many points (stamp cards: stamps; cashback: cents) per card per local day of "
                       "time_zone; null: off", "example": 3})
    per_transaction_cap = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_CAP),
                                         metadata={"description": "At most this many in one transaction; a purchase "
                                                                  "that would earn more is refused; null: off",
                                                   "example": 2})
    undo_window_minutes = fields.Integer(strict=True, validate=validate.Range(min=0, max=24 * 60), metadata={
        "description": "How long a cashier may undo their own transaction at the till (0: never; managers and "
                       "the brand's key may reverse at any time)", "example": 10})
    # cards brands already have: docs/brands/existing-cards.md
    barcode_format = fields.String(validate=validate.OneOf(BARCODE_FORMATS), metadata={
        "description": "The cards' barcode: qr (the signed code, the default) or the symbology of the brand's "
                       "plastic cards, code128 | ean13 | pdf417 | aztec, which then carries each card's "
                       "legacy_number (cards without one keep the signed code; EAN-13 ones as QR)",
        "example": "ean13"})


#: Program fields only a stamp-card program may set.
STAMP_FIELDS = ("stamps_required", "starter_stamps", "stamp_rule", "stamp_rule_amount", "stamp_ladder",
                "happy_hours")


class ProgramIn(ProgramRules):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"example": "Demo Coffee Rewards"})
    pass_type_identifier = fields.String(validate=validate.Regexp(r"^pass\.[A-Za-z0-9.\-]{1,190}$"), metadata={
        "description": "Defaults to the development identifier until you upload a certificate",
        "example": "pass.com.democoffee.loyalty"})
    team_identifier = fields.String(validate=validate.Regexp(r"^[A-Z0-9]{10}$"), metadata={"example": "ABCDE12345"})
    preset = fields.String(validate=validate.OneOf(list(PRESETS)), metadata={
        "description": "A ready-made design to start from (colours, strip, description, terms); "
                       "fields sent alongside win", "example": "cafe"})


class TierIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={"example": "Gold"})
    threshold = DecimalText(required=True, as_string=True, places=2,
                               validate=validate.Range(min=0, max=1_000_000_000), metadata={
                                   "description": "Reached at this much of the program's tier_basis",
                                   "example": "500"})
    earn_multiplier = DecimalText(load_default=None, as_string=True, places=3,
                                     validate=validate.Range(min=0, max=100),
                                     metadata={"example": "1.25"})
    discount_percent = _percent(load_default=None, allow_none=True, metadata={"example": "10"})
    background_color = fields.String(load_default=None, allow_none=True, validate=HEX_COLOUR,
                                     metadata={"example": "#7c5e10"})
    foreground_color = fields.String(load_default=None, allow_none=True, validate=HEX_COLOUR,
                                     metadata={"example": "#ffffff"})
    label_color = fields.String(load_default=None, allow_none=True, validate=HEX_COLOUR,
                                metadata={"example": "#fde68a"})


class TierPatch(TierIn):
    """Send only what changes."""


class TierOut(Schema):
    id = fields.Integer(metadata={"example": 2})
    program_id = fields.Integer(metadata={"example": 1})
    name = fields.String(metadata={"example": "Gold"})
    threshold = DecimalText(as_string=True, metadata={"example": "500.00"})
    earn_multiplier = DecimalText(as_string=True, metadata={"example": "1.250"})
    discount_percent = DecimalText(as_string=True, allow_none=True, metadata={"example": None})
    background_color = fields.String(allow_none=True, metadata={"example": "#7c5e10"})
    foreground_color = fields.String(allow_none=True)
    label_color = fields.String(allow_none=True, metadata={"example": "#fde68a"})
    has_strip = fields.Function(lambda tier: tier.strip_png is not None, metadata={
        "type": "boolean", "description": "The tier has its own strip image (PUT .../tiers/{id}/strip)",
        "example": False})


# -- API keys ----------------------------------------------------------------------------------


_SCOPE_HELP = ("What the key may do: `read_only` (every GET), `cashier` (read, scan, counter transactions), "
               "`campaigns` (read, campaigns, geo, birthday, back-in-stock, NPS surveys, journeys), "
               "`full` (everything)")


class ApiKeyIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"example": "POS sync"})
    scope = fields.String(load_default=DEFAULT_SCOPE, validate=validate.OneOf(sorted(SCOPES)),
                          metadata={"description": _SCOPE_HELP + "; default `full`", "example": "cashier"})


class ApiKeyOut(Schema):
    id = fields.Integer(metadata={"example": 4})
    name = fields.String(metadata={"example": "POS sync"})
    prefix = fields.String(metadata={"description": "Public part of the key (`pk_<prefix>_...`)",
                                     "example": "a1b2c3d4e5f6"})
    scope = fields.String(metadata={"description": _SCOPE_HELP, "example": "cashier"})
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyCreatedOut(ApiKeyOut):
    key = fields.String(metadata={"description": "The secret: shown this once, store it now",
                                  "example": "pk_a1b2c3d4e5f6_3q2-7wEAAAAAbGlrZSB0aGlzIGtleSBpcyBzZWNyZXQ"})


# -- webhooks ----------------------------------------------------------------------------------

_EVENT = fields.String(validate=validate.OneOf((*EVENTS, "*")))


class WebhookIn(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False,
                     validate=validate.Length(max=2000), metadata={"example": "https://example.com/passcast-hooks"})
    events = fields.List(_EVENT, required=True, validate=validate.Length(min=1, max=len(EVENTS) + 1), metadata={
        "description": f"Any of {', '.join(EVENTS)}; `*` for all", "example": ["card.issued", "transaction.created"]})
    description = fields.String(load_default="", validate=validate.Length(max=200), metadata={"example": "CRM sync"})
    active = fields.Boolean(load_default=True)


class WebhookPatch(WebhookIn):
    """Send only what changes."""


class WebhookOut(Schema):
    id = fields.Integer(metadata={"example": 1})
    url = fields.String(metadata={"example": "https://example.com/passcast-hooks"})
    events = fields.List(fields.String(), metadata={"example": ["card.issued", "transaction.created"]})
    description = fields.String(metadata={"example": "CRM sync"})
    active = fields.Boolean(metadata={"example": True})
    created_at = fields.DateTime()


class WebhookCreatedOut(WebhookOut):
    secret = fields.String(metadata={
        "description": "Signing secret: verify `Passcast-Signature` with it; shown this once",
        "example": "whsec_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"})


class WebhookDeliveryOut(Schema):
    id = fields.Integer(metadata={"example": 17})
    endpoint_id = fields.Integer(metadata={"example": 1})
    event_id = fields.String(attribute="event.uid", metadata={"example": "0b8f8f0e-4c1c-4f53-9a57-3f2a1f0c9d11"})
    event = fields.String(attribute="event.type", metadata={"example": "transaction.created"})
    status = fields.String(metadata={"description": "queued | sending | retry | delivered | failed",
                                     "example": "delivered"})
    attempts = fields.Integer(metadata={"example": 1})
    response_status = fields.Integer(allow_none=True, metadata={"example": 200})
    error = fields.String(allow_none=True, metadata={"example": None})
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    last_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    payload = fields.Method("_payload", metadata={"description": "The JSON body that was (or will be) sent"})

    def _payload(self, delivery: Any) -> dict[str, Any]:
        from service.webhooks.events import payload_of

        return payload_of(delivery.event)


class WebhookDeliveryQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ("queued", "sending", "retry", "delivered", "failed")))
    event = fields.String(load_default=None, validate=validate.OneOf((*EVENTS, TEST_EVENT)))


# -- errors ------------------------------------------------------------------------------------


class FieldErrorOut(Schema):
    field = fields.String(metadata={"example": "latitude"})
    message = fields.String(metadata={"example": "Must be greater than or equal to -90 and less than or equal to 90."})


class ProblemOut(Schema):
    """RFC 9457 problem details: every error of the API has this shape (application/problem+json)."""

    type = fields.String(metadata={"example": "/problems/validation"})
    title = fields.String(metadata={"example": "Invalid request"})
    status = fields.Integer(metadata={"example": 422})
    detail = fields.String(metadata={"example": "latitude: Must be greater than or equal to -90 and less than "
                                                "or equal to 90."})
    instance = fields.String(metadata={"example": "/api/v1/stores"})
    errors = fields.List(fields.Nested(FieldErrorOut), metadata={"description": "422 only: each invalid field"})


PROBLEM = "application/problem+json"
