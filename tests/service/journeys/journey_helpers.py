"""Shared by the journeys tests: cards, purchases and journeys written straight to the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.journeys import evaluate
from service.journeys.definitions import validate
from service.loyalty.cards import CustomerDetails, issue_card
from service.loyalty.engine import TransactionRequest, post_transaction
from service.models import Journey, JourneyEntry, Program, utcnow

MINUTE = dt.timedelta(minutes=1)


def card(session: Session, program_id: int, name: str, **details: Any) -> int:
    program = session.get(Program, program_id)
    assert program is not None
    made, _ = issue_card(session, program, CustomerDetails(name=name, **details))
    session.commit()
    return made.id


def purchase(session: Session, card_id: int, amount: str, key: str, now: dt.datetime | None = None,
             store_id: int | None = None) -> dict[str, Any]:
    outcome = post_transaction(session, card_id, TransactionRequest(type="purchase", amount=Decimal(amount),
                                                                    store_id=store_id), key, now=now)
    session.commit()
    return outcome.response


def journey(session: Session, program_id: int, trigger: str, value: int | None = None,
            actions: list[dict[str, Any]] | None = None, *, holdout: int = 0,
            conditions: dict[str, Any] | None = None, name: str = "J") -> int:
    program = session.get(Program, program_id)
    assert program is not None
    definition = validate(trigger, value, conditions, actions or [{"type": "webhook"}])
    row = Journey(brand_id=program.brand_id, program_id=program_id, name=name, trigger=definition.trigger,
                  trigger_value=definition.trigger_value, conditions=definition.conditions,
                  actions=definition.actions, holdout_percent=holdout, enabled=True)
    session.add(row)
    session.commit()
    return row.id


def events(session: Session, now: dt.datetime | None = None, **kwargs: Any) -> evaluate.Run:
    """The minute job, a minute after the changes (past the settle time)."""
    return evaluate.evaluate_events(session, (now or utcnow()) + MINUTE, **kwargs)


def entries(session: Session, journey_id: int) -> list[JourneyEntry]:
    session.expire_all()
    return list(session.scalars(select(JourneyEntry).where(JourneyEntry.journey_id == journey_id)
                                .order_by(JourneyEntry.id)))


def keys(session: Session, journey_id: int) -> list[tuple[int, str]]:
    return [(entry.card_id, entry.occurrence) for entry in entries(session, journey_id)]
