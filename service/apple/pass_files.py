"""Signed .pkpass bytes per card version: sign once, then serve the stored bytes.

A push to a million cards makes a million phones fetch their pass within minutes; signing
on each fetch would make RSA the bottleneck, so the bytes of the current version are kept.
A campaign signs its batch's passes ahead of the fetch (`store_many`), before the batch's
pushes go out, so the phones' fetches take the lean path and serve stored bytes.

What is stored is only the card's own part of the archive (pass.json, manifest.json and
signature, ~5 kB: passes.package.PassParts) and the key of its resource set (the program's
images and pass.strings, ~80 kB, the same for every card of a program and tier); the archive
is put together when served (`archive`), byte for byte the one that was signed. Stored whole,
a campaign wrote and read ~83 kB per card through PostgreSQL (TOAST, WAL) and the driver. A
process that has not built that resource set yet builds it from the card's program (the same
files `render` uses) and serves the stored parts only if the key matches, so it never serves a
wrong image; otherwise the pass is signed afresh. Rows stored before migration 0022
(`resources` NULL) hold whole archives and are served as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from passes.errors import PassValidationError
from passes.package import PassParts, assemble_pkpass, build_pass_parts, build_pkpass, resources_key
from service.apple import signing
from service.design.card_design import build_pass, card_files
from service.models import Card, PassFile
from service.platform import build_batch


class Served(NamedTuple):
    """A card's current .pkpass and its Last-Modified."""

    data: bytes
    last_modified: dt.datetime


def render(card: Card, web_service_url: str) -> bytes:
    """Build and sign the card's current state (always signs: use `served` to serve)."""
    program = card.program
    return build_pkpass(build_pass(card, web_service_url), card_files(card), signing.signer_for(program))


def render_parts(card: Card, web_service_url: str) -> PassParts:
    """What `render` signs, without the resource files: what is stored."""
    return build_pass_parts(build_pass(card, web_service_url), card_files(card), signing.signer_for(card.program))


def stored_archive(resources: str | None, data: bytes) -> bytes | None:
    """The .pkpass of a stored row (its `resources` and `data`), or None when this process does
    not know the row's resource set yet (`archive` builds it from the card)."""
    if resources is None:
        return data  # a whole archive, stored before 0022
    try:
        return assemble_pkpass(PassParts.from_bytes(resources, data))
    except PassValidationError:
        return None


def archive(stored: PassFile, card: Card) -> bytes | None:
    """The stored row's .pkpass, building the card's resource set if this process has not yet;
    None if the row's resource set is not the card's files now (the pass must be signed again)."""
    data = stored_archive(stored.resources, stored.data)
    if data is None and stored.resources is not None and resources_key(card_files(card)) == stored.resources:
        data = stored_archive(stored.resources, stored.data)
    return data


def current(session: Session, card: Card, web_service_url: str) -> PassFile:
    """The stored row for the card's current version, signing it first if needed (its `data`
    is parts: read the archive with `served` or `archive`)."""
    stored = session.get(PassFile, card.id)
    if stored is not None and stored.version == card.version:
        return stored
    return _store(session, card, web_service_url, stored)


def served(session: Session, card: Card, web_service_url: str) -> Served:
    """The card's current .pkpass: the stored one, or signed now and stored."""
    stored = current(session, card, web_service_url)
    data = archive(stored, card)
    if data is None:  # signed with resource files the card no longer has: sign it again
        stored = _store(session, card, web_service_url, stored)
        data = archive(stored, card)
        assert data is not None  # just signed with this process's files
    return Served(data, stored.last_modified)


def _store(session: Session, card: Card, web_service_url: str, stored: PassFile | None) -> PassFile:
    parts = render_parts(card, web_service_url)
    data = parts.to_bytes()
    if stored is None:
        stored = PassFile(card_id=card.id, version=card.version, last_modified=card.updated_at, data=data,
                          resources=parts.resources)
        try:
            with session.begin_nested():
                session.add(stored)
        except IntegrityError:  # another request stored it first: theirs is as good as ours
            stored = session.scalars(select(PassFile).where(PassFile.card_id == card.id)).one()
            session.refresh(stored)
            if stored.version == card.version:
                return stored
    stored.version, stored.last_modified, stored.data = card.version, card.updated_at, data
    stored.resources = parts.resources
    session.flush()
    return stored


def store_many(session: Session, card_ids: Sequence[int], web_service_url: str) -> int:
    """Sign and store the current version of each card whose stored pass is older (or
    missing); returns how many were signed. The caller commits.

    The cards come in one query with their holders (their program, brand and tiers are the
    same objects for the whole batch), the stored versions without their bytes, and the new
    rows (each card's own ~5 kB, see the module's docstring) go in one upsert that never
    replaces a newer version: a card changed again meanwhile, or a fetch that signed it first, wins.
    """
    if not card_ids:
        return 0
    stored = dict(session.execute(select(PassFile.card_id, PassFile.version)
                                  .where(PassFile.card_id.in_(card_ids))).all())
    cards = session.scalars(select(Card).where(Card.id.in_(card_ids)).order_by(Card.id)
                            .options(selectinload(Card.customer), selectinload(Card.program))).all()
    due = [card for card in cards if stored.get(card.id, -1) < card.version]
    rows = []
    with build_batch.batch(session, [card.id for card in due]):  # one rewards query, not one per card
        for card in due:
            parts = render_parts(card, web_service_url)
            rows.append({"card_id": card.id, "version": card.version, "last_modified": card.updated_at,
                         "data": parts.to_bytes(), "resources": parts.resources})
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    table = PassFile.__table__
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - the two databases we run on
        for row in rows:
            current(session, session.get_one(Card, row["card_id"]), web_service_url)
        return len(rows)
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    excluded = insert.excluded
    session.execute(insert.on_conflict_do_update(
        index_elements=[table.c.card_id],
        set_={"version": excluded.version, "last_modified": excluded.last_modified, "data": excluded.data,
              "resources": excluded.resources},
        where=table.c.version < excluded.version), rows)
    return len(rows)
