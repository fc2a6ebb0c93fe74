"""Who a program's design change reaches, and how far the update has got: the card designer says
"Saving updates N cards on M phones" before a save and shows the update arriving after it.

What is measured, from what the service records:
- cards: the program's cards that are not voided (each one's pass is re-made on a design change);
- phones: distinct devices with an active registration for one of those cards, Apple Wallet
  (`client_kind` apple) and our Android app (fcm, relay) apart;
- Google: objects Google holds (`google_synced_version` set) and, of those, the ones whose latest
  save/delete callback was a save (Google tells us of saves only when the class has a callback);
- progress: the push deliveries written since `since` for the program's cards, by status:
  waiting (queued, sending, retry), sent (accepted by APNs/FCM: the phone was told), fetched
  (confirmed: the phone downloaded the new pass through the web service) and not reachable
  (failed, unregistered, unreachable); and how many Google objects are at their card's version.
  A phone that is off keeps its delivery `accepted` until it fetches: "sent" is then the stable state.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import func, select

from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, ProblemOut
from service.api.cards import brand_program
from service.models import Card, GoogleWalletEvent, PushDelivery, Registration, utcnow
from service.platform import db

blp = Blueprint("program_reach", __name__, url_prefix="/api/v1",
                description="Programs: who a design change reaches, and the update's progress to the phones")

APPLE_KINDS = ("apple",)
ANDROID_APP_KINDS = ("fcm", "relay")
WAITING = ("queued", "sending", "retry")
SENT = ("accepted",)
FETCHED = ("confirmed",)
NOT_REACHABLE = ("failed", "unregistered", "unreachable")


class ReachOut(Schema):
    cards = fields.Integer(metadata={"description": "Cards of the program (not voided): every pass is re-made",
                                     "example": 120})
    phones = fields.Integer(metadata={"description": "apple_phones + android_app_phones", "example": 80})
    apple_phones = fields.Integer(metadata={"description": "Devices with Apple Wallet registered for a card",
                                            "example": 70})
    android_app_phones = fields.Integer(metadata={"description": "Devices of the Android app registered for a card",
                                                  "example": 10})
    registrations = fields.Integer(metadata={"description": "Active registrations (a device may hold several cards)",
                                             "example": 82})
    google_objects = fields.Integer(metadata={"description": "Cards whose Google Wallet object Google holds",
                                              "example": 30})
    google_saved = fields.Integer(metadata={"description": "Of those, cards whose last Google callback was a save",
                                            "example": 25})
    as_of = fields.DateTime(metadata={"description": "The server's time (to the second): pass it as `since` to "
                                                     "update-progress after saving"})


class ProgressQuery(Schema):
    since = fields.AwareDateTime(required=True, default_timezone=dt.UTC, metadata={
        "description": "Count pushes written at or after this time (ISO 8601; e.g. `as_of` of /reach before "
                       "the save)", "example": "2026-12-02T18:30:00Z"})


class ProgressOut(Schema):
    since = fields.DateTime()
    cards_updated = fields.Integer(metadata={"description": "Cards of the program changed since `since`"})
    pushes = fields.Integer(metadata={"description": "Push deliveries written since `since`"})
    phones = fields.Integer(metadata={"description": "Distinct devices those pushes go to"})
    waiting = fields.Integer(metadata={"description": "Queued, being sent, or waiting to retry"})
    sent = fields.Integer(metadata={"description": "Accepted by APNs/FCM: the phone was told"})
    fetched = fields.Integer(metadata={"description": "The phone downloaded the new pass (web service)"})
    not_reachable = fields.Integer(metadata={"description": "Failed, unregistered or unreachable tokens"})
    google_objects = fields.Integer(metadata={"description": "Google objects of the program's cards"})
    google_current = fields.Integer(metadata={"description": "Of those, at the card's current version"})
    done = fields.Boolean(metadata={"description": "Nothing is waiting: every push was sent, fetched or "
                                                   "refused, and every Google object is current"})


def _count(statement: Any) -> int:
    return int(db.session().scalar(statement) or 0)


def reach(program_id: int) -> dict[str, Any]:
    """The counts of ReachOut for one program (the caller has checked the brand)."""
    cards = select(Card.id).where(Card.program_id == program_id, Card.voided.is_(False))
    active = (Registration.card_id.in_(cards), Registration.active.is_(True))

    def devices(kinds: tuple[str, ...]) -> int:
        return _count(select(func.count(func.distinct(Registration.device_library_identifier)))
                      .where(*active, Registration.client_kind.in_(kinds)))

    apple, android = devices(APPLE_KINDS), devices(ANDROID_APP_KINDS)
    latest = (select(GoogleWalletEvent.card_id, func.max(GoogleWalletEvent.id).label("last"))
              .where(GoogleWalletEvent.card_id.in_(cards)).group_by(GoogleWalletEvent.card_id).subquery())
    saved = _count(select(func.count()).select_from(latest)
                   .join(GoogleWalletEvent, GoogleWalletEvent.id == latest.c.last)
                   .where(GoogleWalletEvent.event_type == "save"))
    return {
        "cards": _count(select(func.count()).select_from(cards.subquery())),
        "phones": apple + android, "apple_phones": apple, "android_app_phones": android,
        "registrations": _count(select(func.count(Registration.id)).where(*active)),
        "google_objects": _count(select(func.count(Card.id)).where(
            Card.program_id == program_id, Card.voided.is_(False), Card.google_synced_version.is_not(None))),
        "google_saved": saved,
        "as_of": utcnow().replace(microsecond=0),
    }


def progress(program_id: int, since: dt.datetime) -> dict[str, Any]:
    """The counts of ProgressOut for one program's pushes since `since`."""
    since = since.astimezone(dt.UTC)
    of_program = (PushDelivery.card_id == Card.id, Card.program_id == program_id, PushDelivery.created_at >= since)
    rows = db.session().execute(select(PushDelivery.status, func.count(PushDelivery.id))
                                .where(*of_program).group_by(PushDelivery.status)).all()
    by_status = {status: int(count) for status, count in rows}

    def total(statuses: tuple[str, ...]) -> int:
        return sum(by_status.get(status, 0) for status in statuses)

    google = select(Card.id).where(Card.program_id == program_id, Card.voided.is_(False),
                                   Card.google_synced_version.is_not(None))
    google_objects = _count(select(func.count()).select_from(google.subquery()))
    google_current = _count(select(func.count()).select_from(
        google.where(Card.google_synced_version >= Card.version).subquery()))
    waiting = total(WAITING)
    return {
        "since": since,
        "cards_updated": _count(select(func.count(Card.id)).where(Card.program_id == program_id,
                                                                   Card.updated_at >= since)),
        "pushes": sum(by_status.values()),
        "phones": _count(select(func.count(func.distinct(PushDelivery.push_token))).where(*of_program)),
        "waiting": waiting, "sent": total(SENT), "fetched": total(FETCHED), "not_reachable": total(NOT_REACHABLE),
        "google_objects": google_objects, "google_current": google_current,
        "done": waiting == 0 and google_current == google_objects,
    }


@blp.route("/programs/<int:program_id>/reach", methods=["GET"])
@require_brand
@requires("read")
@blp.response(200, ReachOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def get_reach(program_id: int) -> Any:
    """How many cards and phones a change of the program's design updates: every card's pass is
    re-made, and each registered phone is pushed to fetch it (Google objects are patched)."""
    return reach(brand_program(program_id).id)


@blp.route("/programs/<int:program_id>/update-progress", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(ProgressQuery, location="query")
@blp.response(200, ProgressOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description="No such program in your brand")
def get_update_progress(args: dict[str, Any], program_id: int) -> Any:
    """How far the pushes written since `since` for the program's cards have got: waiting, sent
    (APNs/FCM accepted them), fetched (the phone downloaded the new pass) or not reachable, and how
    many Google objects are current. Poll it after a save until `done` (or until the counts stop
    changing: a phone that is off fetches when it comes back)."""
    return progress(brand_program(program_id).id, args["since"])
