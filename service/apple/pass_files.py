"""Signed .pkpass bytes per card version: sign once, then serve the stored bytes.

A push to a million cards makes a million phones fetch their pass within minutes; signing
on each fetch would make RSA the bottleneck, so the bytes of the current version are kept.
A campaign signs its batch's passes ahead of the fetch (`store_many`), before the batch's
pushes go out, so the phones' fetches take the lean path and serve stored bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from passes.package import build_pkpass
from service.apple import signing
from service.design.card_design import build_pass, card_files
from service.models import Card, PassFile
from service.platform import build_batch


def render(card: Card, web_service_url: str) -> bytes:
    """Build and sign the card's current state (always signs: use `current` to serve)."""
    program = card.program
    return build_pkpass(build_pass(card, web_service_url), card_files(card), signing.signer_for(program))


def current(session: Session, card: Card, web_service_url: str) -> PassFile:
    """The stored file for the card's current version, signing it first if needed."""
    stored = session.get(PassFile, card.id)
    if stored is not None and stored.version == card.version:
        return stored
    data = render(card, web_service_url)
    if stored is None:
        stored = PassFile(card_id=card.id, version=card.version, last_modified=card.updated_at, data=data)
        try:
            with session.begin_nested():
                session.add(stored)
        except IntegrityError:  # another request stored it first: theirs is as good as ours
            stored = session.scalars(select(PassFile).where(PassFile.card_id == card.id)).one()
            session.refresh(stored)
            if stored.version == card.version:
                return stored
    stored.version, stored.last_modified, stored.data = card.version, card.updated_at, data
    session.flush()
    return stored


def store_many(session: Session, card_ids: Sequence[int], web_service_url: str) -> int:
    """Sign and store the current version of each card whose stored pass is older (or
    missing); returns how many were signed. The caller commits.

    The cards come in one query with their holders (their program, brand and tiers are the
    same objects for the whole batch), the stored versions without their bytes, and the new
    files go in one upsert that never replaces a newer version: a card changed again meanwhile,
    or a fetch that signed it first, wins.
    """
    if not card_ids:
        return 0
    stored = dict(session.execute(select(PassFile.card_id, PassFile.version)
                                  .where(PassFile.card_id.in_(card_ids))).all())
    cards = session.scalars(select(Card).where(Card.id.in_(card_ids)).order_by(Card.id)
                            .options(selectinload(Card.customer), selectinload(Card.program))).all()
    due = [card for card in cards if stored.get(card.id, -1) < card.version]
    with build_batch.batch(session, [card.id for card in due]):  # one rewards query, not one per card
        rows = [{"card_id": card.id, "version": card.version, "last_modified": card.updated_at,
                 "data": render(card, web_service_url)} for card in due]
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
        set_={"version": excluded.version, "last_modified": excluded.last_modified, "data": excluded.data},
        where=table.c.version < excluded.version), rows)
    return len(rows)
