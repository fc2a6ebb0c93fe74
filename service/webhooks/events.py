"""Webhooks: tell a brand's own systems what happened, reliably and verifiably.

`emit(session, brand_id, event, data)` adds one WebhookEvent row to the caller's session, so
the event commits (or rolls back) with the change it reports and nothing is lost when a
process dies. After the commit the event ids go to the job queue (service/webhooks/tasks.py):
a job fans each event out to the brand's endpoints that want it (WebhookDelivery rows) and
POSTs them, signed; failures are retried with exponential backoff up to a bounded number of
attempts, and a periodic sweeper re-sends anything whose job was lost.

Signature: `Passcast-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
so a receiver can check both who sent it and that it is fresh (replay window).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets as _secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from sqlalchemy import Engine, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from service.platform import db
from service.webhooks.addresses import (
    RefusedAddress,
    Resolver,
    checked_client,
    private_target,
    public_address,
    system_resolver,
)

log = logging.getLogger(__name__)

EVENTS = (
    "card.issued",
    "card.installed",
    "card.uninstalled",
    "card.voided",
    "card.updated",
    "transaction.created",
    "campaign.finished",
    "journey.entered",
)
#: Sent on request (POST /webhooks/{id}/test) to one endpoint; nobody subscribes to it.
TEST_EVENT = "webhook.test"
PAUSED = "endpoint paused"
SIGNATURE_HEADER = "Passcast-Signature"
_PENDING = "passcast_webhook_events"
_PENDING_IDS = "passcast_webhook_event_ids"
_PENDING_DELIVERIES = "passcast_webhook_delivery_ids"
_enqueue: Callable[[list[int]], None] | None = None
_enqueue_deliveries: Callable[[list[int]], None] | None = None


# -- writing events (in the caller's transaction) ---------------------------------------------


def emit(session: Session, brand_id: int, event: str, data: dict[str, Any]) -> None:
    """Record that `event` happened to `brand_id`, in `session`'s transaction: one INSERT at flush.

    Delivered after the commit; nothing is sent if the transaction rolls back. `data` must be
    JSON-able (Decimal and datetimes become strings).
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    payload = json.loads(json.dumps(data, default=str))
    values = {"brand_id": brand_id, "uid": str(uuid.uuid4()), "type": event, "data": payload, "dispatched": False,
              "created_at": utcnow()}
    # PostgreSQL: the INSERT now, straight from the driver, in the same transaction (the unit of work's
    # INSERT at flush was a tenth of the Python a till's purchase costs: issue 18)
    rows = db.session_driver_rows(session, _INSERT_ON_POSTGRESQL, values)
    if rows is not None:
        session.info.setdefault(_PENDING_IDS, []).append((rows[0][0], brand_id))
        return
    row = WebhookEvent(**values)
    session.add(row)
    session.info.setdefault(_PENDING, []).append(row)


_INSERT_ON_POSTGRESQL = (
    insert(WebhookEvent.__table__)
    .values({name: bindparam(name, type_=WebhookEvent.__table__.c[name].type)
             for name in ("brand_id", "uid", "type", "data", "dispatched", "created_at")})
    .returning(WebhookEvent.__table__.c.id)
)


def card_data(card: Any, **extra: Any) -> dict[str, Any]:
    """The `data` of card.* events: what identifies the card, without extra queries."""
    return {"card_id": card.id, "program_id": card.program_id, "serial_number": card.serial_number,
            "customer_id": card.customer_id, **extra}


def remember_deliveries(session: Session, ids: list[int]) -> None:
    """Deliveries to (re)send after this session commits (the API's retry)."""
    session.info.setdefault(_PENDING_DELIVERIES, []).extend(ids)


def set_enqueuer(enqueue: Callable[[list[int]], None], enqueue_deliveries: Callable[[list[int]], None]) -> None:
    """Where committed event ids and delivery ids go (the job queue); set once at start-up."""
    global _enqueue, _enqueue_deliveries
    _enqueue, _enqueue_deliveries = enqueue, enqueue_deliveries


# Which brands have an active endpoint, per database, cached for a while: most brands have
# none, and their events then cost one INSERT and no job. A brand that has just registered
# an endpoint in another process is covered by the sweeper until the cache expires here.
SUBSCRIBERS_TTL = 30.0
_subscribers: dict[str, tuple[float, frozenset[int]]] = {}
_subscribers_lock = threading.Lock()


def forget_subscribers() -> None:
    """Endpoints changed (the API calls this): read them again on the next event."""
    with _subscribers_lock:
        _subscribers.clear()


def _subscribed_brands(engine: Engine) -> frozenset[int]:
    key, now = str(engine.url), time.monotonic()
    with _subscribers_lock:
        cached = _subscribers.get(key)
    if cached is not None and now - cached[0] < SUBSCRIBERS_TTL:
        return cached[1]
    with engine.connect() as connection:
        brands = frozenset(connection.scalars(
            select(WebhookEndpoint.brand_id).where(WebhookEndpoint.active.is_(True)).distinct()))
    with _subscribers_lock:
        _subscribers[key] = (now, brands)
    return brands


def _after_flush(session: Session, _context: Any) -> None:
    """Ids are known once flushed (after the commit no SQL may run, even to load one)."""
    rows = session.info.get(_PENDING)
    if rows:
        flushed = [row for row in rows if row.id is not None]
        session.info[_PENDING] = [row for row in rows if row.id is None]
        session.info.setdefault(_PENDING_IDS, []).extend((row.id, row.brand_id) for row in flushed)


def _after_commit(session: Session) -> None:
    session.info.pop(_PENDING, None)
    pending = session.info.pop(_PENDING_IDS, None)
    deliveries = session.info.pop(_PENDING_DELIVERIES, None)
    try:
        if pending and _enqueue is not None:
            subscribed = _subscribed_brands(session.get_bind().engine)
            ids = [event_id for event_id, brand_id in pending if brand_id in subscribed]
            if ids:
                _enqueue(ids)
        if deliveries and _enqueue_deliveries is not None:
            _enqueue_deliveries(deliveries)
    except Exception:  # the sweeper will find them; never fail the caller's request
        log.exception("could not enqueue webhook work")


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_PENDING_IDS, None)
    session.info.pop(_PENDING_DELIVERIES, None)


def _install_hooks() -> None:
    from sqlalchemy import event as sa_event

    sa_event.listen(Session, "after_flush", _after_flush)
    sa_event.listen(Session, "after_commit", _after_commit)
    sa_event.listen(Session, "after_rollback", _after_rollback)


_install_hooks()


# -- signing ----------------------------------------------------------------------------------


def new_endpoint_secret() -> str:
    return "whsec_" + _secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the Passcast-Signature header for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance: float = 300.0, now: float | None = None) -> bool:
    """What a receiver does (documented in the README; used by the tests' receiver)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def payload_of(event: WebhookEvent) -> dict[str, Any]:
    return {"id": event.uid, "type": event.type, "created_at": event.created_at.isoformat(),
            "data": event.data}


# -- fan-out and delivery (run by jobs) --------------------------------------------------------


def wants(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return endpoint.active and (event_type in endpoint.events or "*" in endpoint.events)


def dispatch(session: Session, event_ids: Sequence[int]) -> list[int]:
    """Turn undispatched events into one queued delivery per interested endpoint; commit.

    The events are claimed by one conditional UPDATE (dispatched false -> true) before anything
    else: two dispatchers of the same events, the job and the sweeper, then split them instead of
    both fanning them out, on SQLite (one writer at a time) as on PostgreSQL (the second waits for
    the row and finds it dispatched)."""
    claimed = session.scalars(
        update(WebhookEvent).where(WebhookEvent.id.in_(event_ids), WebhookEvent.dispatched.is_(False))
        .values(dispatched=True).returning(WebhookEvent.id).execution_options(synchronize_session=False)).all()
    if not claimed:
        session.rollback()
        return []
    events = session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(claimed)).order_by(WebhookEvent.id)
                             .execution_options(populate_existing=True)).all()
    brand_ids = {event.brand_id for event in events}
    endpoints = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.brand_id.in_(brand_ids),
                                      WebhookEndpoint.active.is_(True))).all()
    deliveries: list[WebhookDelivery] = []
    for event in events:
        for endpoint in endpoints:
            if endpoint.brand_id == event.brand_id and wants(endpoint, event.type):
                deliveries.append(WebhookDelivery(brand_id=event.brand_id, event_id=event.id,
                                                  endpoint_id=endpoint.id, status="queued", attempts=0))
    session.add_all(deliveries)
    session.commit()
    return [delivery.id for delivery in deliveries]


def backoff(attempts: int, base: float) -> float:
    """Seconds before attempt `attempts + 1`: base, 2*base, 4*base ... capped at 6 hours."""
    return min(base * (2 ** max(attempts - 1, 0)), 6 * 3600.0)


def _claim(session: Session, ids: Sequence[int]) -> tuple[str, list[WebhookDelivery]]:
    token = str(uuid.uuid4())
    now = utcnow()
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status.in_(("queued", "retry")),
               or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now))
        .values(status="sending", claim=token, last_attempt_at=now, attempts=WebhookDelivery.attempts + 1)
        .execution_options(synchronize_session=False))
    session.commit()
    rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.claim == token)
                           .order_by(WebhookDelivery.id)).all()
    return token, list(rows)


def _post(client: httpx.Client, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
    body = json.dumps(payload_of(delivery.event), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Passcast-Webhooks/1",
        "Passcast-Event": delivery.event.type,
        "Passcast-Delivery": str(delivery.id),
        SIGNATURE_HEADER: sign(delivery.endpoint.secret, int(time.time()), body),
    }
    try:
        response = client.post(delivery.endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as error:
        if isinstance(error.__cause__, RefusedAddress):
            raise error.__cause__ from None
        return None, f"{type(error).__name__}: {error}"[:300]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def deliver(factory: sessionmaker[Session], ids: Sequence[int], *, max_attempts: int, backoff_base: float,
            timeout: float, reschedule: Callable[[list[int], float], None], allow_private: bool = False,
            resolver: Resolver = system_resolver) -> int:
    """POST the waiting deliveries among `ids`; record each answer; return how many succeeded.

    Unless `allow_private` (local development), each connection goes only to a public address,
    checked in the same DNS lookup that the socket is opened with (service/webhooks/addresses.py);
    `resolver` is that lookup (tests give their own).
    """
    if not ids:
        return 0
    delivered = 0
    with factory() as session:
        _token, rows = _claim(session, ids)
        if not rows:
            return 0
        allowed = (lambda _address: True) if allow_private else public_address
        with checked_client(timeout=timeout, allowed=allowed, resolver=resolver) as client:
            for delivery in rows:
                # Paused since queued: nothing more is sent, except a test's first attempt (a
                # test is asked for a paused endpoint on purpose; its retries are not).
                if not delivery.endpoint.active and (delivery.event.type != TEST_EVENT or delivery.attempts > 1):
                    delivery.status, delivery.claim, delivery.error = "failed", None, PAUSED
                    session.commit()
                    continue
                if not allow_private and private_target(delivery.endpoint.url):
                    delivery.status, delivery.claim = "failed", None
                    delivery.error = "refused: the URL names a private or loopback address"
                    session.commit()
                    continue
                try:
                    status_code, error = _post(client, delivery)
                except RefusedAddress as refusal:  # not retried: the brand must change the URL
                    delivery.status, delivery.claim, delivery.error = "failed", None, f"refused: {refusal}"[:300]
                    session.commit()
                    continue
                delivery.response_status = status_code
                delivery.claim = None
                now = utcnow()
                if error is None:
                    delivery.status, delivery.error, delivery.delivered_at = "delivered", None, now
                    delivered += 1
                elif _paused(session, delivery):
                    delivery.status = "failed"
                    delivery.error = f"{PAUSED}, not retried: {error}"[:300]
                elif delivery.attempts >= max_attempts:
                    delivery.status = "failed"
                    delivery.error = f"gave up after {delivery.attempts} attempts: {error}"[:300]
                else:
                    delay = backoff(delivery.attempts, backoff_base)
                    delivery.status, delivery.error = "retry", error
                    delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
                    session.commit()
                    reschedule([delivery.id], delay)
                    continue
                session.commit()
    return delivered


def _paused(session: Session, delivery: WebhookDelivery) -> bool:
    """Whether the endpoint is paused now (it may have been paused while this was being sent)."""
    session.refresh(delivery.endpoint, ["active"])
    return not delivery.endpoint.active


def stop_queued(session: Session, endpoint_id: int) -> int:
    """An endpoint was paused: its queued and retrying deliveries (a test's too) are not sent
    any more; they show as failed, "endpoint paused". The caller commits."""
    return session.execute(
        update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id,
                                      WebhookDelivery.status.in_(("queued", "retry")))
        .values(status="failed", claim=None, next_attempt_at=None, error=PAUSED)
        .execution_options(synchronize_session=False)).rowcount or 0


def stranded(session: Session, lease: dt.timedelta) -> tuple[list[int], list[int]]:
    """Events never fanned out and deliveries that are due but whose job was lost or died.

    Events of brands without an active endpoint (never enqueued) are settled here in one UPDATE.
    """
    now = utcnow()
    grace = now - dt.timedelta(seconds=20)
    session.execute(update(WebhookEvent).where(
        WebhookEvent.dispatched.is_(False), WebhookEvent.created_at <= grace,
        WebhookEvent.brand_id.not_in(select(WebhookEndpoint.brand_id).where(WebhookEndpoint.active.is_(True))))
        .values(dispatched=True).execution_options(synchronize_session=False))
    events = session.scalars(select(WebhookEvent.id).where(
        WebhookEvent.dispatched.is_(False), WebhookEvent.created_at <= grace).limit(5000)).all()
    deliveries = session.scalars(select(WebhookDelivery.id).where(or_(
        (WebhookDelivery.status == "queued") & (WebhookDelivery.created_at <= grace),
        (WebhookDelivery.status == "retry") & (WebhookDelivery.next_attempt_at <= now),
        (WebhookDelivery.status == "sending") & (WebhookDelivery.last_attempt_at <= now - lease),
    )).limit(5000)).all()
    if deliveries:
        # A worker that died mid-send: hand those back.
        session.execute(update(WebhookDelivery).where(
            WebhookDelivery.id.in_(deliveries), WebhookDelivery.status == "sending")
            .values(status="retry", claim=None, next_attempt_at=now)
            .execution_options(synchronize_session=False))
    session.commit()
    return list(events), list(deliveries)


def purge(session: Session, older_than: dt.timedelta) -> int:
    """Forget events (and their deliveries) older than the retention period; commit."""
    cutoff = utcnow() - older_than
    old = select(WebhookEvent.id).where(WebhookEvent.dispatched.is_(True), WebhookEvent.created_at < cutoff)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(old))
                    .execution_options(synchronize_session=False))
    gone = session.execute(delete(WebhookEvent).where(WebhookEvent.dispatched.is_(True),
                                                      WebhookEvent.created_at < cutoff)
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return gone or 0
