"""Brand staff who sign in to the console: accounts, their sessions, and invite / reset links.

Passwords and link tokens are stored hashed only (argon2 for passwords, SHA-256 for the 256-bit
link and session tokens, a salted SHA-256 for the random recovery codes); wrong passwords are
counted in the account's row so a lockout holds across processes (service/access/accounts.py).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.brands import Brand


class StaffAccount(Base):
    """A person of a brand: e-mail (unique across brands, so sign-in needs no brand name) and a role."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # store_manager only: the stores they manage, as comma-separated ids ("" = none)
    store_ids: Mapped[str] = mapped_column(String(500), default="", server_default="")
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    brand: Mapped[Brand] = relationship()

    @property
    def stores(self) -> frozenset[int]:
        return frozenset(int(part) for part in self.store_ids.split(",") if part.strip().isdigit())


class StaffSession(Base):
    """One signed-in browser. Server-side so that signing out (or out everywhere) ends it at once."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    csrf_token: Mapped[str] = mapped_column(String(64))
    # the password was right but the TOTP code is still to come: only the code step takes it
    mfa_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    account: Mapped[StaffAccount] = relationship()


class StaffLink(Base):
    """A single-use link: `invite` (makes an account for `email` with `role`) or `reset` (sets
    `account_id`'s password)."""

    __tablename__ = "staff_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    store_ids: Mapped[str] = mapped_column(String(500), default="", server_default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"),
                                                   nullable=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StaffRecoveryCode(Base):
    """One single-use recovery code for the TOTP step (service/access/recovery_codes.py): its hash
    only; `used_at` is set, by one conditional UPDATE, the one time it signs someone in."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
