"""Campaign messages the messaging rules held back: kept, and sent when their time comes.

A campaign batch records every card of the audience as a recipient first (the gate against
sending twice) and asks `pacing.decide_many` about the new ones; `hold` writes a
PacedRecipient row for each held one in the batch's own transaction: "dropped" with its reason,
or "deferred" with the moment it may go.

`send_due` (the minute job) takes deferred rows whose moment has come, in one transaction per
campaign: it claims them (UPDATE ... WHERE state = 'deferred' RETURNING: of two workers only one
gets a row, and a worker that dies rolls its claim back with everything else), asks the rules
again (a journey may have used the card's cap meanwhile, or quiet hours begun), and sends those
allowed exactly as the batch would have (the pass's news field and a push, the Google message),
re-defers or drops the rest. Nothing deferred is lost and nothing is sent twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from service.campaigns import pacing
from service.campaigns.common import pick_message, queue_google
from service.campaigns.google import queue_messages
from service.models import Brand, Campaign, CampaignRecipient, PacedRecipient, utcnow
from service.push.fanout import bump_cards

log = logging.getLogger(__name__)

BATCH = 500
#: Campaign statuses whose deferred messages still go (a cancelled campaign's are dropped).
LIVE = ("sending", "finished")


def source(campaign_id: int) -> str:
    """How a campaign's messages are named among a card's messages (CardMessage.source)."""
    return f"campaign:{campaign_id}"


def hold(session: Session, campaign_id: int, held: Mapping[int, pacing.Decision], now: dt.datetime) -> None:
    """Keep the held cards of a batch (card id -> its decision); in the batch's transaction."""
    if not held:
        return
    recipients = session.execute(select(CampaignRecipient.id, CampaignRecipient.card_id).where(
        CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.card_id.in_(list(held)))).all()
    rows = [{"recipient_id": recipient_id, "campaign_id": campaign_id, "card_id": card_id,
             "state": "dropped" if held[card_id].drop else "deferred", "reason": held[card_id].reason or "",
             "defer_until": held[card_id].defer_until, "created_at": now}
            for recipient_id, card_id in recipients]
    session.execute(insert(PacedRecipient), rows)


def due(session: Session, now: dt.datetime | None = None, limit: int = BATCH,
        skip: Collection[int] = ()) -> dict[int, list[int]]:
    """Deferred recipients whose moment has come: campaign id -> recipient ids (oldest first),
    leaving out the campaigns in `skip`."""
    now = now or utcnow()
    found: dict[int, list[int]] = defaultdict(list)
    statement = select(PacedRecipient.recipient_id, PacedRecipient.campaign_id).where(
        PacedRecipient.state == "deferred", PacedRecipient.defer_until <= now)
    if skip:
        statement = statement.where(PacedRecipient.campaign_id.not_in(list(skip)))
    for recipient_id, campaign_id in session.execute(
            statement.order_by(PacedRecipient.defer_until, PacedRecipient.recipient_id).limit(limit)):
        found[campaign_id].append(recipient_id)
    return dict(found)


AfterSend = Callable[[int, dict[int, str]], None]


#: One minute job works this long at most (the next one carries on): the end of quiet hours
#: releases a whole campaign's held recipients at the same minute.
BUDGET = dt.timedelta(seconds=50)


def send_due(session: Session, now: dt.datetime | None = None, *, limit: int = BATCH,
             after_send: AfterSend | None = None, budget: dt.timedelta = BUDGET) -> int:
    """Send (or re-defer, or drop) the deferred messages due at `now`, `limit` at a time until none
    is left or `budget` is spent; returns how many were sent."""
    now = now or utcnow()
    sent, stop, failed = 0, utcnow() + budget, set()
    while True:
        found = due(session, now, limit, skip=failed)
        if not found:
            return sent
        for campaign_id, recipient_ids in found.items():
            try:
                texts = send_campaign_due(session, campaign_id, recipient_ids, now)
                session.commit()
            except Exception:  # noqa: BLE001 - one campaign's trouble must not hold the others' messages
                session.rollback()  # its rows stay deferred: the next minute's run tries them again
                log.exception("campaign %s: deferred messages not sent this time", campaign_id)
                failed.add(campaign_id)
                continue
            sent += len(texts)
            if after_send is not None and texts:
                after_send(campaign_id, texts)
        if utcnow() >= stop:
            return sent


def send_campaign_due(session: Session, campaign_id: int, recipient_ids: list[int],
                      now: dt.datetime) -> dict[int, str]:
    """One campaign's due deferred recipients, in the caller's transaction: {card id: text sent}."""
    claimed = session.execute(
        update(PacedRecipient)
        .where(PacedRecipient.recipient_id.in_(recipient_ids), PacedRecipient.state == "deferred",
               PacedRecipient.defer_until <= now)
        .values(state="claimed")
        .returning(PacedRecipient.recipient_id, PacedRecipient.card_id)
        .execution_options(synchronize_session=False)).all()
    if not claimed:
        return {}
    campaign = session.get(Campaign, campaign_id)
    card_of = {recipient_id: card_id for recipient_id, card_id in claimed}
    if campaign is None or campaign.status not in LIVE:
        _set(session, list(card_of), state="dropped", reason="cancelled", defer_until=None)
        return {}
    decisions = pacing.decide_many(session, card_of.values(), now)
    languages = dict(session.execute(select(CampaignRecipient.id, CampaignRecipient.language)
                                     .where(CampaignRecipient.id.in_(list(card_of)))).all())
    texts: dict[int, str] = {}
    for recipient_id, card_id in card_of.items():
        decision = decisions.get(card_id, pacing.Decision(pacing.DROP, "voided"))
        if decision.allowed:
            texts[card_id] = pick_message(campaign.message or "", campaign.messages, languages.get(recipient_id))
            _set(session, [recipient_id], state="sent", sent_at=now)
        elif decision.drop:
            _set(session, [recipient_id], state="dropped", reason=decision.reason, defer_until=None)
        else:
            _set(session, [recipient_id], state="deferred", reason=decision.reason, defer_until=decision.defer_until)
    if texts:
        by_text: dict[str, list[int]] = defaultdict(list)
        for card_id, text in texts.items():
            by_text[text].append(card_id)
        for text, ids in by_text.items():
            bump_cards(session, sorted(ids), values={"news": text}, campaign_id=campaign_id)
        queue_google(session, sorted(texts))
        brand = session.get(Brand, campaign.brand_id)
        queue_messages(session, campaign_id, brand.name if brand is not None else campaign.name, texts)
        pacing.record_messages(session, texts, source(campaign_id), now)
    log.info("campaign %s: %d deferred messages sent, %d held again", campaign_id, len(texts),
             len(card_of) - len(texts))
    return texts


def _set(session: Session, recipient_ids: list[int], **values: object) -> None:
    session.execute(update(PacedRecipient).where(PacedRecipient.recipient_id.in_(recipient_ids))
                    .values(**values).execution_options(synchronize_session=False))
