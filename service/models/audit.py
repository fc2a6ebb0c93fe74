"""The audit log: who changed what in a brand, and when (service/audit/)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One change, written in the same transaction as the change itself, so a change without its
    entry (or an entry for a change rolled back) cannot exist. Never holds a secret."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_brand_id_id", "brand_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # api_key | staff | cashier | system; the id of that key, account or cashier; how a person reads it
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_label: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(60))  # e.g. program.updated, card.voided, api_key.created
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # {"field": {"before": ..., "after": ...}} for changed fields, or a few facts of a creation
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
