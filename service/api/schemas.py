"""Request and response schemas of the brand API (validation and OpenAPI in one place)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.api.fields import DecimalText, Id, birthday_range


class CustomerIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"example": "Anna Smith"})
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=320),
                         metadata={"example": "anna@example.com"})
    phone = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^\+?[0-9 ()\-]{5,32}$",
                                                   error="Use digits, spaces, dashes and an optional leading +."))
    birthday = fields.Date(load_default=None, allow_none=True, validate=birthday_range)
    language = fields.String(load_default="en", validate=validate.OneOf(["en", "ru"]))
    home_store_id = Id(load_default=None, allow_none=True, strict=True)


class CardIssueIn(Schema):
    customer = fields.Nested(CustomerIn, required=True)
    legacy_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                                  metadata={"description": "The number of the customer's plastic card, checked "
                                                           "against the program's barcode_format (EAN-13: 13 digits "
                                                           "with a correct check digit, or 12 and it is added); "
                                                           "unique in the brand", "example": "4006381333931"})


class CustomerOut(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    birthday = fields.Date(allow_none=True)
    language = fields.String()
    home_store_id = fields.Integer(allow_none=True)


class GoogleWalletOut(Schema):
    save_url = fields.String(allow_none=True, metadata={
        "description": "Save to Google Wallet link; null while the object is not yet inserted at Google"})
    dev = fields.Boolean(metadata={"description": "true: no Google issuer configured, the link is for looking "
                                                  "at only and Google will refuse it"})
    status = fields.String(metadata={"description": "dev | pending (Google not reached yet) | inserted"})
    object_id = fields.String(metadata={"example": "3388000000012345678.passcast-card-7f0d3c1e"})
    saves = fields.Integer(metadata={"description": "Saves to Google Wallet reported by Google's callbacks"})
    removals = fields.Integer(metadata={"description": "Removals reported by Google's callbacks"})
    saved = fields.Boolean(allow_none=True, metadata={"description": "Whether the last callback was a save"})


class StampRewardOut(Schema):
    """A reward a stamp card earned: a rung of the ladder, or the full card (full_card true)."""

    id = fields.Integer()
    name = fields.String(metadata={"example": "A pastry"})
    card_cycle = fields.Integer(metadata={"description": "Which card earned it: 1 the first, 2 the next...",
                                          "example": 1})
    at = fields.Integer(metadata={"description": "At how many stamps", "example": 5})
    full_card = fields.Boolean()
    ledger_entry_id = fields.Integer(allow_none=True, metadata={"description": "The transaction that earned it"})
    state = fields.String(metadata={"description": "held | redeemed | expired | cancelled"})
    created_at = fields.DateTime()


class HeldRewardOut(Schema):
    """A reward or coupon a card holds (service/loyalty/rewards.py): redeemable at the till while
    `redeemable` (held: not redeemed, not cancelled, `expires_at` ahead or none)."""

    id = fields.Integer(metadata={"description": "The held reward (redeem it with POST .../rewards/{id}/redeem)",
                                  "example": 12})
    card_id = fields.Integer()
    name = fields.String(metadata={"example": "Free coffee"})
    description = fields.String(allow_none=True)
    source = fields.String(metadata={"description": "ladder | full_card (stamp cards) | bought (with points) | coupon"})
    state = fields.String(metadata={"description": "held | redeemed | expired | cancelled"})
    redeemable = fields.Boolean()
    reward_id = fields.Integer(allow_none=True, metadata={"description": "The catalogue reward, if it came from one"})
    origin = fields.String(allow_none=True, metadata={
        "description": "Coupons: api | console | campaign | journey | birthday"})
    campaign_id = fields.Integer(allow_none=True)
    card_cycle = fields.Integer(allow_none=True, metadata={"description": "Stamp rewards: which card earned it"})
    at = fields.Integer(allow_none=True, metadata={"description": "Stamp rewards: at how many stamps"})
    full_card = fields.Boolean()
    ledger_entry_id = fields.Integer(allow_none=True, metadata={
        "description": "The ledger entry that earned it (stamp, purchase, reward_buy or reward_grant)"})
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time",
                                                          "description": "Not redeemable from then on; null: never"})
    redeemed_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    redeemed_entry_id = fields.Integer(allow_none=True, metadata={"description": "The reward_redeem ledger entry"})
    redeemed_store_id = fields.Integer(allow_none=True)
    redeemed_cashier_id = fields.Integer(allow_none=True)
    cancelled_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    created_at = fields.String(metadata={"format": "date-time"})


class CardChallengeOut(Schema):
    challenge_id = fields.Integer()
    name = fields.String(metadata={"example": "December challenge"})
    counts = fields.String(metadata={"description": "visits | purchases"})
    count = fields.Integer(metadata={"example": 3})
    target = fields.Integer(metadata={"example": 5})
    completed = fields.Boolean()
    window_ends_at = fields.DateTime(allow_none=True, metadata={
        "description": "When the card's current window closes (null: not started)"})


class CardOut(Schema):
    id = fields.Integer(metadata={"example": 42})
    program_id = fields.Integer()
    serial_number = fields.String(metadata={"example": "7f0d3c1e-0d0c-4a55-9f1b-6a3c0c1d2e3f"})
    number = fields.String(metadata={"description": "Short number printed under the QR code",
                                     "example": "1234 5678 90"})
    customer = fields.Nested(CustomerOut)
    balance = fields.Integer(metadata={"example": 120})
    lifetime_points = fields.Integer()
    tier = fields.String(allow_none=True)
    voided = fields.Boolean()
    version = fields.Integer()
    updated_at = fields.DateTime()
    created_at = fields.DateTime()
    barcode_message = fields.String(metadata={"description": "What the barcode on the pass encodes: the signed "
                                                             "code, or legacy_number in a program with a legacy "
                                                             "barcode_format"})
    legacy_number = fields.String(allow_none=True, metadata={
        "description": "The number of the customer's plastic card (null: none)", "example": "4006381333931"})
    barcode_format = fields.String(metadata={
        "description": "The symbology of the pass's barcode: qr | code128 | ean13 | pdf417 | aztec (an EAN-13 "
                       "program's card without a legacy number shows qr)", "example": "qr"})
    apple_pass_url = fields.Url(metadata={"description": "GET it: the signed .pkpass"})
    google_save_url = fields.String(allow_none=True, metadata={
        "description": "Save to Google Wallet link (see google_wallet.dev and google_wallet.status)"})
    google_wallet = fields.Nested(GoogleWalletOut, allow_none=True)
    stamps = fields.Integer(allow_none=True, metadata={
        "description": "Stamp cards: stamps filled on the current card (null for other kinds)", "example": 3})
    stamps_required = fields.Integer(allow_none=True, metadata={"description": "Stamp cards: stamps that fill a card",
                                                                "example": 10})
    stamp_cards_completed = fields.Integer(allow_none=True, metadata={"description": "Stamp cards: cards filled"})
    challenges = fields.List(fields.Nested(CardChallengeOut), metadata={
        "description": "The card's progress in each of its program's running challenges (0 of N where not started)"})
    stamp_rewards = fields.List(fields.Nested(StampRewardOut), allow_none=True, metadata={
        "description": "Stamp cards: rewards earned (newest first, at most 20)"})
    rewards = fields.List(fields.Nested(HeldRewardOut), allow_none=True, metadata={
        "description": "Rewards and coupons the card can redeem now, soonest to expire first (null in a "
                       "partner brand's view: the host's rewards are redeemed at the host)"})


class ProgramOut(Schema):
    id = fields.Integer(metadata={"example": 1})
    name = fields.String(metadata={"example": "Demo Coffee Rewards"})
    kind = fields.String(metadata={"description": "points | cashback | discount | stamps", "example": "points"})
    description = fields.String(metadata={"example": "Demo Coffee loyalty card"})
    terms = fields.String(metadata={"example": "1 euro spent = 10 points."})
    currency = fields.String(metadata={"example": "EUR"})
    points_per_unit = DecimalText(metadata={"example": "10.0000"})
    rounding = fields.String(metadata={"description": "down | nearest | up", "example": "down"})
    cashback_percent = DecimalText(metadata={"example": "0.00"})
    discount_percent = DecimalText(metadata={"example": "0.00"})
    tier_basis = fields.String(metadata={"description": "lifetime_points | lifetime_spend | points",
                                         "example": "lifetime_points"})
    points_expire_days = fields.Integer(allow_none=True, metadata={"example": 365})
    point_value = DecimalText(allow_none=True, metadata={"description": "The money value of one point (null: not "
                                                                        "said)", "example": "0.0100"})
    background_color = fields.String(metadata={"example": "#3b2417"})
    foreground_color = fields.String(metadata={"example": "#ffffff"})
    label_color = fields.String(metadata={"example": "#e8c9a0"})
    labels = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.String()),
                         allow_none=True, metadata={"description": "The brand's own field labels (null: ours)",
                                                    "example": {"balance": {"en": "Beans", "ru": "Зёрна"}}})
    stamps_required = fields.Integer(allow_none=True, metadata={"description": "stamps programs", "example": 10})
    starter_stamps = fields.Integer(metadata={"example": 0})
    stamp_rule = fields.String(allow_none=True, metadata={"description": "visit | purchase_over | per_amount"})
    stamp_rule_amount = DecimalText(allow_none=True, metadata={"example": "5.00"})
    stamp_ladder = fields.List(fields.Dict(), allow_none=True, metadata={
        "example": [{"at": 5, "reward": "A pastry"}, {"at": 10, "reward": "A coffee"}]})
    happy_hours = fields.List(fields.Dict(), allow_none=True, metadata={
        "example": [{"stores": None, "weekdays": [1, 2, 3, 4, 5], "from": "15:00", "to": "17:00", "multiplier": 2}]})
    time_zone = fields.String(allow_none=True, metadata={"description": "Of happy hours and the daily cap's day; "
                                                                        "null: UTC"})
    earn_once_per_hours = fields.Integer(allow_none=True, metadata={
        "description": "The till's safeguards: one earning transaction per card every N hours (null: off)",
        "example": 24})
    daily_cap = fields.Integer(allow_none=True, metadata={
        "description": "At most this many points (stamp cards: stamps) per card per local day (null: off)"})
    per_transaction_cap = fields.Integer(allow_none=True, metadata={
        "description": "At most this many in one transaction; a purchase earning more is refused (null: off)"})
    undo_window_minutes = fields.Integer(metadata={
        "description": "How long a cashier may undo their own transaction", "example": 10})
    barcode_format = fields.String(metadata={"description": "qr | code128 | ean13 | pdf417 | aztec",
                                             "example": "qr"})
    has_stamp_image = fields.Function(
        lambda program: program.kind == "stamps" and program.stamp_png is not None,
        metadata={"type": "boolean", "description": "A stamp image is uploaded (PUT .../images/stamp)"})
    pass_type_identifier = fields.String(metadata={"example": "pass.dev.passcast.loyalty"})
    team_identifier = fields.String(metadata={"example": "PASSCASTDV"})
    certificate = fields.Method("_certificate", metadata={"type": "object", "nullable": True})

    def _certificate(self, program):  # type: ignore[no-untyped-def]
        cert = program.certificate
        if cert is None:
            return None
        return {"id": cert.id, "not_after": cert.not_after.isoformat(), "dev": cert.is_dev,
                "pass_type_identifier": cert.pass_type_identifier,
                "team_identifier": cert.team_identifier}


HEX_COLOUR = validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="Use a #rrggbb colour.")


class CertificateUploadIn(Schema):
    password = fields.String(load_default=None, allow_none=True)


class CertificateOut(Schema):
    id = fields.Integer()
    pass_type_identifier = fields.String()
    team_identifier = fields.String()
    not_after = fields.DateTime()
    warning = fields.String(allow_none=True)
