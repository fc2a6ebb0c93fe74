"""What a journey does for one card that entered it (the message goes in bulk: messages.py).

Each gift is written under a key of the entry ("journey:<journey id>:<entry id>", its coupon
"...:coupon"), so even a replay of the same entry could not give twice; the entry itself is
once per occurrence. An action the card's program cannot take (points on a stamp card, stamps on
a points card, a coupon whose reward is gone) is skipped with a log line, and the others still run:
each one runs in a savepoint, so a refusal undoes nothing but itself.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from service.journeys.triggers import Occurrence
from service.loyalty import rewards
from service.loyalty.cards import display_number
from service.loyalty.engine import JOURNEY_KEY_PREFIX, LoyaltyError, TransactionRequest, post_transaction
from service.models import Card, Journey, JourneyTask, Program, utcnow
from service.webhooks import events

log = logging.getLogger(__name__)

POINTS_KINDS = frozenset({"points", "cashback"})
EVENT = "journey.entered"


@dataclass(frozen=True)
class NewEntry:
    """An entry just inserted (so its actions are due), with the occurrence that made it."""

    id: int
    card_id: int
    occurrence: Occurrence


def key(journey_id: int, entry_id: int) -> str:
    return f"{JOURNEY_KEY_PREFIX}{journey_id}:{entry_id}"


def run(session: Session, journey: Journey, program: Program, entry: NewEntry, now: dt.datetime,
        has_message: bool) -> int:
    """Every action but the message, for one entry; returns the points (or stamps) given."""
    given = 0
    for action in journey.actions or []:
        kind = action.get("type")
        try:
            with session.begin_nested():
                if kind in ("points", "stamps"):
                    given += _gift(session, journey, program, entry, action, now)
                elif kind == "coupon":
                    _coupon(session, journey, entry, action, now, has_message)
                elif kind == "webhook":
                    _webhook(session, journey, entry)
                elif kind == "task":
                    _task(session, journey, entry, action, now)
        except LoyaltyError as refused:
            log.warning("journey %s, entry %s: %s action skipped: %s", journey.id, entry.id, kind, refused)
    return given


def _gift(session: Session, journey: Journey, program: Program, entry: NewEntry, action: dict[str, Any],
          now: dt.datetime) -> int:
    kind = action["type"]
    takes = program.kind in POINTS_KINDS if kind == "points" else program.kind == "stamps"
    if not takes:
        log.warning("journey %s: a %s action on a %s program is skipped (card %s)", journey.id, kind,
                    program.kind, entry.card_id)
        return 0
    number = int(action[kind])
    request = (TransactionRequest(type="earn", points=number, reason=f"journey: {journey.name}"[:300])
               if kind == "points" else
               TransactionRequest(type="stamp", stamps=number, reason=f"journey: {journey.name}"[:300]))
    # the brand's own gift: the till's safeguards (per-transaction limits) are not the point here
    outcome = post_transaction(session, entry.card_id, request, key(journey.id, entry.id), now=now, limits=False)
    return 0 if outcome.replayed else number


def _coupon(session: Session, journey: Journey, entry: NewEntry, action: dict[str, Any], now: dt.datetime,
            has_message: bool) -> None:
    coupon = rewards.CouponSpec(reward_id=action.get("reward_id"), name=action.get("name"),
                                description=action.get("description"), valid_days=action.get("valid_days"),
                                origin="journey", reason=f"journey: {journey.name}"[:300])
    # with a message the message's bump shows the coupon too: one new version, one push
    rewards.grant(session, entry.card_id, coupon, f"{key(journey.id, entry.id)}:coupon", now=now,
                  bump=not has_message)


def _webhook(session: Session, journey: Journey, entry: NewEntry) -> None:
    card = session.get(Card, entry.card_id)
    assert card is not None
    events.emit(session, journey.brand_id, EVENT, events.card_data(
        card, journey_id=journey.id, journey=journey.name, trigger=journey.trigger,
        occurrence=entry.occurrence.key, entry_id=entry.id, store_id=entry.occurrence.store_id))


def _task(session: Session, journey: Journey, entry: NewEntry, action: dict[str, Any], now: dt.datetime) -> None:
    """A task for the store manager: who (name, card number, phone, e-mail), why, what they said.
    The store: where the answer (or visit) is attributed, else the customer's home store."""
    card = session.get(Card, entry.card_id)
    assert card is not None
    customer = card.customer
    detail: dict[str, Any] = {"customer": customer.name, "card_number": display_number(card),
                              "phone": customer.phone, "email": customer.email, "trigger": journey.trigger,
                              "occurrence": entry.occurrence.key, **entry.occurrence.detail}
    session.add(JourneyTask(brand_id=journey.brand_id, journey_id=journey.id, entry_id=entry.id, card_id=card.id,
                            store_id=entry.occurrence.store_id or customer.home_store_id, text=action["text"],
                            detail=detail, created_at=now or utcnow()))
    session.flush()
