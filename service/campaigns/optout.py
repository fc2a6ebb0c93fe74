"""The holder's own switch for marketing messages, linked from the back of the pass.

Every pass (Apple: a back field; Google: a link in the object's links module) carries the link
``/cards/<serial>/messages?key=<key>``: the key is an HMAC of the serial with the brand's secret,
bound to this one purpose, so only someone holding the pass can open it, and a forwarded link
opens nothing else (the download key would hand over the pass itself, with its authentication
token). The page (service/campaigns/optout_page.py) turns messages
off or on; campaigns and journeys then skip the card (pacing.py: reason "opted_out"), while what a
transaction changes (balance, stamps, tier) still reaches the phone as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from passes.google import Link
from passes.schema import Field
from service.design import card_design
from service.google_wallet import sync
from service.models import Brand, Card, MessageOptOut, utcnow
from service.platform.config import Settings

#: The label on the pass (a pass.strings key: service/design/card_design.py RUSSIAN has its Russian).
LINK_LABEL = "Messages from us: turn off or on"


def opted_out(session: Session, card_id: int) -> bool:
    return session.get(MessageOptOut, card_id) is not None


def takes_marketing(card: Card) -> bool:
    """For the card design: False when the holder turned marketing messages off."""
    session = object_session(card)
    return session is None or not opted_out(session, card.id)


def set_opt_out(session: Session, card: Card, off: bool, now: dt.datetime | None = None) -> bool:
    """Turn the card's marketing messages off (`off`) or back on; True when that changed anything.
    The caller commits. Twice the same way (two tabs, a double tap) changes nothing the second time."""
    if not off:
        return bool(session.execute(delete(MessageOptOut).where(MessageOptOut.card_id == card.id))
                    .rowcount)  # type: ignore[attr-defined]
    if opted_out(session, card.id):
        return False
    try:
        with session.begin_nested():
            session.add(MessageOptOut(card_id=card.id, opted_out_at=now or utcnow()))
    except IntegrityError:  # the same card, at the same moment, from another request
        return False
    return True


def messages_key(card: Card, brand: Brand) -> str:
    """The key of the card's messages link: opens that page and nothing else."""
    mac = hmac.new(brand.code_secret, b"messages:" + card.serial_number.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def key_ok(card: Card, key: str) -> bool:
    return hmac.compare_digest(key.encode(), messages_key(card, card.program.brand).encode())


def card_for_link(session: Session, serial: str, key: str) -> Card | None:
    """The card a link names, or None when the serial is unknown or the key is not its own."""
    if not serial or len(serial) > 64 or not key:
        return None
    card = session.scalar(select(Card).where(Card.serial_number == serial))
    return card if card is not None and key_ok(card, key) else None


def messages_url(card: Card, public_base_url: str) -> str:
    key = messages_key(card, card.program.brand)
    return f"{public_base_url.rstrip('/')}/cards/{card.serial_number}/messages?key={key}"


def back_fields(card: Card, web_service_url: str) -> list[Field]:
    """The link on the back of every pass that is not voided."""
    if card.voided or not card.serial_number:
        return []
    url = messages_url(card, web_service_url.removesuffix("/passkit"))
    return [Field(key="messages", label=LINK_LABEL, value=url)]


def google_links(settings: Settings, card: Card, language: str) -> list[Link]:
    """The same link in the Google object's links module, labelled in the customer's language."""
    if card.voided or not card.serial_number:
        return []
    return [Link(id="messages", uri=messages_url(card, settings.public_base_url),
                 description=sync.words(LINK_LABEL, language))]


def register() -> None:
    """Put the link on every pass, Apple and Google (called by the app factory, so web and worker
    processes build the same passes)."""
    card_design.register_back_fields("messages", back_fields)
    card_design.register_marketing_check(takes_marketing)
    sync.register_links("messages", google_links)
