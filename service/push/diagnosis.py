"""Why has this phone not updated? A plain answer per device holding a card, from what we record.

What we know about a device is its PassKit registration (service/apple/web_service.py: created
when the phone added the pass, `active`/`dead_reason` set by the push results), the pushes to it
(PushDelivery, one per card version and token) and, for Google Wallet, the save/delete callbacks
and the version Google last accepted (`Card.google_synced_version`).

A pass fetch (GET /passkit/v1/passes/...) carries no device identifier, so "fetched" is known
per card, not per phone: a fetch of the card confirms every push of that version or older
(`status = confirmed`). A push still `accepted` therefore means no phone holding the card has
asked for the pass since we pushed it.

The states, in the order they are checked for one registration:

- ``token_dead``: the wallet app's vendor refused the token (BadDeviceToken, SENDER_ID_MISMATCH,
  ...); nothing is pushed to it until the phone registers again (re-adding the pass does it).
- ``relay_not_configured``: the phone uses an Android wallet app whose push relay we have no
  URL for; its pushes wait and resume when the relay is configured.
- ``up_to_date``: the phone holds the current version (a push of it was confirmed by a fetch,
  or the phone added the pass after the last change).
- ``push_pending``: the current version's push is queued or being retried.
- ``pushed_not_fetched``: the push was accepted by Apple/Google/the relay, but the pass has not
  been asked for since (the phone is off, offline, or has background refresh off).
- ``push_failed``: the push failed for good (the reason says why).
- ``unreachable``: no route reaches this token (the reason says why).
- ``not_pushed``: the card changed after the phone's last known version and no push of the new
  version exists yet (it is queued with the change; a moment later it is ``push_pending``).

And per card: ``no_registration`` (no device has the pass: never added to Apple Wallet or an
Android wallet app, or removed; ``removed`` tells the two apart when we had pushed to it once),
and the Google Wallet state (``saved``, ``removed``, ``not_saved``, ``dev``; ``behind`` when
Google has not yet accepted the current version).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import Card, GoogleWalletEvent, PushDelivery, Registration
from service.platform.config import Settings
from service.push import wallet_apps

STATES = ("token_dead", "relay_not_configured", "up_to_date", "push_pending", "pushed_not_fetched", "push_failed",
          "unreachable", "not_pushed")
CARD_STATES = ("no_registration", "has_devices")
GOOGLE_STATES = ("saved", "removed", "not_saved", "dev")

_SUMMARIES: dict[str, str] = {
    "token_dead": "The wallet app refused this phone's push token ({reason}); it gets no pushes until the pass is "
                  "added again on the phone.",
    "relay_not_configured": "The phone uses {app}, whose push relay is not configured here ({reason}); its pushes "
                            "wait until it is.",
    "up_to_date": "The phone has the current version of the card.",
    "push_pending": "The push announcing the last change is waiting to be sent ({attempts} attempts so far).",
    "pushed_not_fetched": "The phone was pushed the last change, but has not asked for the pass since: it may be "
                          "off, offline, or have background refresh turned off.",
    "push_failed": "The push announcing the last change failed ({reason}).",
    "unreachable": "No push route reaches this phone ({reason}).",
    "not_pushed": "The card changed after the phone's last known version and the push is not queued yet.",
    "no_registration": "No phone has registered this card: it was never added to Apple Wallet or an Android wallet "
                       "app, or it was removed.",
    "removed": "No phone holds this card any more: a phone had it, and the pass was removed (or the app was "
               "uninstalled).",
}


@dataclass(frozen=True)
class Diagnosis:
    """One device's answer: a state from STATES, with the facts it rests on."""

    state: str
    summary: str
    reason: str | None = None
    app: str | None = None
    attempts: int | None = None
    last_push_version: int | None = None
    last_push_status: str | None = None
    last_push_at: Any = None
    card_version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        return {**data, **self.extra}


def _summary(state: str, **facts: Any) -> str:
    return _SUMMARIES[state].format(**{key: ("none given" if value is None else value) for key, value in facts.items()})


def relay_configured(settings: Settings, app_name: str | None) -> bool:
    """Whether pushes to an app's relay can leave (its URL setting is set)."""
    app = wallet_apps.APPS.get(app_name or wallet_apps.WALLETPASSES)
    return app is None or bool(getattr(settings, app.url_setting.lower(), None))


def diagnose(card: Card, registration: Registration, deliveries: list[PushDelivery], settings: Settings) -> Diagnosis:
    """The answer for one registration; `deliveries` are its pushes (any order)."""
    app = (registration.client_app or wallet_apps.WALLETPASSES) if registration.client_kind == "relay" else None
    latest = max(deliveries, key=lambda row: (row.card_version, row.id), default=None)
    facts: dict[str, Any] = {"card_version": card.version, "app": app}
    if latest is not None:
        facts.update(last_push_version=latest.card_version, last_push_status=latest.status,
                     last_push_at=latest.confirmed_at or latest.accepted_at or latest.sent_at or latest.created_at)
    if not registration.active:
        return Diagnosis("token_dead", _summary("token_dead", reason=registration.dead_reason),
                         reason=registration.dead_reason, **facts)
    if registration.client_kind == "relay" and not relay_configured(settings, app):
        setting = wallet_apps.APPS[app].url_setting if app in wallet_apps.APPS else "its relay URL"
        reason = f"{setting} is not configured"
        return Diagnosis("relay_not_configured", _summary("relay_not_configured", app=app, reason=reason),
                         reason=reason, **facts)
    current = [row for row in deliveries if row.card_version >= card.version]
    if any(row.status == "confirmed" for row in current):
        return Diagnosis("up_to_date", _summary("up_to_date"), **facts)
    if current:
        push = max(current, key=lambda row: row.id)
        if push.status in ("queued", "sending", "retry"):
            return Diagnosis("push_pending", _summary("push_pending", attempts=push.attempts),
                             attempts=push.attempts, **facts)
        if push.status == "accepted":
            return Diagnosis("pushed_not_fetched", _summary("pushed_not_fetched"), **facts)
        if push.status == "unreachable":
            return Diagnosis("unreachable", _summary("unreachable", reason=push.reason), reason=push.reason, **facts)
        return Diagnosis("push_failed", _summary("push_failed", reason=push.reason), reason=push.reason, **facts)
    if registration.created_at is not None and card.updated_at is not None and \
            registration.created_at.replace(tzinfo=None) >= card.updated_at.replace(tzinfo=None):
        return Diagnosis("up_to_date", _summary("up_to_date"), **facts)  # added after the last change
    return Diagnosis("not_pushed", _summary("not_pushed"), **facts)


def google_state(session: Session, settings: Settings, card: Card) -> dict[str, Any]:
    """Saved in Google Wallet or not (the latest callback), and whether Google has the current version."""
    latest = session.scalar(select(GoogleWalletEvent.event_type).where(GoogleWalletEvent.card_id == card.id)
                            .order_by(GoogleWalletEvent.id.desc()).limit(1))
    state = {"save": "saved", "del": "removed"}.get(latest or "", "not_saved")
    configured = bool(settings.google_issuer_id)
    behind = configured and (card.google_synced_version is None or card.google_synced_version < card.version)
    if not configured and state == "not_saved":
        state = "dev"
    return {"state": state, "configured": configured, "synced_version": card.google_synced_version,
            "behind": behind}


def card_diagnosis(session: Session, settings: Settings, card: Card) -> dict[str, Any]:
    """Every device's answer for `card`, the card-level answer when no device has it, and Google's state."""
    registrations = session.scalars(select(Registration).where(Registration.card_id == card.id)
                                    .order_by(Registration.id)).all()
    deliveries = session.scalars(select(PushDelivery).where(PushDelivery.card_id == card.id)
                                 .order_by(PushDelivery.id.desc()).limit(1000)).all()
    by_registration: dict[int | None, list[PushDelivery]] = {}
    for delivery in deliveries:
        by_registration.setdefault(delivery.registration_id, []).append(delivery)
    devices = [{"registration_id": registration.id,
                "device_library_identifier": registration.device_library_identifier,
                "client_kind": registration.client_kind, "client_app": registration.client_app,
                **diagnose(card, registration, by_registration.get(registration.id, []), settings).as_dict()}
               for registration in registrations]
    if devices:
        overall = {"state": "has_devices", "summary": f"{len(devices)} device(s) hold this card."}
    else:
        orphaned = any(row.registration_id is None for row in deliveries)
        overall = {"state": "no_registration", "removed": orphaned,
                   "summary": _summary("removed" if orphaned else "no_registration")}
    return {"card_id": card.id, "card_version": card.version, "card_updated_at": card.updated_at,
            "voided": card.voided, "apple": overall, "devices": devices,
            "google": google_state(session, settings, card)}
