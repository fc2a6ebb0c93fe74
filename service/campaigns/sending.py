"""Sending a message campaign: batched, at most once per card, resumable after a crash.

Each batch is one transaction: the next cards of the audience (keyset by card id) are
recorded as recipients with INSERT ... ON CONFLICT DO NOTHING, exactly the newly recorded
ones get the message in their pass's news field (changeMessage "%@", so it shows on the
lock screen), their versions are bumped and their pushes queued (`bump_cards`, tagged with
the campaign), and the campaign's cursor moves past the batch. A campaign with a coupon grants it
to the same newly recorded cards in the batch's transaction (idempotent per card by its key).
A worker that dies loses at most its uncommitted batch, which the next run (after the lease) does again; a card is
never messaged twice because its recipient row is the gate. Memory stays at one batch of
ids whatever the audience size.

The messaging rules (service/campaigns/pacing.py: the holder's opt-out, the program's frequency
cap and quiet hours) are asked about the newly recorded recipients of each batch; those held
back keep their recipient row (so they are never messaged twice either) plus a PacedRecipient
row saying dropped or deferred, and the deferred ones go later (service/campaigns/deferred.py).
The campaign's holdout (service/campaigns/holdout.py: a hash of campaign and card id, so a
resumed run chooses exactly the same cards) is recorded with each batch, `holdout` set, and
sent nothing; every recipient row also says whether the card was reachable then.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from service import audit
from service.campaigns import deferred, holdout, pacing, segments
from service.campaigns import sign_ahead as sign_ahead_jobs
from service.campaigns.common import LEASE, acquire, add_recipients, pick_message, queue_google, renew
from service.campaigns.google import queue_messages
from service.loyalty import rewards
from service.models import Brand, Campaign, CampaignRecipient, Card, Customer, utcnow
from service.push import outbox
from service.push.fanout import bump_cards

log = logging.getLogger(__name__)

BATCH = 1000
#: Called after each committed batch with (campaign id, {card id: text}): starts the job that
#: sends the batch's Google messages (queued in the batch's transaction).
AfterBatch = Callable[[int, dict[int, str]], None]


def due(session: Session, now: dt.datetime) -> list[int]:
    """Message campaigns to run now: scheduled and due, or interrupted mid-send."""
    return list(session.scalars(select(Campaign.id).where(
        Campaign.kind == "message",
        ((Campaign.status == "scheduled") & (Campaign.send_at <= now)) | (Campaign.status == "sending"),
        (Campaign.lease_until.is_(None)) | (Campaign.lease_until < now),
    ).order_by(Campaign.id)))


def send(session: Session, campaign_id: int, *, now: dt.datetime | None = None, batch: int = BATCH,
         max_batches: int | None = None, after_batch: AfterBatch | None = None, lease: dt.timedelta = LEASE,
         sign_ahead: sign_ahead_jobs.Dispatch | None = None) -> int:
    """Run or resume one campaign; returns how many cards it reached in this call (the
    holdout's cards, recorded but sent nothing, are not counted).

    `max_batches` bounds one call's work (the next periodic run continues where it stopped);
    the lease stays held until then, as it would if the worker had died.

    With `sign_ahead`, each committed batch's pushes are held and its cards handed out in chunks
    to be signed ahead (service/campaigns/sign_ahead.py, by any worker), each chunk's pushes let
    go once its passes are stored: the phones, pushed, fetch stored bytes instead of all signing
    on the fetch. The next batch waits while over two batches of pushes are still waiting, so the
    pushes go out no faster than passes are signed and sent.
    """
    fixed_now, now = now is not None, now or utcnow()
    started = acquire(session, campaign_id, ("scheduled", "sending"), now, lease=lease,
                      due=(Campaign.send_at <= now) | (Campaign.status == "sending"),
                      status="sending", started_at=func.coalesce(Campaign.started_at, now),
                      audience_at=func.coalesce(Campaign.audience_at, now))
    if not started:
        return 0
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    assert campaign is not None and campaign.audience_at is not None
    brand_id, audience, audience_at = campaign.brand_id, campaign.audience, campaign.audience_at
    default, variants = campaign.message or "", dict(campaign.messages or {})
    salt, holdout_percent = holdout.campaign_salt(campaign_id), campaign.holdout_percent or 0
    coupon = (rewards.CouponSpec(**campaign.coupon, origin="campaign", campaign_id=campaign_id)
              if campaign.coupon else None)
    brand = session.get(Brand, brand_id)
    header = brand.name if brand is not None else campaign.name  # the Google message's title
    cursor, reached, batches = campaign.cursor, 0, 0
    query = segments.card_ids(brand_id, audience, audience_at).add_columns(Customer.language)
    while True:
        rows = session.execute(query.where(Card.id > cursor).limit(batch)).all()
        if not rows:
            break
        languages = {card_id: language for card_id, language in rows}
        # the holdout is chosen here, by hash, and recorded with the batch: it gets nothing
        kept_back = holdout.split(salt, list(languages), holdout_percent)
        fresh = add_recipients(session, campaign_id, rows, holdout=kept_back,
                               reachable=holdout.reachable_ids(session, list(languages)))
        fresh = [card_id for card_id in fresh if card_id not in kept_back]
        # the messaging rules (opt-out, cap, quiet hours), asked once the recipient is recorded; the
        # held back stay in the treated group (what the campaign was meant to do is what is compared)
        moment = now if fixed_now else utcnow()
        decisions = pacing.decide_many(session, fresh, moment)
        held = {card_id: decision for card_id, decision in decisions.items() if not decision.allowed}
        deferred.hold(session, campaign_id, held, moment)
        texts = {card_id: pick_message(default, variants, languages[card_id]) for card_id in fresh
                 if card_id not in held}
        if coupon is not None:  # treated cards only; the held back by the messaging rules get theirs now too
            # (a coupon is not a message), pushed on its own; the rest ride on the news bump below
            rewards.grant_to_cards(session, [card_id for card_id in fresh if card_id not in held], coupon,
                                   f"campaign:{campaign_id}", now=moment, brand_id=brand_id, bump=False)
            rewards.grant_to_cards(session, [card_id for card_id in fresh if card_id in held], coupon,
                                   f"campaign:{campaign_id}", now=moment, brand_id=brand_id, bump=True)
        by_text: dict[str, list[int]] = defaultdict(list)
        for card_id, text in texts.items():
            by_text[text].append(card_id)
        for text, ids in by_text.items():
            bump_cards(session, sorted(ids), values={"news": text}, campaign_id=campaign_id)
        queue_google(session, sorted(texts))
        queued = queue_messages(session, campaign_id, header, texts)
        pacing.record_messages(session, texts, deferred.source(campaign_id), moment)
        cursor = rows[-1][0]
        if not renew(session, campaign_id, ("sending",), lease, cursor=cursor):
            session.rollback()  # cancelled meanwhile: this batch is not sent
            return reached
        held_pushes = outbox.hold(session) if sign_ahead is not None else []
        session.commit()
        if sign_ahead is not None:
            sign_ahead_jobs.hand_out(session, sign_ahead, sorted(texts), held_pushes)
            sign_ahead_jobs.keep_within(session, campaign_id, 2 * batch)
        reached += len(fresh)
        batches += 1
        if after_batch is not None and queued:  # the batch has Google messages to send
            after_batch(campaign_id, texts)
        if max_batches is not None and batches >= max_batches:
            return reached
    finish(session, campaign_id)
    return reached


def finish(session: Session, campaign_id: int) -> None:
    """Mark the campaign finished and tell the brand's webhooks (if that module is installed)."""
    result = session.execute(update(Campaign).where(and_(Campaign.id == campaign_id,
                                                         Campaign.status.not_in(("finished", "cancelled"))))
                             .values(status="finished", finished_at=utcnow(), lease_until=None)
                             .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        session.commit()
        return
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    assert campaign is not None
    session.refresh(campaign)
    targeted = session.scalar(select(func.count()).select_from(CampaignRecipient)
                              .where(CampaignRecipient.campaign_id == campaign_id,
                                     CampaignRecipient.holdout.is_(False))) or 0
    emit_finished(session, campaign, int(targeted))
    # who scheduled it is in its campaign.scheduled entry; this one says it went out, and to how many
    audit.record(session, campaign.brand_id, "campaign.sent", "campaign", campaign.id,
                 {"kind": campaign.kind, "name": campaign.name, "targeted": int(targeted)}, actor=audit.SYSTEM)
    session.commit()
    log.info("campaign %s finished: %d cards", campaign_id, targeted)


def emit_finished(session: Session, campaign: Campaign, targeted: int) -> None:
    try:
        from service.webhooks.events import emit
    except ImportError:  # pragma: no cover - the webhooks module ships with issue 6A
        return
    emit(session, campaign.brand_id, "campaign.finished",
         {"campaign_id": campaign.id, "kind": campaign.kind, "name": campaign.name, "targeted": targeted,
          "finished_at": campaign.finished_at})
