"""Google Wallet: messages and object sync events."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


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


# A card's latest Google Wallet callback (installed_google, removed).
Index("ix_google_wallet_events_card_last", GoogleWalletEvent.card_id, GoogleWalletEvent.id,
      postgresql_include=["event_type"])
