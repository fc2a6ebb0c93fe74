"""Geo campaigns: for a period, the relevant text near chosen stores changes on every pass
that lists those stores, and returns to the default afterwards.

A pass lists the 10 stores nearest its customer's home store (pass_design.nearest_stores),
so the cards concerned are those whose home store ranks a chosen store among its 10
nearest; they are found per distinct home store, never per card in Python.

Start: the stores get `geo_relevant_text` (pass_design prefers it), then the concerned
cards are recorded as recipients and bumped in batches (version + push, tagged with the
campaign). End: the stores' text is cleared (only if this campaign still owns it) and the
same passes are bumped again, plus any card issued meanwhile (its pass showed the text
too). Two geo campaigns may not change the same store at the same time (the API refuses
the overlap), so a store's text always has one owner. Both phases are resumable exactly like message sending:
a lease, a cursor moved with each committed batch.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import ColumnElement, Select, exists, false, func, or_, select, update
from sqlalchemy.orm import Session

from service.campaigns.common import acquire, add_recipients, queue_google, renew
from service.campaigns.sending import emit_finished
from service.design.card_design import nearest_stores
from service.models import Campaign, CampaignRecipient, Card, Customer, MessageOptOut, Store, utcnow
from service.push.fanout import bump_cards

log = logging.getLogger(__name__)

BATCH = 1000


def concerned(session: Session, brand_id: int, store_ids: list[int]) -> ColumnElement[bool]:
    """Cards (joined to customers) whose pass lists at least one of `store_ids`: ranked per
    distinct home store exactly as pass_design ranks them."""
    stores = list(session.scalars(select(Store).where(Store.brand_id == brand_id).order_by(Store.id)))
    chosen = set(store_ids)
    home_ids = list(session.scalars(select(Customer.home_store_id).where(Customer.brand_id == brand_id).distinct()))
    homes = {store.id: store for store in session.scalars(
        select(Store).where(Store.id.in_([home for home in home_ids if home is not None])))}
    listed_homes: list[int] = []
    conditions: list[ColumnElement[bool]] = []
    for home_id in home_ids:
        home = homes.get(home_id) if home_id is not None else None
        if {store.id for store in nearest_stores(stores, home)} & chosen:
            if home_id is None:
                conditions.append(Customer.home_store_id.is_(None))
            else:
                listed_homes.append(home_id)
    if listed_homes:
        conditions.append(Customer.home_store_id.in_(listed_homes))
    return or_(*conditions) if conditions else false()


def _cards(session: Session, brand_id: int, store_ids: list[int],
           extra: ColumnElement[bool] | None = None) -> Select[tuple[int, str]]:
    """(card id, language) of the brand's live cards whose pass lists the stores (or `extra`)."""
    condition = concerned(session, brand_id, store_ids)
    if extra is not None:
        condition = or_(condition, extra)
    # a holder who turned marketing off keeps the store's own text (card_design) and is not told
    opted_out = exists().where(MessageOptOut.card_id == Card.id)
    return (select(Card.id, Customer.language).join(Customer, Customer.id == Card.customer_id)
            .where(Card.brand_id == brand_id, Card.voided.is_(False), condition, ~opted_out).order_by(Card.id))


def overlapping(session: Session, brand_id: int, store_ids: list[int], starts_at: dt.datetime,
                ends_at: dt.datetime) -> list[int]:
    """Geo campaigns not yet over that share a store and a moment with the given period."""
    found = []
    for campaign in session.scalars(select(Campaign).where(
            Campaign.brand_id == brand_id, Campaign.kind == "geo",
            Campaign.status.in_(("scheduled", "starting", "running", "ending")))):
        if (set(campaign.store_ids) & set(store_ids) and campaign.send_at is not None
                and campaign.ends_at is not None and campaign.send_at < ends_at and starts_at < campaign.ends_at):
            found.append(campaign.id)
    return found


def due_starts(session: Session, now: dt.datetime) -> list[int]:
    return list(session.scalars(select(Campaign.id).where(
        Campaign.kind == "geo", Campaign.status.in_(("scheduled", "starting")), Campaign.send_at <= now,
        (Campaign.lease_until.is_(None)) | (Campaign.lease_until < now)).order_by(Campaign.id)))


def due_ends(session: Session, now: dt.datetime) -> list[int]:
    return list(session.scalars(select(Campaign.id).where(
        Campaign.kind == "geo",
        ((Campaign.status == "running") & (Campaign.ends_at <= now)) | (Campaign.status == "ending"),
        (Campaign.lease_until.is_(None)) | (Campaign.lease_until < now)).order_by(Campaign.id)))


def start(session: Session, campaign_id: int, *, now: dt.datetime | None = None, batch: int = BATCH,
          max_batches: int | None = None) -> int:
    """Put the text on the stores and update every concerned pass; returns cards bumped now."""
    now = now or utcnow()
    if not acquire(session, campaign_id, ("scheduled", "starting"), now, due=Campaign.send_at <= now,
                   status="starting", started_at=now):
        return 0
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    assert campaign is not None
    brand_id, store_ids, text = campaign.brand_id, list(campaign.store_ids), campaign.relevant_text
    session.execute(update(Store).where(Store.brand_id == brand_id, Store.id.in_(store_ids))
                    .values(geo_relevant_text=text, geo_campaign_id=campaign_id)
                    .execution_options(synchronize_session=False))
    query = _cards(session, brand_id, store_ids)
    cursor, bumped, batches = campaign.cursor, 0, 0
    while True:
        rows = session.execute(query.where(Card.id > cursor).limit(batch)).all()
        if not rows:
            break
        fresh = add_recipients(session, campaign_id, rows)
        if fresh:
            bump_cards(session, sorted(fresh), campaign_id=campaign_id)
            queue_google(session, fresh)
        cursor = rows[-1][0]
        if not renew(session, campaign_id, ("starting",), cursor=cursor):
            session.rollback()
            return bumped
        session.commit()
        bumped += len(fresh)
        batches += 1
        if max_batches is not None and batches >= max_batches:
            return bumped
    renew(session, campaign_id, ("starting",), status="running", cursor=0, lease_until=None)
    session.commit()
    log.info("geo campaign %s started: %d passes", campaign_id, bumped)
    return bumped


def end(session: Session, campaign_id: int, *, now: dt.datetime | None = None, batch: int = BATCH,
        max_batches: int | None = None) -> int:
    """Give the stores their default text back and update the same passes; returns cards bumped now."""
    now = now or utcnow()
    if not acquire(session, campaign_id, ("running", "ending"), now,
                   due=(Campaign.ends_at <= now) | (Campaign.status == "ending"), status="ending"):
        return 0
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    assert campaign is not None
    session.execute(update(Store).where(Store.brand_id == campaign.brand_id, Store.geo_campaign_id == campaign_id)
                    .values(geo_relevant_text=None, geo_campaign_id=None)
                    .execution_options(synchronize_session=False))
    # The passes that listed the stores: those told at the start, and cards issued since.
    told = exists().where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.card_id == Card.id)
    query = _cards(session, campaign.brand_id, list(campaign.store_ids), extra=told)
    cursor, bumped, batches = campaign.cursor, 0, 0
    while True:
        rows = session.execute(query.where(Card.id > cursor).limit(batch)).all()
        if not rows:
            break
        add_recipients(session, campaign_id, rows)
        ids = [card_id for card_id, _ in rows]
        bump_cards(session, ids, campaign_id=campaign_id)
        queue_google(session, ids)
        cursor = ids[-1]
        if not renew(session, campaign_id, ("ending",), cursor=cursor):
            session.rollback()
            return bumped
        session.commit()
        bumped += len(ids)
        batches += 1
        if max_batches is not None and batches >= max_batches:
            return bumped
    renew(session, campaign_id, ("ending",), status="finished", finished_at=utcnow(), lease_until=None)
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    assert campaign is not None
    session.refresh(campaign)
    emit_finished(session, campaign, _count(session, campaign_id))
    session.commit()
    log.info("geo campaign %s ended: %d passes", campaign_id, bumped)
    return bumped


def _count(session: Session, campaign_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(CampaignRecipient)
                              .where(CampaignRecipient.campaign_id == campaign_id)) or 0)
