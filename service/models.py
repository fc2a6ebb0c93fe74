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
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
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
    # Google Wallet: digest of the LoyaltyClass last sent, so a design change re-sends it once.
    google_class_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Birthday automation (service/campaigns/birthday.py): points and/or a message once a year.
    birthday_points: Mapped[int | None] = mapped_column(Integer, nullable=True)
    birthday_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Enrolment (service/enrolment): the public join page is /join/<slug> (or /join/<id>), and
    # a referral's first purchase gives both cards this many points (0: referrals are off).
    slug: Mapped[str | None] = mapped_column(String(80), unique=True, nullable=True)
    referral_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

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
    # Optional iBeacon in the store: passes list it so the lock screen shows them nearby.
    beacon_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    beacon_major: Mapped[int | None] = mapped_column(Integer, nullable=True)
    beacon_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A running geo campaign's text for this store (service/campaigns/geo.py); None: the default.
    geo_relevant_text: Mapped[str | None] = mapped_column(String(200), nullable=True)
    geo_campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

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
    # PIN sign-in on a paired till (service/cashier_pins.py): a slow hash only, never the PIN;
    # wrong PINs are counted here (not in memory) so a lockout holds across processes.
    pin_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pin_failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    brand: Mapped[Brand] = relationship()
    store: Mapped[Store | None] = relationship()


class Till(Base):
    """A shop tablet paired to a brand (and usually one store): its key lets cashiers sign in
    there with their PIN. Only a SHA-256 of the key is kept (keys are 256-bit random)."""

    __tablename__ = "tills"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A PIN session on this tablet ends after this long without a touch or a scan: a shared
    # till left signed in is somebody else's purchases under your name.
    idle_seconds: Mapped[int] = mapped_column(Integer, default=600, server_default="600")

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
    # Google Wallet (service/google_wallet): the card version and balance Google last accepted;
    # None = the LoyaltyObject is not inserted yet. The sweeper re-syncs cards behind `version`.
    google_synced_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    google_synced_balance: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Set while one job syncs this card to Google (until then + a lease): syncs of one card never
    # overlap, so an older patch can never land at Google after a newer one.
    google_sync_lease: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Enrolment (service/enrolment, service/referrals.py): the code in this card's personal join
    # link, the card whose link brought this one in, and the id in the platform it was imported from.
    referral_code: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), nullable=True, index=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)

    program: Mapped[Program] = relationship()
    customer: Mapped[Customer] = relationship()
    current_tier: Mapped[Tier | None] = relationship()

    __mapper_args__ = {"eager_defaults": True}


Index("ix_cards_brand_number", Card.brand_id, Card.number, unique=True)
Index("ix_cards_program_external_id", Card.program_id, Card.external_id, unique=True)


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
    # no index of its own: ix_ledger_entries_card_created (below) serves lookups by card
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    kind: Mapped[str] = mapped_column(String(20))  # issue | earn | redeem | purchase | expire | adjust | import
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
    # apple (APNs) | relay (an Android app's own push service) | fcm (FCM token of our project)
    client_kind: Mapped[str] = mapped_column(String(10), default="apple")
    # For "relay": which app's relay (service/push/wallet_apps.py); NULL = walletpasses (rows before 0005).
    client_app: Mapped[str | None] = mapped_column(String(20), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why the token is not pushed (active False), or why its pushes cannot leave (unreachable:
    # its app's relay is not configured; active stays True so configuring it resumes them).
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
    client_app: Mapped[str | None] = mapped_column(String(20), nullable=True)  # as Registration.client_app
    topic: Mapped[str] = mapped_column(String(200))
    # indexed with card_id and status (ix_push_deliveries_campaign_card_status, below)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # queued -> sending -> accepted -> confirmed; or retry (-> sending) / failed / unregistered /
    # unreachable (no route reaches the token: SENDER_ID_MISMATCH, relay not configured or refusing it)
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
    """What Wallet reported through POST /v1/log, kept searchable per card.

    POST /v1/log carries no credential, so anyone can post any text naming any serial:
    `card_id` (the card itself said it) stays empty for such entries, and the card a message
    names is kept apart in `mentioned_card_id`, with where the text came from.
    """

    __tablename__ = "device_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), nullable=True, index=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    mentioned_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), nullable=True, index=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(200), nullable=True)


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


class WebhookEndpoint(Base):
    """A URL of a brand's that wants to hear about some events, signed with its own secret.

    The secret is kept in clear because every delivery is signed with it (HMAC needs it);
    the API shows it once, when the endpoint is created.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(200), default="")
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookEvent(Base):
    """The webhook outbox: one row per event, written in the transaction that caused it.

    After the commit a job fans it out to the brand's endpoints (WebhookDelivery rows); the
    sweeper picks up events whose job was lost.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_pending", "dispatched", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """One event sent to one endpoint: its status, attempts and the receiver's last answer."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    # queued -> sending -> delivered; or retry (-> sending) / failed
    status: Mapped[str] = mapped_column(String(15), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(36), nullable=True)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


class Campaign(Base):
    """A message to an audience (kind "message"), a period of changed relevant text near
    chosen stores (kind "geo"), or the pass message of one restock event (kind "restock").

    Sending is resumable: `cursor` is the last card id handled in the current phase and
    moves in the same transaction as that batch's recipients; `lease_until` keeps two
    workers from running one campaign at once (a crashed worker's lease simply runs out).
    """

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_due", "status", "send_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="message")  # message | geo | restock
    name: Mapped[str] = mapped_column(String(200))
    # message: default text and per-language variants {"ru": "..."}
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    messages: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # draft | scheduled | sending | finished | cancelled; geo: scheduled | running | ending | finished | cancelled
    status: Mapped[str] = mapped_column(String(12), default="draft")
    send_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # geo: the stores, the text near them, and the period
    store_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    relevant_text: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # progress
    audience_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The recipients' purchases in the 7 days after the start, once final (service/analytics.py)
    buyers_7d: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    purchases_7d: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revenue_7d: Mapped[Decimal | None] = mapped_column(Numeric(16, 2), nullable=True)


class CampaignRecipient(Base):
    """A card a campaign reached; unique per (campaign, card), so nobody gets it twice."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (UniqueConstraint("campaign_id", "card_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))  # indexed by the unique constraint
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProductSubscription(Base):
    """"Notify me when it is back": a card waiting for a SKU (size/colour None = any).

    Ends (ended_at set) when a matching restock told it, or when unsubscribed.
    """

    __tablename__ = "product_subscriptions"
    __table_args__ = (Index("ix_product_subscriptions_open", "brand_id", "sku", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    sku: Mapped[str] = mapped_column(String(100))
    size: Mapped[str | None] = mapped_column(String(50), nullable=True)
    colour: Mapped[str | None] = mapped_column(String(50), nullable=True)
    product_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)  # notified | unsubscribed | card_voided
    restock_event_id: Mapped[int | None] = mapped_column(ForeignKey("restock_events.id"), nullable=True)


class RestockEvent(Base):
    """A SKU (size/colour) back in stock at a store; its pass messages go out as a campaign."""

    __tablename__ = "restock_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    sku: Mapped[str] = mapped_column(String(100))
    size: Mapped[str | None] = mapped_column(String(50), nullable=True)
    colour: Mapped[str | None] = mapped_column(String(50), nullable=True)
    product_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    status: Mapped[str] = mapped_column(String(12), default="processing")  # processing | done
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    store: Mapped[Store | None] = relationship()


class GoogleMessage(Base):
    """A message added to a card's Google Wallet object (addMessage), kept to enforce Google's
    limit of 3 notifying messages per object per 24 h across every campaign."""

    __tablename__ = "google_messages"
    __table_args__ = (Index("ix_google_messages_card_created", "card_id", "created_at"),
                      Index("ix_google_messages_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    header: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # TEXT_AND_NOTIFY (counts against the quota) | TEXT (shown, not notified)
    message_type: Mapped[str] = mapped_column(String(20))
    # queued (written with the campaign batch, an outbox) | sent | dev (Google Wallet not
    # configured: recorded, not sent) | failed
    status: Mapped[str] = mapped_column(String(10), default="sent")
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A queued message being sent: until then nobody else sends it (a dead sender's runs out).
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class GoogleWalletEvent(Base):
    """A save or delete of a card's Google Wallet object, as Google's callback reported it.

    Unique per nonce: Google retries callbacks and may deliver one twice.
    """

    __tablename__ = "google_wallet_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(200), unique=True)
    # indexed with id (ix_google_wallet_events_card_last, below), which serves card_id look-ups too
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), nullable=True)
    object_id: Mapped[str] = mapped_column(String(300))
    class_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    event_type: Mapped[str] = mapped_column(String(10))  # save | del
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImportJob(Base):
    """A members CSV moved in from another platform (service/enrolment/imports.py), run by a job.

    The CSV is kept with the job so any worker can run it; `errors` lists each bad row with
    its line number, `processed_rows` moves as batches commit (the progress an API client sees).
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued | running | done | failed
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    csv_data: Mapped[bytes] = mapped_column(LargeBinary)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_cards: Mapped[int] = mapped_column(Integer, default=0)
    matched_cards: Mapped[int] = mapped_column(Integer, default=0)
    error_rows: Mapped[int] = mapped_column(Integer, default=0)
    starts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    failure: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Written with every batch's progress: a "running" job whose heartbeat stops was lost with
    # its worker, and the sweeper (service/enrolment/import_tasks.py) runs it again.
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# -- analytics (service/analytics.py) and NPS surveys (service/nps.py) ---------------------------

# What the dashboard's queries scan: a brand's cards by issue date, a card's ledger by date
# (cohort activity, purchases after a campaign), the ledger by date (active/lapsed windows).
# "Already a member?" (issuing, the join page, imports) looks customers up by email or phone.
Index("ix_customers_email", Customer.email)
Index("ix_customers_phone", Customer.phone)
Index("ix_cards_brand_created", Card.brand_id, Card.created_at)
Index("ix_ledger_entries_card_created", LedgerEntry.card_id, LedgerEntry.created_at)
Index("ix_ledger_entries_created_kind", LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.card_id)
# Removals per brand and period (card.uninstalled events among the many other webhook events).
Index("ix_webhook_events_brand_type_created", WebhookEvent.brand_id, WebhookEvent.type, WebhookEvent.created_at)
# Index-only counts for the dashboard's summary and campaigns (PostgreSQL reads only the
# index where the visibility map says a page is all-visible: VACUUM, i.e. autovacuum, keeps it
# so). A brand's cards in id order (voided or not), to join with the cards that are in a wallet:
Index("ix_cards_brand_id_voided", Card.brand_id, Card.id, Card.voided)
# Cards with an active PassKit registration (installed_apple, removed).
Index("ix_registrations_installed", Registration.card_id,
      postgresql_where=text("active IS TRUE AND client_kind IN ('apple', 'relay', 'fcm')"),
      sqlite_where=text("active IS TRUE AND client_kind IN ('apple', 'relay', 'fcm')"))
# A card's latest Google Wallet callback (installed_google, removed).
Index("ix_google_wallet_events_card_last", GoogleWalletEvent.card_id, GoogleWalletEvent.id,
      postgresql_include=["event_type"])
# A campaign's funnel per card. Replaces the index on campaign_id alone: status updates (the
# delivery path) already write every index of the table (status is indexed), so no extra index.
Index("ix_push_deliveries_campaign_card_status", PushDelivery.campaign_id, PushDelivery.card_id,
      PushDelivery.status)


class AnalyticsCache(Base):
    """A computed analytics answer of a brand (one endpoint and range), kept when computing it
    was slow so that the dashboard of a big brand answers from here; a job recomputes what
    people look at before it goes stale."""

    __tablename__ = "analytics_cache"
    __table_args__ = (UniqueConstraint("brand_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[Any] = mapped_column(JSON)
    seconds: Mapped[float] = mapped_column()
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Roll-ups of the ledger for the dashboard (service/analytics_rollups.py): sums over every card's
# contribution as of ledger entry `analytics_rollup_state.ledger_id`; days are UTC days since
# 1970-01-01, months year * 12 + month; "none" days are the sentinels NO_DAY / NEVER there.
Index("ix_cards_brand_voided", Card.brand_id, Card.created_at, postgresql_where=text("voided"),
      sqlite_where=text("voided"))


class AnalyticsRollupState(Base):
    """How far the roll-ups have read the ledger (one row): entries with id <= `ledger_id`.
    While `backfill_to` is set the roll-ups are to be built from the entries with id <= it,
    and the dashboard counts from the raw tables."""

    __tablename__ = "analytics_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    ledger_id: Mapped[int] = mapped_column(BigInteger, default=0)
    backfill_to: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AnalyticsDaily(Base):
    """Per brand and UTC day: points issued and redeemed, purchases (with an amount) and revenue."""

    __tablename__ = "analytics_daily"

    brand_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    points_issued: Mapped[int] = mapped_column(BigInteger, default=0)
    points_redeemed: Mapped[int] = mapped_column(BigInteger, default=0)
    purchases: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0.00"))


class AnalyticsActivity(Base):
    """Cards per (day with activity, the card's previous day with activity, the later of that
    and its issue day): a card is active in [a, b) once, on its first such day with prev < a."""

    __tablename__ = "analytics_activity"

    brand_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    prev_day: Mapped[int] = mapped_column(Integer, primary_key=True)
    since_day: Mapped[int] = mapped_column(Integer, primary_key=True)
    cards: Mapped[int] = mapped_column(BigInteger, default=0)


class AnalyticsPurchaseLink(Base):
    """Cards per pair of a card's purchase days (shape dp: day, previous; px: previous, next;
    dx: day, next) and whether that day had 2+ purchases: buyers and one-time buyers of any period."""

    __tablename__ = "analytics_purchase_links"

    brand_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shape: Mapped[str] = mapped_column(String(2), primary_key=True)
    a: Mapped[int] = mapped_column(Integer, primary_key=True)
    b: Mapped[int] = mapped_column(Integer, primary_key=True)
    multi: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    cards: Mapped[int] = mapped_column(BigInteger, default=0)


class AnalyticsCohortActivity(Base):
    """Cards per (issue day, month with activity, first day with activity in that month)."""

    __tablename__ = "analytics_cohort_activity"

    brand_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_day: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_day: Mapped[int] = mapped_column(Integer, primary_key=True)
    cohort_month: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    cards: Mapped[int] = mapped_column(BigInteger, default=0)


class NpsSurvey(Base):
    """"How likely are you to recommend us?" (0-10), asked on the back of a program's passes
    while the survey runs (starts_at <= now < ends_at; no end = until stopped)."""

    __tablename__ = "nps_surveys"
    __table_args__ = (Index("ix_nps_surveys_program_period", "program_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    question: Mapped[str] = mapped_column(String(300), default="How likely are you to recommend us to a friend?")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The program's passes were given a new version when the survey started / ended (the job
    # in service/nps_tasks.py does it for surveys that start or end at a set time).
    shown_on_passes: Mapped[bool] = mapped_column(Boolean, default=False)
    removed_from_passes: Mapped[bool] = mapped_column(Boolean, default=False)

    program: Mapped[Program] = relationship()


class NpsAnswer(Base):
    """One card's answer to one survey: unique per (survey, card), changed in place while the
    survey runs. `store_id` is where the answer is attributed: the customer's home store,
    else the store of the card's last transaction."""

    __tablename__ = "nps_answers"
    __table_args__ = (UniqueConstraint("survey_id", "card_id"),
                      CheckConstraint("score >= 0 AND score <= 10", name="ck_nps_answers_score"),
                      Index("ix_nps_answers_brand_answered", "brand_id", "answered_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("nps_surveys.id"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PassPersonalization(Base):
    """A card's one rewards enrollment through Wallet (POST .../personalize).

    Unique per card: the insert decides which of two concurrent requests personalises it
    (on SQLite too, where there is no row lock), and a second attempt is refused.
    """

    __tablename__ = "pass_personalizations"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RateLimitCounter(Base):
    """One rate-limit window of one caller (service/rate_limit_storage.py): shared by every web
    process when there is no Redis. `expires_at` is epoch seconds; ended windows are deleted."""

    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index("ix_rate_limit_counters_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Double)


class CardRecovery(Base):
    """A known phone or email asking for its card again on the join page.

    Typing a contact proves nothing, so the card is shown only after a one-time link or code
    sent to that contact comes back (service/enrolment/recovery.py). Only hashes of the link
    and the code are kept; `attempts` counts code guesses and is raised by one conditional
    UPDATE, so parallel guesses cannot pass the limit on any backend.
    """

    __tablename__ = "card_recoveries"
    __table_args__ = (Index("ix_card_recoveries_card_created", "card_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    channel: Mapped[str] = mapped_column(String(10))  # email | sms
    destination: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5), default="en")
    link_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    card: Mapped[Card] = relationship()
