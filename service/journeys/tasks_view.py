"""The tasks journeys leave for store managers, as the API and the console list them: who (the
customer, how to reach them), what to do, what they said (the NPS score and comment the
evaluator put in `detail`), where, and whether someone has done it.

Narrowing to a store manager's stores is the caller's (service/access/store_scope.visible), so
the API and the console page apply the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from passes.cardcode import short_number
from service.models import Card, Customer, Journey, JourneyTask, Store


def statement(brand_id: int, *, state: str = "open", store_id: int | None = None,
              journey_id: int | None = None) -> Select[Any]:
    """The brand's tasks (state open | done | all), optionally of one store or journey."""
    found = select(JourneyTask).where(JourneyTask.brand_id == brand_id)
    if state != "all":
        found = found.where(JourneyTask.state == state)
    if store_id is not None:
        found = found.where(JourneyTask.store_id == store_id)
    if journey_id is not None:
        found = found.where(JourneyTask.journey_id == journey_id)
    return found


def views(session: Session, tasks: Sequence[JourneyTask]) -> list[dict[str, Any]]:
    """Each task with its customer, card number, store and journey names (one query for them all)."""
    if not tasks:
        return []
    card_ids = {task.card_id for task in tasks}
    cards = {row.id: row for row in session.execute(
        select(Card.id, Card.number, Customer.name, Customer.phone, Customer.email)
        .join(Customer, Customer.id == Card.customer_id).where(Card.id.in_(card_ids)))}
    stores: dict[int, str] = {row.id: row.name for row in session.execute(select(Store.id, Store.name).where(
        Store.id.in_({task.store_id for task in tasks if task.store_id is not None})))}
    journeys: dict[int, str] = {row.id: row.name for row in session.execute(select(Journey.id, Journey.name).where(
        Journey.id.in_({task.journey_id for task in tasks})))}
    found = []
    for task in tasks:
        card = cards.get(task.card_id)
        found.append({
            "id": task.id, "journey_id": task.journey_id, "journey_name": journeys.get(task.journey_id, ""),
            "card_id": task.card_id, "card_number": short_number(card.number) if card else "",
            "customer_name": card.name if card else "", "customer_phone": card.phone if card else None,
            "customer_email": card.email if card else None, "store_id": task.store_id,
            "store_name": stores.get(task.store_id) if task.store_id is not None else None,
            "text": task.text, "detail": task.detail or {}, "state": task.state, "created_at": task.created_at,
            "done_at": task.done_at, "done_by": task.done_by})
    return found
