"""Customers, cards, the ledger, and card recoveries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    exists,
    text,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from service.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.brands import Store
    from service.models.programs import Program, Tier


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
    # PostgreSQL keeps half of each page free (fillfactor 50, migration 0021): a card's new
    # version then fits beside the old one and a bump (bump_cards: version, updated_at, news)
    # rewrites none of the fifteen indexes.
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
    # Loyalty state (service/loyalty/engine.py); `tier` above keeps the tier's name as the pass shows it.
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
    # Enrolment (service/enrolment, service/loyalty/referrals.py): the code in this card's personal join
    # link, the card whose link brought this one in, and the id in the platform it was imported from.
    referral_code: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), nullable=True, index=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Stamp cards: how many cards this one has filled (the current card is number this + 1);
    # the stamps on the current card are `balance`.
    stamp_cards_completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The number the brand's plastic card carried (passes/barcodes.py: normalised for the program's
    # barcode format); a program with a legacy format shows it as the barcode. Unique in the brand,
    # so what a till's scanner reads names one card.
    legacy_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The card's last visit (a purchase or a stamp at the till; service/loyalty/engine.py keeps it):
    # what the "lapsed" journey trigger selects by, on an index, instead of reading the ledger.
    last_visit_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    program: Mapped[Program] = relationship()
    customer: Mapped[Customer] = relationship()
    current_tier: Mapped[Tier | None] = relationship()

    __mapper_args__ = {"eager_defaults": True}


Index("ix_cards_brand_number", Card.brand_id, Card.number, unique=True)


Index("ix_cards_program_external_id", Card.program_id, Card.external_id, unique=True)


Index("ix_cards_brand_legacy_number", Card.brand_id, Card.legacy_number, unique=True)


# The journeys' daily "lapsed" trigger: a program's cards whose last visit fell on one day.
Index("ix_cards_program_last_visit", Card.program_id, Card.last_visit_at)


class LedgerEntry(Base):
    """Append-only: a balance is the sum of its card's entries, never edited in place."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("card_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: ix_ledger_entries_card_created (below) serves lookups by card
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    # issue | earn | redeem | purchase | expire | adjust | import | stamp | card_full | reversal
    # | reward_buy (-cost) | reward_grant (0) | reward_redeem (0): service/loyalty/rewards.py
    kind: Mapped[str] = mapped_column(String(20))
    points: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("cashiers.id"), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A `reversal` entry (service/loyalty/reversal.py): the entry it undoes. Unique, so an entry is
    # reversed at most once, whoever tries and however many at once.
    reversed_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True)
    # Partner programs: the partner brand that posted this entry on a card of another brand's program
    # (None: the card's own brand). The settlement attributes each entry to this brand or the card's.
    partner_brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"), nullable=True)


# What the dashboard's queries scan: a brand's cards by issue date, a card's ledger by date
# (cohort activity, purchases after a campaign), the ledger by date (active/lapsed windows).
# "Already a member?" (issuing, the join page, imports) looks customers up by email or phone.
Index("ix_customers_email", Customer.email)


Index("ix_customers_phone", Customer.phone)


Index("ix_cards_brand_created", Card.brand_id, Card.created_at)


Index("ix_ledger_entries_card_created", LedgerEntry.card_id, LedgerEntry.created_at)


Index("ix_ledger_entries_reversed_entry_id", LedgerEntry.reversed_entry_id, unique=True)


def not_reversed(entry: Any = LedgerEntry) -> Any:
    """SQL: `entry` (LedgerEntry or an alias of it) has not been undone by a reversal.

    Figures of what customers did (purchases, revenue, points issued and redeemed, visits) leave
    reversed entries out, and every query filters on kind, which leaves the `reversal` entries
    themselves out. One indexed probe per entry (ix_ledger_entries_reversed_entry_id).
    """
    undo = aliased(LedgerEntry, name="undo")
    return ~exists().where(undo.reversed_entry_id == entry.id)


Index("ix_ledger_entries_created_kind", LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.card_id)


# Index-only counts for the dashboard's summary and campaigns (PostgreSQL reads only the
# index where the visibility map says a page is all-visible: VACUUM, i.e. autovacuum, keeps it
# so). A brand's cards in id order (voided or not), to join with the cards that are in a wallet:
Index("ix_cards_brand_id_voided", Card.brand_id, Card.id, Card.voided)


# Roll-ups of the ledger for the dashboard (service/analytics/rollups.py): sums over every card's
# contribution as of ledger entry `analytics_rollup_state.ledger_id`; days are UTC days since
# 1970-01-01, months year * 12 + month; "none" days are the sentinels NO_DAY / NEVER there.
Index("ix_cards_brand_voided", Card.brand_id, Card.created_at, postgresql_where=text("voided"),
      sqlite_where=text("voided"))


class CatalogueReward(Base):
    """A reward in a program's catalogue: what it is and what it costs (service/loyalty/rewards.py).

    It costs `cost_points` (points and cashback programs: bought with points), or a full stamp card
    (`costs_full_card`, stamp programs: a full card's reward may be taken as this), or nothing: then
    it is a coupon the brand grants. `valid_days` (None: no end) starts when a card comes to hold it.
    Never deleted (held rewards point at it): `active` false takes it out of the catalogue.
    """

    __tablename__ = "catalogue_rewards"
    __table_args__ = (Index("ix_catalogue_rewards_program_id", "program_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    cost_points: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    costs_full_card: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


#: Where a held reward came from: a stamp card's ladder rung or full card, bought with points, a coupon.
HELD_REWARD_SOURCES = ("ladder", "full_card", "bought", "coupon")


class HeldReward(Base):
    """A reward or coupon a card holds, until it is redeemed at the till, expires or is cancelled.

    One table for every source (`HELD_REWARD_SOURCES`); the stamp cards' earned rewards live here
    too (migration 0012 moved the old `stamp_rewards` rows in, keeping their ids). `ledger_entry_id`
    is the entry that earned it (the stamp or purchase, the `reward_buy`, the `reward_grant`), so an
    undone entry finds what it earned; `redeemed_entry_id` the `reward_redeem` entry. Redeemable
    means: not redeemed, not cancelled and `expires_at` (None: never) still ahead, checked at the
    moment of redemption; `expiry_noted_at` is when the expiry job took it off the pass.
    """

    __tablename__ = "held_rewards"
    __table_args__ = (
        Index("ix_held_rewards_card_id", "card_id", "id"),
        Index("ix_held_rewards_expires_at", "expires_at"),
        Index("ix_held_rewards_ledger_entry_id", "ledger_entry_id"),
        Index("ix_held_rewards_redeemed_entry_id", "redeemed_entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    catalogue_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_rewards.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # coupons: who granted it (api | console | campaign | journey | birthday)
    origin: Mapped[str | None] = mapped_column(String(20), nullable=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), nullable=True)
    # stamp rewards: on which card cycle (1 = the first card) and at which stamp
    card_cycle: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at_stamp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    redeemed_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True)
    redeemed_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    redeemed_cashier_id: Mapped[int | None] = mapped_column(ForeignKey("cashiers.id"), nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True)
    expiry_noted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def full_card(self) -> bool:
        return self.source == "full_card"


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
