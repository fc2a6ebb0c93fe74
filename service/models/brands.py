"""Brands, their API keys, signing certificates and stores."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.programs import Program


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
    # What the key may do (service/access/scopes.py): read_only | cashier | campaigns | full.
    # Keys made before scopes existed are full, so their integrations keep working.
    scope: Mapped[str] = mapped_column(String(20), default="full", server_default="full")
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
    # IANA time zone of the store (None: the program's): quiet hours of its customers (home store).
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)

    brand: Mapped[Brand] = relationship(back_populates="stores")
