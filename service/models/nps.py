"""NPS surveys and answers."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.programs import Program


class NpsSurvey(Base):
    """"How likely are you to recommend us?" (0-10), asked on the back of a program's passes
    while the survey runs (starts_at <= now < ends_at; no end = until stopped)."""

    __tablename__ = "nps_surveys"
    __table_args__ = (Index("ix_nps_surveys_program_period", "program_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    question: Mapped[str] = mapped_column(String(300), default="How likely are you to recommend us to a friend?")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The program's passes were given a new version when the survey started / ended (the job
    # in service/nps/tasks.py does it for surveys that start or end at a set time).
    shown_on_passes: Mapped[bool] = mapped_column(Boolean, default=False)
    removed_from_passes: Mapped[bool] = mapped_column(Boolean, default=False)

    program: Mapped[Program] = relationship()


class NpsAnswer(Base):
    """One card's answer to one survey: unique per (survey, card), changed in place while the
    survey runs. `store_id` is where the answer is attributed: the customer's home store,
    else the store of the card's last transaction."""

    __tablename__ = "nps_answers"
    __table_args__ = (UniqueConstraint("survey_id", "card_id"),
                      CheckConstraint("score >= 0 AND score <= 10", name="ck_nps_answers_score"),
                      Index("ix_nps_answers_brand_answered", "brand_id", "answered_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("nps_surveys.id"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
