"""What happened to a campaign: one GROUP BY over its pushes, per platform.

Per platform (apple = APNs, fcm, relay = an Android app's relay; google = addMessage):
pushes written; sent (left our server at least once); accepted (the vendor took it);
confirmed (the device then fetched the new version; Apple and Android relays only);
failed (unreachable included), with the vendor's reasons; pending (queued or being retried);
not_sent: refused here before any vendor was asked (a relay app whose relay URL is not
configured, an unknown app; Google Wallet not configured): counted as failed with its reason,
never as sent.

`lift` sets the treated group's figures beside the holdout's (the cards kept back by hash, sent
nothing) and measures the difference (service/campaigns/lift.py, outcomes.py); `report` carries
them as `treated`, `holdout` and `lift`.

`recipients` lists a campaign's cards one page at a time, each with the state of its pushes.

`paced`: what the messaging rules (service/campaigns/pacing.py) did: recipients deferred now
(and why), dropped per reason (cap, quiet_hours, opted_out; voided, cancelled when they occur),
and deferred ones sent later; each recipient carries its own `paced` (null: sent at once).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from passes.cardcode import short_number
from service.campaigns import holdout as holdout_split
from service.campaigns import lift as lift_maths
from service.campaigns import outcomes
from service.models import (
    Campaign,
    CampaignRecipient,
    Card,
    Customer,
    GoogleMessage,
    PacedRecipient,
    Program,
    PushDelivery,
    utcnow,
)
from service.push.senders import never_sent

PENDING = ("queued", "sending", "retry")
FAILED = ("failed", "unregistered", "unreachable")


def _empty() -> dict[str, Any]:
    return {"pushes": 0, "sent": 0, "accepted": 0, "confirmed": 0, "failed": 0, "pending": 0, "not_sent": 0,
            "failure_reasons": {}}


def report(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The delivery figures (targeted = recipients sent the campaign, the holdout not included)
    and the lift: `treated`, `holdout`, `lift` (see `lift`)."""
    targeted = session.scalar(select(func.count()).select_from(CampaignRecipient)
                              .where(CampaignRecipient.campaign_id == campaign.id,
                                     CampaignRecipient.holdout.is_(False))) or 0
    platforms: dict[str, dict[str, Any]] = {}
    rows = session.execute(
        select(PushDelivery.client_kind, PushDelivery.status, PushDelivery.reason, func.count())
        .where(PushDelivery.campaign_id == campaign.id)
        .group_by(PushDelivery.client_kind, PushDelivery.status, PushDelivery.reason)).all()
    for kind, status, reason, n in rows:
        figures = platforms.setdefault(kind, _empty())
        figures["pushes"] += n
        if status in PENDING:
            figures["pending"] += n
        if never_sent(status, reason):
            figures["not_sent"] += n
        elif status != "queued":
            figures["sent"] += n
        if status in ("accepted", "confirmed"):
            figures["accepted"] += n
        if status == "confirmed":
            figures["confirmed"] += n
        if status in FAILED:
            figures["failed"] += n
            label = reason or status
            figures["failure_reasons"][label] = figures["failure_reasons"].get(label, 0) + n
    reached = session.scalar(select(func.count(distinct(PushDelivery.card_id)))
                             .where(PushDelivery.campaign_id == campaign.id)) or 0
    google = session.execute(
        select(GoogleMessage.status, GoogleMessage.message_type, GoogleMessage.reason, func.count())
        .where(GoogleMessage.campaign_id == campaign.id)
        .group_by(GoogleMessage.status, GoogleMessage.message_type, GoogleMessage.reason)).all()
    if google:
        figures = platforms.setdefault("google", {**_empty(), "notified": 0, "silent": 0})
        for status, message_type, reason, n in google:
            figures["pushes"] += n
            if status == "queued":  # written with the batch, not sent yet
                figures["pending"] += n
            elif status == "failed":
                figures["failed"] += n
                label = reason or status
                figures["failure_reasons"][label] = figures["failure_reasons"].get(label, 0) + n
            else:  # "sent", or "dev": recorded while Google Wallet is not configured, not sent
                if status == "sent":
                    figures["sent"] += n
                    figures["accepted"] += n
                else:
                    figures["not_sent"] += n
                figures["notified" if message_type == "TEXT_AND_NOTIFY" else "silent"] += n
    totals = _empty()
    for figures in platforms.values():
        for key in ("pushes", "sent", "accepted", "confirmed", "failed", "pending", "not_sent"):
            totals[key] += figures[key]
        for label, n in figures["failure_reasons"].items():
            totals["failure_reasons"][label] = totals["failure_reasons"].get(label, 0) + n
    return {"campaign_id": campaign.id, "status": campaign.status, "targeted": int(targeted),
            "cards_with_devices": int(reached), **totals, "platforms": platforms,
            "paced": paced_figures(session, campaign.id), **lift(session, campaign)}


def paced_figures(session: Session, campaign_id: int) -> dict[str, Any]:
    """What the messaging rules did to the campaign: deferred now (and why), dropped per reason,
    deferred and later sent. One GROUP BY over its paced recipients."""
    figures: dict[str, Any] = {"deferred": 0, "deferred_reasons": {}, "sent_later": 0,
                               "dropped": {"cap": 0, "quiet_hours": 0, "opted_out": 0}}
    for state, reason, n in session.execute(
            select(PacedRecipient.state, PacedRecipient.reason, func.count())
            .where(PacedRecipient.campaign_id == campaign_id)
            .group_by(PacedRecipient.state, PacedRecipient.reason)):
        if state == "dropped":
            figures["dropped"][reason] = figures["dropped"].get(reason, 0) + n
        elif state == "sent":
            figures["sent_later"] += n
        else:  # deferred (or claimed by a job sending it right now)
            figures["deferred"] += n
            figures["deferred_reasons"][reason] = figures["deferred_reasons"].get(reason, 0) + n
    return figures


def currency(session: Session, brand_id: int) -> str:
    """The brand's money: its first program's currency (EUR without one)."""
    return session.scalar(select(Program.currency).where(Program.brand_id == brand_id).order_by(Program.id)
                          .limit(1)) or "EUR"


def lift(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The treated group beside the holdout over the attribution window, and the difference.

    treated: `recipients` (sent the campaign), `reachable` (a phone or Google object when it was
    sent), `reached` (a vendor took it), and over the `compared` cards (the reachable ones)
    `buyers`, `purchases`, `revenue`, `conversion`, `revenue_per_card`. holdout: the same, with
    `percent`, `salt` (recompute the split: SHA-256 of "salt:card id") and `reached` = the cards
    that would have been reachable. lift: service/campaigns/lift.py `measure`; not causal
    without a holdout. Before the campaign starts every figure is zero and the lift is empty.
    """
    sizes = outcomes.group_sizes(session, campaign.id)
    started = campaign.started_at
    window_end = None if started is None else started + outcomes.WINDOW
    if started is None:
        groups = {False: lift_maths.Group(cards=0), True: lift_maths.Group(cards=0)}
        reached = 0
    else:
        groups = outcomes.campaign_groups(session, campaign.id, started)
        reached = outcomes.reached_count(session, campaign.id)

    def compared(side: bool) -> dict[str, Any]:
        figures = groups[side].as_dict()
        figures["compared"] = figures.pop("cards")
        return figures

    treated = {"recipients": sizes[False]["cards"], "reachable": sizes[False]["reachable"], "reached": reached,
               **compared(False)}
    held = {"percent": campaign.holdout_percent or 0, "salt": holdout_split.campaign_salt(campaign.id),
            "recipients": sizes[True]["cards"], "reachable": sizes[True]["reachable"],
            "reached": sizes[True]["reachable"], **compared(True)}
    kept = groups[True] if (campaign.holdout_percent or 0) > 0 else None
    # a message campaign gives no points; journeys add theirs (outcomes.points_money) to the cost
    measured = lift_maths.measure(groups[False], kept, outcomes.cost(campaign.cost))
    measured.update(window_days=outcomes.WINDOW.days, window_ends_at=window_end,
                    window_closed=window_end is not None and window_end <= utcnow(),
                    currency=currency(session, campaign.brand_id))
    return {"treated": treated, "holdout": held, "lift": measured}


#: A recipient's state, best first: a card with several devices shows the best any of them reached.
STATES = ("fetched", "pushed", "pending", "failed", "unreachable", "not_sent", "no_device")
#: A recipient the messaging rules held back shows this instead while it has no push (service/campaigns/pacing.py).
PACED_STATES = ("deferred", "dropped")
#: The state of a recipient kept back for the holdout: recorded, sent nothing.
HOLDOUT_STATE = "holdout"
GOOGLE_DEV_REASON = "Google Wallet is not configured: recorded, not sent"


def delivery_state(status: str, reason: str | None) -> str:
    """One push delivery's state in the recipients list (see STATES)."""
    if status == "confirmed":
        return "fetched"
    if status == "accepted":
        return "pushed"
    if status in PENDING:
        return "pending"
    if never_sent(status, reason):
        return "not_sent"
    return "unreachable" if status == "unreachable" else "failed"


def google_state(status: str) -> str:
    return {"sent": "pushed", "queued": "pending", "dev": "not_sent"}.get(status, "failed")


def recipients(session: Session, campaign: Campaign, after: int | None, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` recipients after recipient id `after` (oldest first), each with its card's
    customer, its overall state (the best of its devices', STATES; "holdout" for a card kept
    back, which got nothing) and every push it got.

    Three queries per page whatever its size: the recipients, their pushes, their Google messages.
    """
    statement = (select(CampaignRecipient.id, CampaignRecipient.card_id, CampaignRecipient.language,
                        CampaignRecipient.created_at, CampaignRecipient.holdout, CampaignRecipient.reachable,
                        Customer.name, Card.number,
                        PacedRecipient.state.label("paced_state"), PacedRecipient.reason.label("paced_reason"),
                        PacedRecipient.defer_until, PacedRecipient.sent_at.label("paced_sent_at"))
                 .join(Card, Card.id == CampaignRecipient.card_id).join(Customer, Customer.id == Card.customer_id)
                 .outerjoin(PacedRecipient, PacedRecipient.recipient_id == CampaignRecipient.id)
                 .where(CampaignRecipient.campaign_id == campaign.id))
    if after is not None:
        statement = statement.where(CampaignRecipient.id > after)
    rows = session.execute(statement.order_by(CampaignRecipient.id).limit(limit)).all()
    card_ids = [row.card_id for row in rows]
    pushes: dict[int, list[dict[str, Any]]] = {card_id: [] for card_id in card_ids}
    if card_ids:
        for delivery in session.execute(
                select(PushDelivery.card_id, PushDelivery.client_kind, PushDelivery.client_app, PushDelivery.status,
                       PushDelivery.reason, PushDelivery.sent_at, PushDelivery.accepted_at, PushDelivery.confirmed_at)
                .where(PushDelivery.campaign_id == campaign.id, PushDelivery.card_id.in_(card_ids))
                .order_by(PushDelivery.id)):
            pushes[delivery.card_id].append({
                "platform": delivery.client_kind, "app": delivery.client_app, "status": delivery.status,
                "state": delivery_state(delivery.status, delivery.reason), "reason": delivery.reason,
                "sent_at": delivery.sent_at, "accepted_at": delivery.accepted_at,
                "confirmed_at": delivery.confirmed_at})
        for message in session.execute(
                select(GoogleMessage.card_id, GoogleMessage.status, GoogleMessage.message_type, GoogleMessage.reason,
                       GoogleMessage.created_at)
                .where(GoogleMessage.campaign_id == campaign.id, GoogleMessage.card_id.in_(card_ids))
                .order_by(GoogleMessage.id)):
            pushes[message.card_id].append({
                "platform": "google", "app": None, "status": message.status, "state": google_state(message.status),
                "reason": GOOGLE_DEV_REASON if message.status == "dev" else message.reason,
                "sent_at": message.created_at if message.status == "sent" else None,
                "accepted_at": message.created_at if message.status == "sent" else None, "confirmed_at": None})
    listed = []
    for row in rows:
        mine = pushes[row.card_id]
        state = min((push["state"] for push in mine), key=STATES.index, default="no_device")
        if row.holdout:
            state = HOLDOUT_STATE
        reasons = sorted({push["reason"] for push in mine if push["reason"] and push["state"] == state})
        paced = None
        if row.paced_state is not None:
            paced = {"state": "deferred" if row.paced_state == "claimed" else row.paced_state,
                     "reason": row.paced_reason, "defer_until": row.defer_until, "sent_at": row.paced_sent_at}
            if not mine and paced["state"] in PACED_STATES:  # held back: nothing was pushed (yet)
                state, reasons = paced["state"], [row.paced_reason]
        listed.append({"id": row.id, "card_id": row.card_id, "card_number": short_number(row.number),
                       "customer_name": row.name, "language": row.language, "recorded_at": row.created_at,
                       "holdout": bool(row.holdout), "reachable": row.reachable,
                       "state": state, "reasons": reasons, "pushes": mine, "paced": paced})
    return listed


#: The columns of a campaign's lift as CSV (`lift_rows`).
LIFT_COLUMNS = ["figure", "treated", "holdout", "difference", "low", "high", "currency"]


def lift_rows(figures: dict[str, Any]) -> list[list[Any]]:
    """A report's treated and holdout groups and its lift as rows of LIFT_COLUMNS: one row per
    group figure (the two sides, and for conversion and revenue per card the difference with its
    95 % interval), then incremental revenue and buyers, cost, ROMI and whether it is causal."""
    treated, held, lift_figures = figures["treated"], figures["holdout"], figures["lift"]
    money = lift_figures["currency"]

    def interval(key: str) -> list[Any]:
        one = lift_figures.get(key)
        return ["", "", ""] if one is None else [one["estimate"], one["low"], one["high"]]

    rows: list[list[Any]] = [["holdout_percent", "", held["percent"], "", "", "", ""]]
    for key in ("recipients", "reachable", "reached", "compared", "buyers", "purchases"):
        rows.append([key, treated[key], held[key], "", "", "", ""])
    rows.append(["revenue", treated["revenue"], held["revenue"], "", "", "", money])
    rows.append(["conversion", treated["conversion"], held["conversion"], *interval("conversion_difference"), ""])
    rows.append(["revenue_per_card", treated["revenue_per_card"], held["revenue_per_card"],
                 *interval("revenue_per_card_difference"), money])
    rows.append(["incremental_revenue", "", "", *interval("incremental_revenue"), money])
    rows.append(["incremental_buyers", "", "", *interval("incremental_buyers"), ""])
    rows.append(["cost", "", "", lift_figures["cost"] or "", "", "", money])
    romi = lift_figures["romi"]
    rows.append(["romi", "", "", *(["", "", ""] if romi is None else [romi["estimate"], romi["low"], romi["high"]]),
                 ""])
    rows.append(["causal", "", "", lift_figures["causal"], "", "", ""])
    return rows
