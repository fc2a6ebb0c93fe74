"""The database schema, as SQLAlchemy 2 typed models.

One file so that a reader sees every table and relation at once. Money is Decimal,
points are integers, every timestamp is timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # Short uppercase reference embedded in every card code, and the HMAC secret that signs them.
    code_ref: Mapped[str] = mapped_column(String(16), unique=True)
    code_secret: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    programs: Mapped[list[Program]] = relationship(back_populates="brand")
    stores: Mapped[list[Store]] = relationship(back_populates="brand", order_by="Store.id")


class ApiKey(Base):
    """A brand's API key; only a SHA-256 of the secret is kept (keys are 256-bit random)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="default")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    brand: Mapped[Brand] = relationship()


class SigningCertificate(Base):
    """A Pass Type ID certificate with its key and WWDR intermediate, as PEM.

    Kept in the database rather than on one machine's disk so that every web and worker
    process can sign; the key is as sensitive as the brand's Apple account.
    """

    __tablename__ = "signing_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"), index=True)
    pass_type_identifier: Mapped[str] = mapped_column(String(200))
    team_identifier: Mapped[str] = mapped_column(String(20))
    certificate_pem: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_pem: Mapped[bytes] = mapped_column(LargeBinary)
    wwdr_pem: Mapped[bytes] = mapped_column(LargeBinary)
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    is_dev: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="points")  # points | cashback | discount
    description: Mapped[str] = mapped_column(String(300), default="Loyalty card")
    terms: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # Point rules: points per currency unit, rounding, cashback and discount percentages.
    points_per_unit: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal(1))
    rounding: Mapped[str] = mapped_column(String(10), default="down")  # down | nearest | up
    cashback_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    # Design.
    background_color: Mapped[str] = mapped_column(String(7), default="#3b2417")
    foreground_color: Mapped[str] = mapped_column(String(7), default="#ffffff")
    label_color: Mapped[str] = mapped_column(String(7), default="#e8c9a0")
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
    # Loyalty rules (service/loyalty.py): what tiers are measured by, and how long points live.
    tier_basis: Mapped[str] = mapped_column(String(20), default="lifetime_points")  # | lifetime_spend | points
    points_expire_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: points never expire

    brand: Mapped[Brand] = relationship(back_populates="programs")
    certificate: Mapped[SigningCertificate | None] = relationship()
    tiers: Mapped[list[Tier]] = relationship(back_populates="program", order_by="Tier.threshold")


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    latitude: Mapped[float] = mapped_column()
    longitude: Mapped[float] = mapped_column()
    relevant_text: Mapped[str | None] = mapped_column(String(200), nullable=True)

    brand: Mapped[Brand] = relationship(back_populates="stores")


class Cashier(Base):
    __tablename__ = "cashiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    name: Mapped[str] = mapped_column(String(200))
    token_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    brand: Mapped[Brand] = relationship()
    store: Mapped[Store | None] = relationship()


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    birthday: Mapped[dt.date | None] = mapped_column(nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    home_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    home_store: Mapped[Store | None] = relationship()


class Card(Base):
    """One customer's card in one program; what every wallet copy of it is rendered from."""

    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("program_id", "customer_id"),
        # The engine refuses to overdraw; this makes any bug that tries fail loudly instead.
        CheckConstraint("balance >= 0", name="ck_cards_balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    number: Mapped[int] = mapped_column(BigInteger)
    serial_number: Mapped[str] = mapped_column(String(64), unique=True)
    authentication_token: Mapped[str] = mapped_column(String(64))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime_points: Mapped[int] = mapped_column(BigInteger, default=0)
    tier: Mapped[str | None] = mapped_column(String(50), nullable=True)
    news: Mapped[str | None] = mapped_column(Text, nullable=True)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped in the same transaction as any change to what the pass shows.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Loyalty state (service/loyalty.py); `tier` above keeps the tier's name as the pass shows it.
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id"), nullable=True)
    lifetime_spend: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    # When the oldest unspent points expire; the daily job looks only at cards past it.
    points_expire_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)

    program: Mapped[Program] = relationship()
    customer: Mapped[Customer] = relationship()
    current_tier: Mapped[Tier | None] = relationship()

    __mapper_args__ = {"eager_defaults": True}


Index("ix_cards_brand_number", Card.brand_id, Card.number, unique=True)


class PassFile(Base):
    """The signed .pkpass of a card's current version: signed once, served many times."""

    __tablename__ = "pass_files"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerEntry(Base):
    """Append-only: a balance is the sum of its card's entries, never edited in place."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("card_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # issue | earn | redeem | purchase | expire | adjust
    points: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("cashiers.id"), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Registration(Base):
    """A device that holds a card and wants pushes when it changes (PassKit register call)."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("device_library_identifier", "card_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_library_identifier: Mapped[str] = mapped_column(String(255), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    pass_type_identifier: Mapped[str] = mapped_column(String(200))
    push_token: Mapped[str] = mapped_column(String(512))
    # apple (APNs) | relay (WalletPasses AndroidPass) | fcm (FCM token)
    client_kind: Mapped[str] = mapped_column(String(10), default="apple")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    dead_reason: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PushDelivery(Base):
    """One push of one card version to one device token: the outbox row and its history.

    Written in the same transaction as the change it announces, so a crash after commit
    loses nothing; unique per (card, version, token) so nobody gets the same news twice.
    """

    __tablename__ = "push_deliveries"
    __table_args__ = (
        UniqueConstraint("card_id", "card_version", "push_token"),
        Index("ix_push_deliveries_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    card_version: Mapped[int] = mapped_column(Integer)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), nullable=True, index=True)
    push_token: Mapped[str] = mapped_column(String(512))
    client_kind: Mapped[str] = mapped_column(String(10))
    topic: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # queued -> sending -> accepted -> confirmed; or retry (-> sending) / failed / unregistered
    status: Mapped[str] = mapped_column(String(15), default="queued")
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(36), nullable=True)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DeviceLog(Base):
    """What Wallet reported through POST /v1/log, kept searchable per card."""

    __tablename__ = "device_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), nullable=True, index=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


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
