"""A journey's message: on the pass (the news field, a new version, a push) and in Google Wallet,
under the same rules as every campaign (service/campaigns/pacing.py: opt-out, the frequency cap
shared by campaigns and journeys, quiet hours).

`deliver` is called in the evaluator's transaction for a batch of new entries: it asks the rules
for all of them at once, puts the allowed messages on the passes in bulk (one UPDATE per text),
queues their Google messages (sent after the commit, or by the minute sweeper if that dies),
counts them against the cap (`record_messages`, source "journey:<id>") and writes on each entry
what became of its message: sent | deferred | dropped | opted_out.

A deferred entry keeps `message_due_at`; `send_due` (the minute job) claims the due ones
(UPDATE ... WHERE message = 'deferred' RETURNING, in one transaction with the sending: two
workers never both get an entry, a dead one rolls its claim back), asks the rules again and
sends, re-defers or drops them. Nothing deferred is lost and nothing is sent twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from service.campaigns import pacing
from service.campaigns.common import pick_message, queue_google
from service.google_wallet.messages import NOTIFY
from service.journeys import playbooks
from service.models import Card, Customer, GoogleMessage, Journey, JourneyEntry, Program, utcnow
from service.push.fanout import bump_cards

log = logging.getLogger(__name__)

BATCH = 500
#: session.info key: how many Google messages this session queued (the job sends them after the commit)
GOOGLE_QUEUED = "journeys_google_queued"
BUDGET = dt.timedelta(seconds=50)


def source(journey_id: int) -> str:
    """How a journey's messages are named among a card's messages (CardMessage.source)."""
    return f"journey:{journey_id}"


def google_message_id(entry_id: int) -> str:
    return f"passcast-j{entry_id}"


def message_action(journey: Journey) -> dict[str, Any] | None:
    return next((action for action in journey.actions or [] if action.get("type") == "message"), None)


def render(action: dict[str, Any], language: str | None, name: str | None, card: Card | None = None) -> str:
    """The customer's language variant with its placeholders filled (service/journeys/playbooks.py
    PLACEHOLDERS): "{name}" from the row at hand; the others ({balance}, {points_needed}, ...) from
    `card`, loaded only for texts that use them."""
    text = pick_message(action.get("text") or "", action.get("variants"), language)
    if card is not None and needs_card(text):
        return playbooks.render(text, card, {"name": (name or "").split(" ")[0]})
    return text.replace("{name}", (name or "").split(" ")[0]) if "{name}" in text else text


def needs_card(text: str) -> bool:
    """Whether a text uses a placeholder other than {name} (those read the card)."""
    return any(f"{{{name}}}" in text for name in playbooks.PLACEHOLDERS if name != "name")


def _set(session: Session, states: dict[int, tuple[str, dt.datetime | None]]) -> None:
    if not states:
        return
    table = JourneyEntry.__table__
    session.execute(update(table).where(table.c.id == bindparam("entry")).values(
        message=bindparam("state"), message_due_at=bindparam("due")),
        [{"entry": entry_id, "state": state, "due": due} for entry_id, (state, due) in states.items()])


def deliver(session: Session, journey: Journey, items: Sequence[tuple[int, int]], now: dt.datetime,
            also_bump: Collection[int] = ()) -> dict[int, str]:
    """Send (or defer, or drop) the journey's message for (entry id, card id) items; returns
    entry id -> what became of it. Cards of `also_bump` that got no message now still get a new
    version (their coupon was granted without one). In the caller's transaction."""
    action = message_action(journey)
    result: dict[int, str] = {}
    if action is None or not items:
        return result
    pending = list(items)
    sent_cards: list[int] = []
    while pending:  # a card twice in one batch: its second message asks the rules after the first
        this_round, later, seen = [], [], set()
        for item in pending:
            (later if item[1] in seen else this_round).append(item)
            seen.add(item[1])
        pending = later
        sent_cards += _round(session, journey, action, this_round, now, result)
    rest = sorted(set(also_bump) - set(sent_cards))
    if rest:
        bump_cards(session, rest)
        queue_google(session, rest)
    return result


def _round(session: Session, journey: Journey, action: dict[str, Any], items: Sequence[tuple[int, int]],
           now: dt.datetime, result: dict[int, str]) -> list[int]:
    decisions = pacing.decide_many(session, [card_id for _, card_id in items], now)
    states: dict[int, tuple[str, dt.datetime | None]] = {}
    allowed: list[tuple[int, int]] = []
    for entry_id, card_id in items:
        decision = decisions.get(card_id, pacing.Decision(pacing.DROP, "voided"))
        if decision.allowed:
            allowed.append((entry_id, card_id))
            states[entry_id] = ("sent", None)
        elif decision.drop:
            states[entry_id] = ("opted_out" if decision.reason == "opted_out" else "dropped", None)
        else:
            states[entry_id] = ("deferred", decision.defer_until)
    if allowed:
        _send(session, journey, action, allowed, now)
    _set(session, states)
    result.update({entry_id: state for entry_id, (state, _) in states.items()})
    return [card_id for _, card_id in allowed]


def _send(session: Session, journey: Journey, action: dict[str, Any], allowed: Sequence[tuple[int, int]],
          now: dt.datetime) -> None:
    card_ids = sorted({card_id for _, card_id in allowed})
    people = {card_id: (language, name, google) for card_id, language, name, google in session.execute(
        select(Card.id, Customer.language, Customer.name, Card.google_synced_version)
        .join(Customer, Customer.id == Card.customer_id).where(Card.id.in_(card_ids)))}
    variants = [action.get("text") or "", *(action.get("variants") or {}).values()]
    cards = ({card.id: card for card in session.scalars(select(Card).where(Card.id.in_(card_ids)))}
             if any(needs_card(text) for text in variants) else {})
    texts = {card_id: render(action, people[card_id][0], people[card_id][1], cards.get(card_id))
             for card_id in card_ids}
    by_text: dict[str, list[int]] = defaultdict(list)
    for card_id, text in texts.items():
        by_text[text].append(card_id)
    for text, ids in by_text.items():
        bump_cards(session, ids, values={"news": text})
    queue_google(session, card_ids)
    header = session.scalar(select(Program.name).where(Program.id == journey.program_id)) or journey.name
    rows = [{"card_id": card_id, "campaign_id": None, "message_id": google_message_id(entry_id),
             "header": header[:200], "body": texts[card_id], "message_type": NOTIFY, "status": "queued",
             "created_at": utcnow()}
            for entry_id, card_id in allowed if people[card_id][2] is not None]
    if rows:
        session.execute(insert(GoogleMessage), rows)
        session.info[GOOGLE_QUEUED] = session.info.get(GOOGLE_QUEUED, 0) + len(rows)
    pacing.record_messages(session, card_ids, source(journey.id), now)


def due(session: Session, now: dt.datetime, limit: int = BATCH) -> list[int]:
    return list(session.scalars(select(JourneyEntry.id).where(
        JourneyEntry.message == "deferred", JourneyEntry.message_due_at <= now)
        .order_by(JourneyEntry.message_due_at, JourneyEntry.id).limit(limit)))


def send_due(session: Session, now: dt.datetime | None = None, *, limit: int = BATCH,
             budget: dt.timedelta = BUDGET) -> int:
    """Send the deferred journey messages due at `now` (one transaction per batch); returns how
    many went out now."""
    now = now or utcnow()
    sent, stop = 0, utcnow() + budget
    while True:
        ids = due(session, now, limit)
        if not ids:
            session.rollback()
            return sent
        claimed = session.execute(
            update(JourneyEntry).where(JourneyEntry.id.in_(ids), JourneyEntry.message == "deferred",
                                       JourneyEntry.message_due_at <= now)
            .values(message="claimed").returning(JourneyEntry.id, JourneyEntry.card_id, JourneyEntry.journey_id)
            .execution_options(synchronize_session=False)).all()
        by_journey: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for entry_id, card_id, journey_id in claimed:
            by_journey[journey_id].append((entry_id, card_id))
        for journey_id, items in sorted(by_journey.items()):
            journey = session.get(Journey, journey_id)
            if journey is None or not journey.enabled or message_action(journey) is None:
                _set(session, {entry_id: ("dropped", None) for entry_id, _ in items})
                continue
            outcome = deliver(session, journey, sorted(items, key=lambda item: item[1]), now)
            sent += sum(1 for state in outcome.values() if state == "sent")
        session.commit()
        if utcnow() >= stop:
            return sent
