"""Journeys: automatic playbooks a program runs on its own (trigger, conditions, actions), the
occurrences each card entered, the tasks they left for store managers, and how far the
evaluator has read the changes it scans.

A journey's trigger, conditions and actions are stored as the validated shapes of
service/journeys/definitions.py (JSON here, so a new action needs no migration).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


class Journey(Base):
    """One automatic playbook of a program: when `trigger` fires for a card (with `trigger_value`:
    the N of "Nth visit", the days of "lapsed"/"points expiring", the score of an NPS answer, the
    points of "reward within reach"), and the card meets `conditions`, each of `actions` runs once
    for that occurrence. `holdout_percent` of the entering cards (a stable hash) get nothing and are
    the comparison group of the journey's lift report. `playbook` names the ready-made journey it was
    switched on from (None: built by hand)."""

    __tablename__ = "journeys"
    __table_args__ = (Index("ix_journeys_program_trigger", "program_id", "trigger", "enabled"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(30))
    trigger_value: Mapped[int | None] = mapped_column(Integer, nullable=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=10)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    playbook: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # what one message or gift costs the brand beyond points (money, the program's currency), for ROMI
    cost_per_entry: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JourneyEntry(Base):
    """A card entering a journey for one occurrence of its trigger ("join", "visit:5",
    "lapsed:2026-11-03", "nps:17"). The unique (journey, card, occurrence) is what makes entry
    exactly once across retries, restarts and two workers. `holdout`: chosen for the comparison
    group (nothing was done). `outcome`: "done" (every action ran), "held" (holdout), or a skip
    reason ("conditions", "voided"); `message` what became of its message: sent | deferred |
    dropped | opted_out | None (no message action). `reachable`: a phone or Google held the card."""

    __tablename__ = "journey_entries"
    __table_args__ = (UniqueConstraint("journey_id", "card_id", "occurrence", name="uq_journey_entries_once"),
                      Index("ix_journey_entries_journey_entered", "journey_id", "entered_at"),
                      Index("ix_journey_entries_message_due", "message", "message_due_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    occurrence: Mapped[str] = mapped_column(String(80))
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(String(20), default="done")
    message: Mapped[str | None] = mapped_column(String(12), nullable=True)
    reachable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    points_given: Mapped[int] = mapped_column(BigInteger, default=0)
    # a deferred message (`message` "deferred"): when the messaging rules let it go
    message_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JourneyTask(Base):
    """Something a journey asks a store manager to do (call back an NPS detractor): who, why,
    what they said. Open until someone with the store marks it done."""

    __tablename__ = "journey_tasks"
    __table_args__ = (Index("ix_journey_tasks_brand_state", "brand_id", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("journey_entries.id"), unique=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(8), default="open")  # open | done
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class JourneyWatermark(Base):
    """How far the evaluator has read one stream of changes ("ledger", "nps"): the last id handled.
    Moved in the same transaction as the entries it produced, so a killed worker re-reads only
    what it had not committed (and the unique entry makes re-reading harmless)."""

    __tablename__ = "journey_watermarks"

    stream: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
