"""Cashiers and paired tills."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.brands import Brand, Store


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
    # PIN sign-in on a paired till (service/cashier/pins.py): a slow hash only, never the PIN;
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
