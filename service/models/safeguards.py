"""The till's safeguards: refusals of the program's earning limits, kept to be counted.

A refused transaction writes nothing to the ledger (it is rolled back); the refusal itself is
recorded here in a transaction of its own, so the brand can see how often each rule stops a till
and where (GET /api/v1/programs/{id}/refusals). Rules: service/loyalty/limits.py.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


class LimitRefusal(Base):
    """One transaction a program limit refused: which rule, which card, where and by whom."""

    __tablename__ = "limit_refusals"
    __table_args__ = (Index("ix_limit_refusals_program_created", "program_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("cashiers.id"), nullable=True)
    # once_per_hours | daily_cap | per_transaction_cap (service/loyalty/limits.py RULES)
    rule: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
