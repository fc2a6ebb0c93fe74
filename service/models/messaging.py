"""Messaging rules: a program's frequency cap and quiet hours, the customer's opt-out, the
messages each card got, and the campaign messages held back by those rules.

The rules live apart from `programs` and `cards` (one row per program that set any, one per
card that opted out) so that a card that never opted out and a program that never set a cap
cost nothing; service/campaigns/pacing.py reads them all in a few queries per batch.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


class MessagingRules(Base):
    """A program's limits on marketing messages (campaigns, journeys) per card.

    `cap_count` messages per `cap_days` days at most (None: no cap); quiet hours are the local
    times [quiet_start, quiet_end) ("21:00".."08:00" wraps midnight; None: none) in the
    customer's time zone (home store's, else the program's, else UTC); `over_cap` says what
    becomes of a message over the cap: "defer" (sent once the cap allows) or "drop".
    """

    __tablename__ = "messaging_rules"

    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    cap_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cap_days: Mapped[int] = mapped_column(Integer, default=7)
    quiet_start: Mapped[str | None] = mapped_column(String(5), nullable=True)
    quiet_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    over_cap: Mapped[str] = mapped_column(String(8), default="defer")  # defer | drop
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MessageOptOut(Base):
    """A card whose holder turned marketing messages off (from the link on the pass's back)."""

    __tablename__ = "message_opt_outs"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    opted_out_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CardMessage(Base):
    """One marketing message a card got ("campaign:12", "journey:3:welcome"): what caps count."""

    __tablename__ = "card_messages"
    __table_args__ = (Index("ix_card_messages_card_sent", "card_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    source: Mapped[str] = mapped_column(String(60))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PacedRecipient(Base):
    """A campaign recipient the rules held back: deferred (until `defer_until`), dropped, or
    deferred and later sent (`state` "sent", `sent_at`). A recipient without a row here got the
    campaign at once. The reason is the first rule that held it: cap | quiet_hours | opted_out.
    """

    __tablename__ = "paced_recipients"
    __table_args__ = (Index("ix_paced_recipients_due", "state", "defer_until"),
                      Index("ix_paced_recipients_campaign", "campaign_id", "state"))

    recipient_id: Mapped[int] = mapped_column(ForeignKey("campaign_recipients.id"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    state: Mapped[str] = mapped_column(String(10))  # deferred | dropped | sent
    reason: Mapped[str] = mapped_column(String(20))  # cap | quiet_hours | opted_out (the latest hold)
    defer_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
