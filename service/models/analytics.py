"""Analytics caches and roll-ups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


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
