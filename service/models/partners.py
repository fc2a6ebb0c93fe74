"""Partner (coalition) programs: the brands a host brand admits to one of its programs, and the
cards a partner's counter has just seen (service/loyalty/partners.py holds the rules)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.brands import Brand
    from service.models.programs import Program


class ProgramPartner(Base):
    """A brand invited to, or taking part in, another brand's program.

    invited (joined_at None) -> active (joined_at set) -> left (left_at set: removed by the host or
    left by the partner). Only the host invites, only the invited brand accepts, so no brand can
    attach itself to a program without its host's consent. A re-invitation after leaving reuses the
    row (the audit log keeps the history; the ledger keeps who posted what).
    """

    __tablename__ = "program_partners"
    __table_args__ = (UniqueConstraint("program_id", "brand_id", name="uq_program_partners_program_brand"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    invited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    invited_by: Mapped[str] = mapped_column(String(200), default="")
    joined_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    program: Mapped[Program] = relationship()
    brand: Mapped[Brand] = relationship()

    @property
    def status(self) -> str:
        if self.left_at is not None:
            return "left"
        return "active" if self.joined_at is not None else "invited"


class PartnerPresentation(Base):
    """A coalition card scanned (signed code) at a partner's counter, and when.

    Card ids are sequential: without this, a partner's credential could walk every id of the
    host's program and redeem points it would then be paid for in the settlement. A partner reaches
    a card of another brand by id (GET, transactions) only within a short window after one of its
    cashiers scanned it (service/loyalty/partners.py PRESENTATION_WINDOW).
    """

    __tablename__ = "partner_presentations"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), primary_key=True)
    presented_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
