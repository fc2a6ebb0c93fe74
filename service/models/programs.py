"""Loyalty programs and their tiers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.brands import Brand, SigningCertificate


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="points")  # points | cashback | discount | stamps
    description: Mapped[str] = mapped_column(String(300), default="Loyalty card")
    terms: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")  # the API uses DEFAULT_CURRENCY
    # Point rules: points per currency unit, rounding, cashback and discount percentages.
    points_per_unit: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal(1))
    rounding: Mapped[str] = mapped_column(String(10), default="down")  # down | nearest | up
    cashback_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    # Design.
    background_color: Mapped[str] = mapped_column(String(7), default="#3b2417")
    foreground_color: Mapped[str] = mapped_column(String(7), default="#ffffff")
    label_color: Mapped[str] = mapped_column(String(7), default="#e8c9a0")
    # The brand's own field labels, per pass field key and language ({"balance": {"en": "Beans",
    # "ru": "Зёрна"}}); a field or language left out keeps Passcast's label (card_design.LABEL_KEYS).
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Deferred: scans and transactions load the program on every request and never need
    # the images; building a pass loads all three in one query.
    logo_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True,
                                                   deferred_group="images")
    icon_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True,
                                                   deferred_group="images")
    strip_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True,
                                                    deferred_group="images")
    # Apple identity: must match the signing certificate's UID and OU.
    pass_type_identifier: Mapped[str] = mapped_column(String(200))
    team_identifier: Mapped[str] = mapped_column(String(20))
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("signing_certificates.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Loyalty rules (service/loyalty/engine.py): what tiers are measured by, and how long points live.
    tier_basis: Mapped[str] = mapped_column(String(20), default="lifetime_points")  # | lifetime_spend | points
    points_expire_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: points never expire
    # Google Wallet: digest of the LoyaltyClass last sent, so a design change re-sends it once.
    google_class_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Birthday automation (service/campaigns/birthday.py): points and/or a message once a year.
    # The money value of one point (points programs; cashback points are minor units of money):
    # what points a campaign or journey gives cost the brand, for ROMI. None: not said.
    point_value: Mapped[Decimal | None] = mapped_column(Numeric(12, 4), nullable=True)
    birthday_points: Mapped[int | None] = mapped_column(Integer, nullable=True)
    birthday_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # ... and/or a coupon: this catalogue reward of the program (service/loyalty/rewards.py). No
    # foreign key: catalogue_rewards points at programs, and a key back would make the two a cycle.
    birthday_reward_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Enrolment (service/enrolment): the public join page is /join/<slug> (or /join/<id>), and
    # a referral's first purchase gives both cards this many points (0: referrals are off).
    slug: Mapped[str | None] = mapped_column(String(80), unique=True, nullable=True)
    referral_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The join page's form (service/enrolment/join_settings.py): which of phone, email and birthday
    # it asks ({"phone": "required" | "optional" | "off", ...}; None: the defaults), the consent
    # sentence per language ({"en": ..., "ru": ...}; a missing language: the built-in one), and the
    # points a card joining through it gets once (0: none).
    join_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    consent_text: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    welcome_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Stamp cards (kind "stamps", service/loyalty/stamps.py): N stamps fill a card; a new card starts
    # with starter_stamps; stamp_rule says what a purchase earns (visit | purchase_over | per_amount,
    # the last two with stamp_rule_amount); stamp_ladder [{at, reward}] names the rewards along the
    # way (the one at N is the full card's); happy_hours [{stores, weekdays, from, to, multiplier}]
    # multiply stamps at local times of `time_zone` (IANA name; None: UTC).
    stamps_required: Mapped[int | None] = mapped_column(Integer, nullable=True)
    starter_stamps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stamp_rule: Mapped[str | None] = mapped_column(String(20), nullable=True)
    stamp_rule_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    stamp_ladder: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    happy_hours: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The brand's stamp (PUT .../images/stamp): drawn filled and faded in the stamp strip. Deferred on
    # its own: only stamp cards read it, and the API's has_stamp_image must not load the other images.
    stamp_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    # The till's safeguards (service/loyalty/limits.py), on what earn, stamp and purchase transactions
    # earn (points or stamps; None: off): at most one earning transaction per card every
    # earn_once_per_hours hours, at most daily_cap per card per local day (time_zone), at most
    # per_transaction_cap in one transaction. A cashier may undo their own transaction for
    # undo_window_minutes (service/loyalty/reversal.py); managers and the brand's key at any time.
    earn_once_per_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    daily_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    per_transaction_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    undo_window_minutes: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    # Partner programs (service/loyalty/settlement.py): what one point is worth in `currency` when the
    # brands of a coalition settle who owes whom (None: not set; cashback points are worth 0.01).
    settlement_point_value: Mapped[Decimal | None] = mapped_column(Numeric(12, 4), nullable=True)
    # The symbology of the cards' barcode (passes/barcodes.py): qr (the signed code, the default) |
    # code128 | ean13 | pdf417 | aztec, for a brand whose POS scanners read its plastic cards' numbers.
    barcode_format: Mapped[str] = mapped_column(String(10), default="qr", server_default="qr")
    # Challenges (service/journeys/challenges.py): bumped whenever one of the program's challenges is
    # made, changed or removed. 0: the program never had one, and a transaction does nothing more; else
    # the challenges are cached per (program, this number), so every process sees a change at once.
    challenges_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    brand: Mapped[Brand] = relationship(back_populates="programs")
    certificate: Mapped[SigningCertificate | None] = relationship()
    tiers: Mapped[list[Tier]] = relationship(back_populates="program", order_by="Tier.threshold")


class Tier(Base):
    """A status level of a program (Silver, Gold...): reached at `threshold` of the program's
    tier_basis (points, or money when the basis is lifetime_spend).

    Each tier earns at its own rate (`earn_multiplier` times the program's points or cashback
    rate), may grant its own discount, and may dress the pass in its own colours and strip;
    unset design values fall back to the program's.
    """

    __tablename__ = "tiers"
    __table_args__ = (UniqueConstraint("program_id", "name"), UniqueConstraint("program_id", "threshold"))

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    threshold: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    earn_multiplier: Mapped[Decimal] = mapped_column(Numeric(6, 3), default=Decimal(1))
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), nullable=True)
    background_color: Mapped[str | None] = mapped_column(String(7), nullable=True)
    foreground_color: Mapped[str | None] = mapped_column(String(7), nullable=True)
    label_color: Mapped[str | None] = mapped_column(String(7), nullable=True)
    strip_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    program: Mapped[Program] = relationship(back_populates="tiers")
