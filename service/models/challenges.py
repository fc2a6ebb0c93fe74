"""Challenges: "N qualifying visits or purchases within a period earn a bonus", and each card's
progress through each window of one.

The rules are service/journeys/challenges.py. A progress row is one card in one window of one
challenge: the fixed period (starts_at..ends_at), or a rolling window of `rolling_days` from the
card's first qualifying transaction. The unique (challenge, card, window start) is what makes a
window complete at most once; the ledger entries that counted are listed on the row, so undoing
one of them takes exactly its step back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


class Challenge(Base):
    """One challenge of a program: `target` transactions that count (`counts`: visits = any
    purchase or stamp; purchases = purchases of at least `min_amount`, None: any amount) between
    `starts_at` and `ends_at` (None: open-ended), each card within `rolling_days` of its first
    counted one when set, earn `bonus`: points (`bonus_amount`, points and cashback programs),
    stamps (`bonus_amount`, stamp programs) or a coupon (a catalogue reward `coupon_reward_id`, or
    one named `coupon_name`, valid `coupon_valid_days`). Only `enabled` challenges count."""

    __tablename__ = "challenges"
    __table_args__ = (Index("ix_challenges_program_enabled", "program_id", "enabled"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    name: Mapped[str] = mapped_column(String(60))
    counts: Mapped[str] = mapped_column(String(12), default="visits")  # visits | purchases
    min_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    target: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rolling_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bonus: Mapped[str] = mapped_column(String(8))  # points | stamps | coupon
    bonus_amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # no foreign key, as for programs.birthday_reward_id: the catalogue reward is checked on save
    coupon_reward_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    coupon_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    coupon_valid_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChallengeProgress(Base):
    """One card's progress through one window of a challenge: `entry_ids` are the ledger entries
    that counted (their number is `count`), `completed_at` when it reached the target, `bonus_entry_id`
    the ledger entry of the bonus then given (an earn, a stamp or a reward_grant). `completions`
    counts how often the window completed (an undo can take a completion back, and the bonus of the
    next one gets a fresh idempotency key)."""

    __tablename__ = "challenge_progress"
    __table_args__ = (UniqueConstraint("challenge_id", "card_id", "window_starts_at",
                                       name="uq_challenge_progress_window"),
                      Index("ix_challenge_progress_card_window", "card_id", "window_ends_at"),
                      # the hourly sweep's range: windows that ran out since the last one
                      Index("ix_challenge_progress_window_end", "window_ends_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    window_starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    window_ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=0)
    entry_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completions: Mapped[int] = mapped_column(Integer, default=0)
    bonus_entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
