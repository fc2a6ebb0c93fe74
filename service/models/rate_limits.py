"""Rate-limit counters (the database storage of the shared limits)."""

from __future__ import annotations

from sqlalchemy import (
    Double,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base


class RateLimitCounter(Base):
    """One rate-limit window of one caller (service/web/rate_limit_storage.py): shared by every web
    process when there is no Redis. `expires_at` is epoch seconds; ended windows are deleted."""

    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index("ix_rate_limit_counters_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Double)
