"""Back in stock: cards subscribe to a SKU (optionally a size and/or colour); a restock
event tells every matching subscriber once, through their pass, and ends the subscription.

Matching: for size and for colour separately, a subscription without a value ("any size")
matches every event, and an event without a value ("all sizes are back") matches every
subscription; otherwise the values must be equal.

Exactly once: subscriptions are claimed with UPDATE ... SET ended_at ... WHERE ended_at IS
NULL RETURNING, so two events (or two workers) never claim the same one, and each event
writes its messages as a campaign of kind "restock" whose recipient rows are unique per
card. Batches commit one by one; an interrupted event stays "processing" and the periodic
job finishes it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import ColumnElement, and_, func, or_, select, true, update
from sqlalchemy.orm import Session

from service.campaigns.common import add_recipients, queue_google
from service.campaigns.google import queue_messages
from service.campaigns.sending import emit_finished
from service.models import Brand, Campaign, Card, Customer, ProductSubscription, RestockEvent, Store, utcnow
from service.push.fanout import bump_cards

BATCH = 1000
NAME_LENGTH = 200  # campaigns.name
AfterBatch = Callable[[int, dict[int, str]], None]


def _same_or_any(column: ColumnElement[str | None], value: str | None) -> ColumnElement[bool]:
    return true() if value is None else or_(column.is_(None), column == value)


def matching(brand_id: int, sku: str, size: str | None, colour: str | None) -> ColumnElement[bool]:
    return and_(ProductSubscription.brand_id == brand_id, ProductSubscription.sku == sku,
                ProductSubscription.ended_at.is_(None),
                _same_or_any(ProductSubscription.size, size), _same_or_any(ProductSubscription.colour, colour))


def subscribe(session: Session, card: Card, sku: str, size: str | None, colour: str | None,
              product_name: str | None) -> tuple[ProductSubscription, bool]:
    """The card's open subscription to exactly this SKU/size/colour, created if missing."""
    existing = session.scalar(select(ProductSubscription).where(
        ProductSubscription.card_id == card.id, ProductSubscription.sku == sku,
        ProductSubscription.ended_at.is_(None),
        ProductSubscription.size.is_(None) if size is None else ProductSubscription.size == size,
        ProductSubscription.colour.is_(None) if colour is None else ProductSubscription.colour == colour))
    if existing is not None:
        if product_name and existing.product_name != product_name:
            existing.product_name = product_name
        return existing, False
    subscription = ProductSubscription(brand_id=card.brand_id, card_id=card.id, sku=sku, size=size, colour=colour,
                                       product_name=product_name)
    session.add(subscription)
    session.flush()
    return subscription, True


def unsubscribe(session: Session, subscription: ProductSubscription) -> None:
    if subscription.ended_at is None:
        subscription.ended_at, subscription.end_reason = utcnow(), "unsubscribed"


def create_event(session: Session, brand_id: int, sku: str, size: str | None, colour: str | None,
                 product_name: str | None, store: Store | None) -> RestockEvent:
    """The event and its campaign (the caller commits, then runs `process`)."""
    variant = ", ".join(part for part in (size and f"size {size}", colour) if part)
    name = f"Back in stock: {product_name or sku}" + (f" ({variant})" if variant else "")
    if len(name) > NAME_LENGTH:  # a 200-character product name plus the variant: the campaign's name is shortened
        name = name[:NAME_LENGTH - 1] + "…"
    campaign = Campaign(brand_id=brand_id, kind="restock", status="sending", audience={}, name=name,
                        started_at=utcnow())
    session.add(campaign)
    session.flush()
    event = RestockEvent(brand_id=brand_id, sku=sku, size=size, colour=colour, product_name=product_name,
                         store_id=store.id if store is not None else None, campaign_id=campaign.id)
    session.add(event)
    session.flush()
    return event


def message(product: str, size: str | None, colour: str | None, store: str | None, language: str | None) -> str:
    """ "Linen shirt in size M is back at Demo Coffee Centraal" (English or Russian)."""
    if (language or "").lower().startswith("ru"):
        parts = [product] + ([f"размер {size}"] if size else []) + ([colour] if colour else [])
        return ", ".join(parts) + (f": снова в наличии в магазине {store}" if store else ": снова в наличии")
    variant = " and ".join(part for part in (colour, size and f"size {size}") if part)
    return f"{product}{f' in {variant}' if variant else ''} is back" + (f" at {store}" if store else " in stock")


def pending(session: Session, older_than: dt.datetime) -> list[int]:
    """Events still processing since before `older_than` (their job was lost or died)."""
    return list(session.scalars(select(RestockEvent.id).where(RestockEvent.status == "processing",
                                                              RestockEvent.created_at < older_than)))


def process(session: Session, event_id: int, *, batch: int = BATCH, max_batches: int | None = None,
            after_batch: AfterBatch | None = None) -> int:
    """Tell the event's subscribers, batch by batch; returns how many cards were told now."""
    event = session.get(RestockEvent, event_id, populate_existing=True)
    if event is None or event.status != "processing":
        return 0
    brand_id, campaign_id, store = event.brand_id, event.campaign_id, event.store
    store_name = store.name if store is not None else None
    brand = session.get(Brand, brand_id)
    brand_name = brand.name if brand is not None else "Back in stock"
    size, colour, sku, product = event.size, event.colour, event.sku, event.product_name
    condition = matching(brand_id, sku, size, colour)
    told, batches = 0, 0
    while True:
        ids = list(session.scalars(select(ProductSubscription.id).where(condition)
                                   .order_by(ProductSubscription.id).limit(batch)))
        if not ids:
            break
        claimed = session.execute(
            update(ProductSubscription).where(ProductSubscription.id.in_(ids), ProductSubscription.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason="notified", restock_event_id=event_id)
            .returning(ProductSubscription.card_id, ProductSubscription.size, ProductSubscription.colour,
                       ProductSubscription.product_name)
            .execution_options(synchronize_session=False)).all()
        wanted: dict[int, tuple[str | None, str | None, str | None]] = {}
        for card_id, sub_size, sub_colour, sub_product in sorted(claimed, key=lambda row: row[0]):
            wanted.setdefault(card_id, (size or sub_size, colour or sub_colour, product or sub_product))
        languages = dict(session.execute(select(Card.id, Customer.language).join(Customer)
                                         .where(Card.id.in_(wanted), Card.voided.is_(False))).all())
        voided = [card_id for card_id in wanted if card_id not in languages]
        if voided:  # ended, but nobody was told: say so
            session.execute(update(ProductSubscription).where(ProductSubscription.restock_event_id == event_id,
                                                              ProductSubscription.card_id.in_(voided))
                            .values(end_reason="card_voided").execution_options(synchronize_session=False))
        fresh = add_recipients(session, campaign_id, sorted(languages.items()))
        texts = {card_id: message(wanted[card_id][2] or sku, wanted[card_id][0], wanted[card_id][1], store_name,
                                  languages[card_id]) for card_id in fresh}
        by_text: dict[str, list[int]] = defaultdict(list)
        for card_id, text in texts.items():
            by_text[text].append(card_id)
        for text, card_ids in by_text.items():
            bump_cards(session, sorted(card_ids), values={"news": text}, campaign_id=campaign_id)
        queue_google(session, sorted(texts))
        queued = queue_messages(session, campaign_id, brand_name, texts)
        session.commit()
        told += len(fresh)
        batches += 1
        if after_batch is not None and queued:  # the batch has Google messages to send
            after_batch(campaign_id, texts)
        if max_batches is not None and batches >= max_batches:
            return told
    done = session.execute(update(RestockEvent).where(RestockEvent.id == event_id, RestockEvent.status == "processing")
                           .values(status="done", finished_at=utcnow()).execution_options(synchronize_session=False))
    if not done.rowcount:  # type: ignore[attr-defined]  # another worker finished it
        session.commit()
        return told
    session.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.status == "sending")
                    .values(status="finished", finished_at=utcnow()).execution_options(synchronize_session=False))
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    assert campaign is not None
    session.refresh(campaign)
    emit_finished(session, campaign, int(session.scalar(
        select(func.count()).select_from(ProductSubscription).where(ProductSubscription.restock_event_id == event_id))
        or 0))
    session.commit()
    return told
