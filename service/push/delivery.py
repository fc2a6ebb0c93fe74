"""Sending queued pushes and recording what each vendor said.

Deliveries are claimed in chunks (status "sending" with a claim id) so that two workers
never send the same row, sent over one connection per credential, and their results
written back in one transaction per chunk. A worker killed mid-chunk leaves rows in
"sending"; the sweeper gives them back after the lease (PUSH_LEASE_SECONDS). Exactly-once is impossible against a
vendor that does not deduplicate, so the duplicate window is bounded by the chunk in
flight, and a duplicate pass push is harmless (the phone asks, and gets a 204 or 304).

On PostgreSQL the claim and the record of the accepted pushes are one statement each, run by
the driver on the autocommit engine (no ORM session, no liveness ping, no BEGIN/COMMIT round
trips): at the till every purchase queues one push and runs one job, and that job's claim
transaction, certificate query and record transaction through the ORM cost several
milliseconds of the worker's CPU for a single push (issue 18). The claim still commits before
anything is sent and the record after the answers, so a crash between them leaves the rows
"sending" for the sweeper, as before. Both commit without waiting for PostgreSQL's disk
(synchronous_commit=off on that engine): a database crash can forget the last fraction of a
second of them, which makes those pushes go out once more, never lose them.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Engine, Integer, Row, any_, bindparam, delete, null, or_, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from service.models import PushDelivery, Registration, UTCDateTime, utcnow
from service.platform import db
from service.platform.config import Settings
from service.push.id_lists import among
from service.push.results import PushResult, backoff_delay
from service.push.senders import Unreachable, sender_for

log = logging.getLogger(__name__)

CHUNK = 1000
MAX_ATTEMPTS = 6
LOST_AFTER = dt.timedelta(seconds=20)
Reschedule = Callable[[list[int], float], None]


#: What sending and recording need of a claimed delivery (plain rows: no ORM identity map).
_CLAIMED = (
    PushDelivery.id,
    PushDelivery.push_token,
    PushDelivery.client_kind,
    PushDelivery.client_app,
    PushDelivery.topic,
    PushDelivery.attempts,
    PushDelivery.registration_id,
)


def claim(session: Session, ids: Sequence[int]) -> list[Row[Any]]:
    """Mark the waiting deliveries among `ids` as ours ("sending") and return them, in one
    UPDATE ... RETURNING round trip (PostgreSQL; SQLite >= 3.35)."""
    token = str(uuid.uuid4())
    rows = session.execute(
        update(PushDelivery.__table__)
        .where(among(session, PushDelivery.id, ids), PushDelivery.status.in_(("queued", "retry")))
        .values(status="sending", claim=token, sent_at=utcnow(), attempts=PushDelivery.attempts + 1)
        .returning(*_CLAIMED)
    ).all()
    session.commit()
    return sorted(rows, key=lambda row: row.id)


_deliveries, _registrations = PushDelivery.__table__, Registration.__table__
_IDS = ARRAY(Integer)

#: `claim` on PostgreSQL, compiled once and run by the driver in autocommit (see the module doc).
_CLAIM = (
    update(_deliveries)
    .where(_deliveries.c.id == any_(bindparam("ids", type_=_IDS)),
           _deliveries.c.status.in_([bindparam("waiting_queued", "queued"), bindparam("waiting_retry", "retry")]))
    .values(status=bindparam("sending", "sending"), claim=bindparam("claim"),
            sent_at=bindparam("now", type_=UTCDateTime()), attempts=_deliveries.c.attempts + 1)
    .returning(*(_deliveries.c[column.key] for column in _CLAIMED))
)

#: The accepted pushes of a chunk and the marks their registrations lose, in one statement: the
#: UPDATE of the deliveries runs as a data-modifying WITH, always to completion.
_ACCEPTED = (
    update(_deliveries)
    .where(_deliveries.c.id == any_(bindparam("accepted", type_=_IDS)),
           _deliveries.c.status == bindparam("still_sending", "sending"))
    .values(status=bindparam("accepted_status", "accepted"), accepted_at=bindparam("now", type_=UTCDateTime()),
            reason=null(), claim=null())
    .returning(_deliveries.c.id)
    .cte("accepted_now")
)
_RECORD_ACCEPTED = (
    update(_registrations)
    .where(_registrations.c.id == any_(bindparam("reached", type_=_IDS)), _registrations.c.active == true(),
           _registrations.c.dead_reason.is_not(None))
    .values(dead_reason=null())
    .add_cte(_ACCEPTED)
    .returning(_registrations.c.id)
)


def _driver_rows(lean: Engine, statement: Any, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
    """`statement` (with RETURNING) run by psycopg on a connection of the autocommit engine, with
    the bind processors SQLAlchemy would apply; the engine's cursor listeners see it. A pooled
    connection the database dropped is replaced once: the claim is then retried (had the first
    one committed unseen, its rows wait in "sending" for the sweeper) and the record is
    idempotent (only rows still "sending" change)."""
    from psycopg import Error as DriverError

    sql, defaults, processors = db._driver_statement(statement, lean.dialect)  # noqa: SLF001 - one compile
    values = {**defaults, **parameters}
    for name, process in processors.items():
        if name in values:
            values[name] = process(values[name])
    dispatch = lean.dispatch
    for attempt in (1, 2):
        fairy = lean.raw_connection()
        try:
            with fairy.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                if dispatch.before_cursor_execute:
                    dispatch.before_cursor_execute(None, cursor, sql, values, None, False)
                cursor.execute(sql, values)
                rows = cursor.fetchall()
                if dispatch.after_cursor_execute:
                    dispatch.after_cursor_execute(None, cursor, sql, values, None, False)
                return rows
        except DriverError as error:
            if attempt == 1 and fairy.driver_connection.closed:  # type: ignore[union-attr]
                fairy.invalidate(error)
                continue
            raise DBAPIError.instance(sql, values, error, DriverError) from error
        finally:
            fairy.close()
    raise AssertionError("unreachable")


class Claimed(NamedTuple):
    """A claimed delivery as `_CLAIM` returns it (the columns of _CLAIMED, in order)."""

    id: int
    push_token: str
    client_kind: str
    client_app: str | None
    topic: str
    attempts: int
    registration_id: int | None


def claim_lean(lean: Engine, ids: Sequence[int]) -> list[Claimed]:
    """`claim` in one autocommit round trip (PostgreSQL)."""
    rows = _driver_rows(lean, _CLAIM, {"ids": list(ids), "claim": str(uuid.uuid4()), "now": utcnow()})
    return sorted((Claimed(*row) for row in rows), key=lambda row: row.id)


def _reached(rows: Sequence[Any]) -> list[int]:
    """Registrations whose mark an accepted push clears: only a registration still active can
    carry one (an unconfigured relay's "unreachable: ..."); every mark a vendor's answer sets
    also deactivates it, and those are never pushed. Apple registrations are only marked that
    way, so their accepted pushes need no look at the registrations table."""
    return [row.registration_id for row in rows if row.registration_id is not None and row.client_kind != "apple"]


def _record_lean(lean: Engine, factory: sessionmaker[Session], rows: Sequence[Any],
                 results: dict[int, PushResult]) -> dict[float, list[int]]:
    """`_record` with the accepted rows (nearly all) in one autocommit statement; the rest, if
    any, through `_record` in a session of their own."""
    accepted = [row for row in rows if results[row.id].status == "accepted"]
    others = [row for row in rows if results[row.id].status != "accepted"]
    if accepted:
        _driver_rows(lean, _RECORD_ACCEPTED,
                     {"accepted": [row.id for row in accepted], "reached": _reached(accepted), "now": utcnow()})
    if not others:
        return {}
    with factory() as session:
        return _record(session, others, results)


def _send(session: Session, settings: Settings, rows: Sequence[Row[Any]]) -> dict[int, PushResult]:
    """Each group goes to the sender of its platform and app: a relay app's tokens never go
    through our FCM project, and an unconfigured relay sends nothing (the tokens are marked
    unreachable with http_status None: no vendor was asked)."""
    groups: dict[tuple[str, str | None, str], list[Row[Any]]] = defaultdict(list)
    for row in rows:
        groups[(row.client_kind, row.client_app, row.topic)].append(row)
    results: dict[int, PushResult] = {}
    for (kind, app, topic), members in groups.items():
        try:
            sender = sender_for(session, settings, kind, topic, app)
            answers = sender.send_batch([row.push_token for row in members], topic)
        except Unreachable as error:
            answers = [PushResult(row.push_token, "unreachable", reason=str(error)[:200]) for row in members]
        except LookupError as error:
            answers = [PushResult(row.push_token, "failed", reason=str(error)[:200]) for row in members]
        for row, answer in zip(members, answers, strict=True):
            results[row.id] = answer
    return results


def _record(session: Session, rows: Sequence[Row[Any]], results: dict[int, PushResult]) -> dict[float, list[int]]:
    """Write every outcome; return the ids to try again, grouped by delay.

    Accepted rows (nearly all of them) take one UPDATE ... WHERE id IN (...); the others one
    executemany per kind of change, instead of a flush of one ORM object per row.
    """
    now = utcnow()
    retries: dict[float, list[int]] = defaultdict(list)
    accepted: list[int] = []
    to_retry: list[dict[str, Any]] = []
    finished: list[dict[str, Any]] = []
    dead_registrations: list[int] = []
    reached_registrations: list[int] = []
    for row in rows:
        result = results[row.id]
        if result.status == "accepted":
            accepted.append(row.id)
            if row.registration_id is not None and row.client_kind != "apple":  # see _reached
                reached_registrations.append(row.registration_id)
        elif result.status == "retry" and row.attempts < MAX_ATTEMPTS:
            delay = result.retry_after if result.retry_after is not None else backoff_delay(row.attempts)
            to_retry.append(
                {
                    "row_id": row.id,
                    "new_reason": result.reason or f"HTTP {result.http_status}",
                    "due": now + dt.timedelta(seconds=delay),
                }
            )
            retries[round(delay, 1)].append(row.id)
        else:
            gave_up = result.status == "retry"
            finished.append(
                {
                    "row_id": row.id,
                    "new_status": result.status if result.status in ("unregistered", "unreachable") else "failed",
                    "new_reason": (f"gave up after {row.attempts} attempts: " if gave_up else "")
                    + (result.reason or f"HTTP {result.http_status}"),
                }
            )
            if (result.drop_registration or result.status == "unreachable") and row.registration_id is not None:
                dead_registrations.append(row.registration_id)
    table = PushDelivery.__table__
    # Only rows still "sending": a phone may fetch its pass (and confirm the push) before the
    # chunk's answers are written, and "accepted" must not overwrite that "confirmed".
    sending = table.c.status == "sending"
    for start in range(0, len(accepted), CHUNK):
        session.execute(
            update(table)
            .where(among(session, table.c.id, accepted[start : start + CHUNK]), sending)
            .values(status="accepted", accepted_at=now, reason=None, claim=None)
        )
    if to_retry:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"), sending)
            .values(status="retry", reason=bindparam("new_reason"), next_attempt_at=bindparam("due"), claim=None),
            to_retry,
        )
    if finished:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"), sending)
            .values(status=bindparam("new_status"), reason=bindparam("new_reason"), claim=None),
            finished,
        )
    for start in range(0, len(reached_registrations), CHUNK):
        # A relay configured since its tokens were marked unreachable: the mark goes.
        session.execute(
            update(Registration.__table__)
            .where(among(session, Registration.id, reached_registrations[start : start + CHUNK]),
                   Registration.active.is_(True), Registration.dead_reason.is_not(None))
            .values(dead_reason=None)
        )
    if dead_registrations:
        _drop_registrations(session, rows, results, dead_registrations)
    session.commit()
    return retries


def _drop_registrations(
    session: Session, rows: Sequence[Row[Any]], results: dict[int, PushResult], registration_ids: list[int]
) -> None:
    """410 Unregistered deletes the registration, unless the device re-registered since
    (pitfall 9); BadDeviceToken marks it dead so it is not pushed again; so does a token no
    route reaches (SENDER_ID_MISMATCH, a relay not knowing it), with "unreachable: <why>".
    An unconfigured relay (no vendor answered) only marks it: configuring the relay resumes
    its pushes with the card's next change, and re-registering clears every mark."""
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
        elif result.status == "unreachable":
            registration.dead_reason = f"unreachable: {result.reason}"[:100]
            if result.http_status is not None:  # the vendor said so about this token
                registration.active = False
        else:
            registration.active, registration.dead_reason = False, result.reason


def deliver(factory: sessionmaker[Session], settings: Settings, ids: Sequence[int], reschedule: Reschedule,
            lean: Engine | None = None) -> int:
    """Send the given deliveries (those still waiting); returns how many were sent.

    `lean`: the app's autocommit engine (db_lean_engine); on PostgreSQL the claim and the
    record of accepted pushes then run on it (see the module doc)."""
    if lean is not None and lean.dialect.name != "postgresql":
        lean = None
    sent = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        if lean is not None:
            rows: Sequence[Any] = claim_lean(lean, chunk)
            if not rows:
                continue
            with factory() as session:  # no connection unless a sender must look at the certificates
                results = _send(session, settings, rows)
            retries = _record_lean(lean, factory, rows, results)
            sent += len(rows)
        else:
            with factory() as session:
                rows = claim(session, chunk)
                if not rows:
                    continue
                results = _send(session, settings, rows)
                retries = _record(session, rows, results)
                sent += len(rows)
        for delay, retry_ids in retries.items():
            reschedule(retry_ids, delay)
    return sent


def stranded(session: Session, lease: dt.timedelta, now: dt.datetime | None = None) -> list[int]:
    """Deliveries nobody is working on: never enqueued (crash after commit), abandoned by a
    dead worker (claimed longer than `lease` ago), or due for a retry whose job was lost."""
    now = now or utcnow()
    condition = or_(
        (PushDelivery.status == "queued") & (PushDelivery.created_at < now - LOST_AFTER),
        (PushDelivery.status == "sending") & (PushDelivery.sent_at < now - lease),
        (PushDelivery.status == "retry") & (PushDelivery.next_attempt_at < now - LOST_AFTER),
    )
    ids = list(session.scalars(select(PushDelivery.id).where(condition).order_by(PushDelivery.id).limit(50_000)))
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(PushDelivery)
            .where(among(session, PushDelivery.id, ids[start : start + CHUNK]), PushDelivery.status == "sending")
            .values(status="retry", claim=None)
        )
    session.commit()
    return ids
