"""Campaigns, their recipients, product subscriptions and restock events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.brands import Store


#: How long after its start a campaign's recipients' purchases count as its conversions.
ATTRIBUTION_WINDOW = dt.timedelta(days=7)


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
    # message: a coupon each recipient gets with the message (service/loyalty/rewards.py CouponSpec
    # fields: reward_id | name, description, valid_days); None: none
    coupon: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
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
    # The recipients' purchases in the 7 days after the start, once final (service/analytics/figures.py);
    # cleared again when a purchase of the window is undone (service/loyalty/reversal_hooks.py)
    buyers_7d: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    purchases_7d: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revenue_7d: Mapped[Decimal | None] = mapped_column(Numeric(16, 2), nullable=True)
    # The share of the audience kept back to measure lift (service/campaigns/holdout.py); 0: none
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Money the brand counts against the campaign (its offer, its production), for ROMI; None: unknown
    cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)


class CampaignRecipient(Base):
    """A card a campaign reached, or kept back (`holdout`: recorded, sent nothing); unique per
    (campaign, card), so nobody gets it twice. `reachable`: the card had an active device
    registration or a Google Wallet object when the campaign came to it (None: recorded before
    this was kept)."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (UniqueConstraint("campaign_id", "card_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))  # indexed by the unique constraint
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    holdout: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reachable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


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
