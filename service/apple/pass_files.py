"""Signed .pkpass bytes per card version: sign once, then serve the stored bytes.

A push to a million cards makes a million phones fetch their pass within minutes; signing
on each fetch would make RSA the bottleneck, so the bytes of the current version are kept.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from passes.package import build_pkpass
from service.apple import signing
from service.design.card_design import build_pass, card_files
from service.models import Card, PassFile


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
