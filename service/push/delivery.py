"""Sending queued pushes and recording what each vendor said.

Deliveries are claimed in chunks (status "sending" with a claim id) so that two workers
never send the same row, sent over one connection per credential, and their results
written back in one transaction per chunk. A worker killed mid-chunk leaves rows in
"sending"; the sweeper gives them back after LEASE. Exactly-once is impossible against a
vendor that does not deduplicate, so the duplicate window is bounded by the chunk in
flight, and a duplicate pass push is harmless (the phone asks, and gets a 204 or 304).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.models import PushDelivery, Registration, utcnow
from service.push.results import PushResult, backoff_delay
from service.push.senders import sender_for

log = logging.getLogger(__name__)

CHUNK = 1000
MAX_ATTEMPTS = 6
LEASE = dt.timedelta(minutes=2)
LOST_AFTER = dt.timedelta(seconds=20)
Reschedule = Callable[[list[int], float], None]


def claim(session: Session, ids: Sequence[int]) -> list[PushDelivery]:
    token = str(uuid.uuid4())
    session.execute(
        update(PushDelivery)
        .where(PushDelivery.id.in_(ids), PushDelivery.status.in_(("queued", "retry")))
        .values(status="sending", claim=token, sent_at=utcnow(), attempts=PushDelivery.attempts + 1))
    session.commit()
    return list(session.scalars(select(PushDelivery).where(PushDelivery.claim == token)))


def _send(session: Session, settings: Settings, rows: list[PushDelivery]) -> dict[int, PushResult]:
    groups: dict[tuple[str, str], list[PushDelivery]] = defaultdict(list)
    for row in rows:
        groups[(row.client_kind, row.topic)].append(row)
    results: dict[int, PushResult] = {}
    for (kind, topic), members in groups.items():
        try:
            sender = sender_for(session, settings, kind, topic)
            answers = sender.send_batch([row.push_token for row in members], topic)
        except LookupError as error:
            answers = [PushResult(row.push_token, "failed", reason=str(error)[:200]) for row in members]
        for row, answer in zip(members, answers, strict=True):
            results[row.id] = answer
    return results


def _record(session: Session, rows: list[PushDelivery], results: dict[int, PushResult]) -> dict[float, list[int]]:
    """Write every outcome; return the ids to try again, grouped by delay."""
    now = utcnow()
    retries: dict[float, list[int]] = defaultdict(list)
    dead_registrations: list[int] = []
    for row in rows:
        result = results[row.id]
        row.claim = None
        if result.status == "accepted":
            row.status, row.accepted_at, row.reason = "accepted", now, None
        elif result.status == "retry" and row.attempts < MAX_ATTEMPTS:
            delay = result.retry_after if result.retry_after is not None else backoff_delay(row.attempts)
            row.status, row.reason = "retry", result.reason or f"HTTP {result.http_status}"
            row.next_attempt_at = now + dt.timedelta(seconds=delay)
            retries[round(delay, 1)].append(row.id)
        else:
            gave_up = result.status == "retry"
            row.status = "unregistered" if result.status == "unregistered" else "failed"
            row.reason = (f"gave up after {row.attempts} attempts: " if gave_up else "") + (
                result.reason or f"HTTP {result.http_status}")
            if result.drop_registration and row.registration_id is not None:
                dead_registrations.append(row.registration_id)
    if dead_registrations:
        _drop_registrations(session, rows, results, dead_registrations)
    session.commit()
    return retries


def _drop_registrations(session: Session, rows: list[PushDelivery], results: dict[int, PushResult],
                        registration_ids: list[int]) -> None:
    """410 Unregistered deletes the registration, unless the device re-registered since
    (pitfall 9); BadDeviceToken marks it dead so it is not pushed again."""
    for row in rows:
        result = results[row.id]
        if row.registration_id not in registration_ids:
            continue
        registration = session.get(Registration, row.registration_id)
        if registration is None or registration.push_token != row.push_token:
            continue  # re-registered with a new token meanwhile: keep it
        if result.status == "unregistered":
            stamp = result.unregistered_at
            if stamp is None or registration.updated_at.timestamp() <= stamp:
                session.execute(delete(Registration).where(Registration.id == registration.id))
        else:
            registration.active, registration.dead_reason = False, result.reason


def deliver(factory: sessionmaker[Session], settings: Settings, ids: Sequence[int],
            reschedule: Reschedule) -> int:
    """Send the given deliveries (those still waiting); returns how many were sent."""
    sent = 0
    for start in range(0, len(ids), CHUNK):
        with factory() as session:
            rows = claim(session, ids[start:start + CHUNK])
            if not rows:
                continue
            results = _send(session, settings, rows)
            retries = _record(session, rows, results)
            sent += len(rows)
        for delay, retry_ids in retries.items():
            reschedule(retry_ids, delay)
    return sent


def stranded(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Deliveries nobody is working on: never enqueued (crash after commit), abandoned by a
    dead worker, or due for a retry whose scheduled job was lost."""
    now = now or utcnow()
    condition = or_(
        (PushDelivery.status == "queued") & (PushDelivery.created_at < now - LOST_AFTER),
        (PushDelivery.status == "sending") & (PushDelivery.sent_at < now - LEASE),
        (PushDelivery.status == "retry") & (PushDelivery.next_attempt_at < now - LOST_AFTER),
    )
    ids = list(session.scalars(select(PushDelivery.id).where(condition).order_by(PushDelivery.id).limit(50_000)))
    for start in range(0, len(ids), CHUNK):
        session.execute(update(PushDelivery)
                        .where(PushDelivery.id.in_(ids[start:start + CHUNK]), PushDelivery.status == "sending")
                        .values(status="retry", claim=None))
    session.commit()
    return ids
