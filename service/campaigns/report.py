"""What happened to a campaign: one GROUP BY over its pushes, per platform.

Per platform (apple = APNs, fcm, relay = an Android app's relay; google = addMessage):
pushes written; sent (left our server at least once); accepted (the vendor took it);
confirmed (the device then fetched the new version; Apple and Android relays only);
failed (unreachable included), with the vendor's reasons; pending (queued or being retried).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from service.models import Campaign, CampaignRecipient, GoogleMessage, PushDelivery

PENDING = ("queued", "sending", "retry")
FAILED = ("failed", "unregistered", "unreachable")


def _empty() -> dict[str, Any]:
    return {"pushes": 0, "sent": 0, "accepted": 0, "confirmed": 0, "failed": 0, "pending": 0, "failure_reasons": {}}


def report(session: Session, campaign: Campaign) -> dict[str, Any]:
    targeted = session.scalar(select(func.count()).select_from(CampaignRecipient)
                              .where(CampaignRecipient.campaign_id == campaign.id)) or 0
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
        if status != "queued":
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
            else:  # "sent", or "dev": recorded while Google Wallet is not configured
                figures["sent"] += n
                figures["accepted"] += n if status == "sent" else 0
                figures["notified" if message_type == "TEXT_AND_NOTIFY" else "silent"] += n
    totals = _empty()
    for figures in platforms.values():
        for key in ("pushes", "sent", "accepted", "confirmed", "failed", "pending"):
            totals[key] += figures[key]
        for label, n in figures["failure_reasons"].items():
            totals["failure_reasons"][label] = totals["failure_reasons"].get(label, 0) + n
    return {"campaign_id": campaign.id, "status": campaign.status, "targeted": int(targeted),
            "cards_with_devices": int(reached), **totals, "platforms": platforms}
