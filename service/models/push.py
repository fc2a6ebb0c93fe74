"""Push deliveries (the outbox of every push, both wallets)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


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


# A campaign's funnel per card. Replaces the index on campaign_id alone: status updates (the
# delivery path) already write every index of the table (status is indexed), so no extra index.
Index("ix_push_deliveries_campaign_card_status", PushDelivery.campaign_id, PushDelivery.card_id,
      PushDelivery.status)
