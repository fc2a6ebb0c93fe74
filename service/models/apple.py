"""Apple Wallet: stored pass files, device registrations, device logs, personalisation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


class PassFile(Base):
    """The signed .pkpass of a card's current version: signed once, served many times.

    With `resources` set (rows stored since 0022), `data` holds only the card's own members
    (pass.json, manifest.json, signature: passes.package.PassParts) and `resources` is the key of
    the program's image and pass.strings set they were signed with; the archive is put together
    when served (service/apple/pass_files.py `archive`). Without it, `data` is the whole .pkpass.
    """

    __tablename__ = "pass_files"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    data: Mapped[bytes] = mapped_column(LargeBinary)
    resources: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Registration(Base):
    """A device that holds a card and wants pushes when it changes (PassKit register call)."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("device_library_identifier", "card_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_library_identifier: Mapped[str] = mapped_column(String(255), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    pass_type_identifier: Mapped[str] = mapped_column(String(200))
    push_token: Mapped[str] = mapped_column(String(512))
    # apple (APNs) | relay (an Android app's own push service) | fcm (FCM token of our project)
    client_kind: Mapped[str] = mapped_column(String(10), default="apple")
    # For "relay": which app's relay (service/push/wallet_apps.py); NULL = walletpasses (rows before 0005).
    client_app: Mapped[str | None] = mapped_column(String(20), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why the token is not pushed (active False), or why its pushes cannot leave (unreachable:
    # its app's relay is not configured; active stays True so configuring it resumes them).
    dead_reason: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeviceLog(Base):
    """What Wallet reported through POST /v1/log, kept searchable per card.

    POST /v1/log carries no credential, so anyone can post any text naming any serial:
    `card_id` (the card itself said it) stays empty for such entries, and the card a message
    names is kept apart in `mentioned_card_id`, with where the text came from.
    """

    __tablename__ = "device_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), nullable=True, index=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    mentioned_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), nullable=True, index=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(200), nullable=True)


# Cards with an active PassKit registration (installed_apple, removed).
Index("ix_registrations_installed", Registration.card_id,
      postgresql_where=text("active IS TRUE AND client_kind IN ('apple', 'relay', 'fcm')"),
      sqlite_where=text("active IS TRUE AND client_kind IN ('apple', 'relay', 'fcm')"))


class PassPersonalization(Base):
    """A card's one rewards enrollment through Wallet (POST .../personalize).

    Unique per card: the insert decides which of two concurrent requests personalises it
    (on SQLite too, where there is no row lock), and a second attempt is refused.
    """

    __tablename__ = "pass_personalizations"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
