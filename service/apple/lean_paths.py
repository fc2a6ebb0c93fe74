"""The statements behind the two calls every phone makes after a push: list its updatable
passes, fetch each one. Plain Core on the autocommit engine (service/platform/db.py
`lean_rows`), no ORM entities and no Session.

A storm is a million of these within minutes, and on the old path the request cost more
than signing a pass anew (issue 18): a liveness ping, BEGIN, an ORM select of the card, its
program and its stored .pkpass, the same blob selected again (the identity map holds it
weakly, so it was gone by the time `pass_files.current` asked), an UPDATE of push_deliveries
on every 200, and COMMIT. Here a fetch is one SELECT of exactly the columns it needs:

- the blob only when the answer is a 200 (a CASE on If-Modified-Since: a 304 never reads the
  TOASTed bytes);
- whether any push of this version or older still waits for confirmation (an EXISTS on the
  card_id index of push_deliveries), so the confirming UPDATE runs only when there is
  something to confirm, i.e. once per push, not once per fetch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Engine, and_, bindparam, case, exists, select, true, update

from service.models import Card, PassFile, Program, PushDelivery, Registration, UTCDateTime, utcnow
from service.platform import db

#: Delivery statuses a fetch of the announced version (or a newer one) confirms.
UNCONFIRMED = ("accepted", "sending", "queued", "retry")
#: `fresh_from` of a request without If-Modified-Since: every stored version is "newer".
EVERYTHING = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_cards, _programs, _files = Card.__table__, Program.__table__, PassFile.__table__
_deliveries, _registrations = PushDelivery.__table__, Registration.__table__
# One bound parameter per status, not `in_(UNCONFIRMED)`: an expanding IN is re-rendered on
# every execution (SQLAlchemy's "post-compile" step), a measurable share of a 304's CPU.
_UNCONFIRMED = _deliveries.c.status.in_([bindparam(f"unconfirmed_{n}", status)
                                         for n, status in enumerate(UNCONFIRMED)])

_PASS = (
    select(
        _cards.c.id, _cards.c.authentication_token, _cards.c.version, _cards.c.updated_at,
        _programs.c.name.label("program_name"),
        _files.c.version.label("stored_version"), _files.c.last_modified, _files.c.resources,
        # Only a 200 needs the bytes (updated_at at or after the second after If-Modified-Since).
        case((_cards.c.updated_at >= bindparam("fresh_from", type_=UTCDateTime()), _files.c.data)).label("data"),
        exists().where(_deliveries.c.card_id == _cards.c.id, _deliveries.c.card_version <= _cards.c.version,
                       _UNCONFIRMED).label("unconfirmed"),
    )
    .select_from(_cards.join(_programs, _programs.c.id == _cards.c.program_id)
                 .outerjoin(_files, _files.c.card_id == _cards.c.id))
    .where(_cards.c.serial_number == bindparam("serial"),
           _programs.c.pass_type_identifier == bindparam("pass_type_identifier"))
)

_CONFIRM = (
    update(_deliveries)
    .where(_deliveries.c.card_id == bindparam("held_card"), _deliveries.c.card_version <= bindparam("held_version"),
           _UNCONFIRMED)
    .values(status="confirmed", confirmed_at=bindparam("now", type_=UTCDateTime()))
)

_UPDATABLE = (
    select(_cards.c.id, _cards.c.serial_number, _cards.c.version, _cards.c.updated_at)
    .select_from(_cards.join(_registrations, _registrations.c.card_id == _cards.c.id))
    .where(and_(_registrations.c.device_library_identifier == bindparam("device"),
                _registrations.c.pass_type_identifier == bindparam("pass_type_identifier"),
                _registrations.c.active.is_(true()),
                _cards.c.updated_at > bindparam("watermark", type_=UTCDateTime())))
)


class PassRow(NamedTuple):
    """What a fetch needs of the card and its stored .pkpass."""

    id: int
    authentication_token: str
    version: int
    updated_at: dt.datetime
    program_name: str
    stored_version: int | None
    last_modified: dt.datetime | None
    resources: str | None  # the stored parts' resource set; None: `data` is a whole archive
    data: bytes | None
    unconfirmed: bool


def pass_row(pass_type_identifier: str, serial_number: str, fresh_from: dt.datetime = EVERYTHING,
             engine: Engine | None = None) -> PassRow | None:
    """The card's row, or None for an unknown serial.

    `data` is the stored row's bytes (with `resources`: service/apple/pass_files.py
    `stored_archive`) when the card changed at or after `fresh_from`, else None; it is None too
    when nothing is stored yet (stored_version None). On PostgreSQL the row
    comes straight from the driver (`db.driver_rows`), elsewhere through SQLAlchemy Core.
    `engine`: the app's lean engine (service/platform/db.py), when there is no app context.
    """
    parameters = {"serial": serial_number, "pass_type_identifier": pass_type_identifier,
                  "fresh_from": fresh_from.astimezone(dt.UTC)}
    raw = db.driver_rows(_PASS, parameters, engine)
    if raw is None:
        rows = db.lean_rows(_PASS, parameters, engine)
        return PassRow(*rows[0][:-1], bool(rows[0][-1])) if rows else None
    if not raw:
        return None
    card_id, token, version, updated_at, name, stored_version, last_modified, resources, data, unconfirmed = raw[0]
    return PassRow(card_id, token, version, updated_at.astimezone(dt.UTC), name, stored_version,
                   last_modified.astimezone(dt.UTC) if last_modified is not None else None, resources,
                   bytes(data) if data is not None else None, bool(unconfirmed))


def confirm(card_id: int, version: int, engine: Engine | None = None) -> int:
    """Pushes that announced `version` (or older) are confirmed: the phone holds it now.

    Its own autocommit statement: a confirmation lost in a database crash is harmless, a WAL
    flush per pass download is not. Straight through the driver on PostgreSQL."""
    parameters = {"held_card": card_id, "held_version": version, "now": utcnow()}
    touched = db.driver_write(_CONFIRM, parameters, engine)
    return db.lean_write(_CONFIRM, parameters, engine) if touched is None else touched


class UpdatableRow(NamedTuple):
    id: int
    serial_number: str
    version: int
    updated_at: dt.datetime


def updatable_rows(device_id: str, pass_type_identifier: str, watermark: dt.datetime,
                   engine: Engine | None = None) -> Sequence[UpdatableRow]:
    """(id, serial_number, version, updated_at) of the device's active registrations of this
    pass type whose card changed after `watermark`; straight from the driver on PostgreSQL."""
    parameters = {"device": device_id, "pass_type_identifier": pass_type_identifier,
                  "watermark": watermark.astimezone(dt.UTC)}
    raw = db.driver_rows(_UPDATABLE, parameters, engine)
    if raw is None:
        return [UpdatableRow(*row) for row in db.lean_rows(_UPDATABLE, parameters, engine)]
    return [UpdatableRow(card_id, serial, version, updated_at.astimezone(dt.UTC))
            for card_id, serial, version, updated_at in raw]
