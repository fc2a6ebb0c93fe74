"""Cards: issuing them, and the one place where a card's visible state is marked as changed."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from flask import url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from passes.barcodes import DEFAULT_FORMAT, ShownBarcode, shown_barcode
from passes.cardcode import encode_card_code, short_number
from service.loyalty import legacy_numbers
from service.models import Brand, Card, Customer, LedgerEntry, Program, utcnow
from service.models.columns import column_reader
from service.platform.secrets import random_token

CARD_NUMBER_DIGITS = 9


@dataclass(frozen=True)
class CustomerDetails:
    name: str
    email: str | None = None
    phone: str | None = None
    birthday: dt.date | None = None
    language: str = "en"
    home_store_id: int | None = None


def touch(card: Card, now: dt.datetime | None = None) -> None:
    """Mark what the pass shows as changed: a new version and a strictly later whole second.

    HTTP dates have one-second resolution, so two updates inside the same second would give
    the same Last-Modified and a phone asking If-Modified-Since would wrongly get a 304.
    """
    now = (now or utcnow()).replace(microsecond=0)
    previous = card.updated_at.replace(microsecond=0) if card.updated_at else None
    card.updated_at = max(now, previous + dt.timedelta(seconds=1)) if previous else now
    card.version = (card.version or 0) + 1


def starter_stamps(program: Program) -> int:
    """The stamps a new card of a stamp-card program starts with (people finish a card started for
    them more often); 0 for every other kind. Only the first card: the next one starts with the
    stamps carried over from the full one."""
    return int(program.starter_stamps or 0) if program.kind == "stamps" else 0


def find_existing(session: Session, program: Program, details: CustomerDetails) -> Card | None:
    """A customer already enrolled with the same email or phone gets their card back."""
    conditions = []
    if details.email:
        conditions.append(Customer.email == details.email.lower())
    if details.phone:
        conditions.append(Customer.phone == details.phone)
    if not conditions:
        return None
    return session.scalar(
        select(Card).join(Customer).where(Card.program_id == program.id, or_(*conditions)).limit(1))


def _unused_number(session: Session, brand_id: int) -> int:
    low, high = 10 ** (CARD_NUMBER_DIGITS - 1), 10**CARD_NUMBER_DIGITS
    while True:
        number = secrets.randbelow(high - low) + low
        taken = session.scalar(select(Card.id).where(Card.brand_id == brand_id, Card.number == number))
        if taken is None:
            return number


def issue_card(session: Session, program: Program, details: CustomerDetails,
               legacy_number: str | None = None) -> tuple[Card, bool]:
    """Create customer and card (or return the existing card); returns (card, created).

    A new card keeps `legacy_number` (checked already: service/loyalty/legacy_numbers.py; raises
    LegacyNumberTaken), or without one gets the number its program's barcode needs (EAN-13), so a
    POS scanner reads every card. An existing card is returned as it is: its number is the caller's
    question."""
    existing = find_existing(session, program, details)
    if existing is not None:
        return existing, False
    customer = Customer(
        brand_id=program.brand_id,
        name=details.name,
        email=details.email.lower() if details.email else None,
        phone=details.phone,
        birthday=details.birthday,
        language=details.language,
        home_store_id=details.home_store_id,
    )
    now = utcnow().replace(microsecond=0)
    card = Card(
        program=program,
        customer=customer,
        brand_id=program.brand_id,
        number=_unused_number(session, program.brand_id),
        serial_number=str(uuid.uuid4()),
        authentication_token=random_token(32),
        balance=0,
        lifetime_points=0,
        version=1,
        updated_at=now,
        created_at=now,
    )
    starter = starter_stamps(program)
    card.balance = starter
    session.add_all([customer, card])
    session.flush()
    session.add(LedgerEntry(card_id=card.id, kind="issue", points=starter,
                            reason=f"card issued with {starter} starter stamps" if starter else "card issued"))
    if legacy_number is not None:
        legacy_numbers.assign(session, card, legacy_number)
    else:
        legacy_numbers.number_for_new_card(session, card)
    return card, True


def signed_code(card: Card, brand: Brand) -> str:
    """The signed card code (passes/cardcode.py): what the default QR code carries."""
    return encode_card_code(brand.code_ref, card.number, brand.code_secret)


def card_barcode(card: Card, brand: Brand) -> ShownBarcode:
    """The barcode the card's passes show: the program's symbology, the legacy number or the signed
    code, and the text under it (passes/barcodes.py: shown_barcode)."""
    return shown_barcode(card.program.barcode_format or DEFAULT_FORMAT, signed_code(card, brand),
                         short_number(card.number), card.legacy_number)


def barcode_message(card: Card, brand: Brand) -> str:
    """What the card's barcode encodes (the API's `barcode_message`)."""
    return card_barcode(card, brand).message


def display_number(card: Card) -> str:
    """Passcast's short number (the card number with a check digit): what tills and the console
    show and accept typed. Never the legacy number there: that one is the barcode itself, unsigned,
    and the counter view must not hand out what would print a customer's card."""
    return short_number(card.number)


def printed_number(card: Card) -> str:
    """The number the pass prints: the plastic card's when the program shows it as the barcode
    (the holder knows it from the plastic), else the short number."""
    if card.legacy_number and (card.program.barcode_format or DEFAULT_FORMAT) != DEFAULT_FORMAT:
        return card.legacy_number
    return short_number(card.number)


_number_values = column_reader(("number", "legacy_number"))


def pass_numbers(card: Card, brand: Brand) -> tuple[ShownBarcode, str]:
    """`card_barcode` and `printed_number` at once, as every pass build needs both: the card's
    columns are read and its short number worked out once."""
    number, legacy_number = _number_values(card)
    format_name = card.program.barcode_format or DEFAULT_FORMAT
    short = short_number(number)
    shown = shown_barcode(format_name, encode_card_code(brand.code_ref, number, brand.code_secret), short,
                          legacy_number)
    return shown, legacy_number if legacy_number and format_name != DEFAULT_FORMAT else short


def download_key(card: Card, brand: Brand) -> str:
    """Unguessable key in the customer's download link, so serial numbers alone reveal nothing."""
    mac = hmac.new(brand.code_secret, b"download:" + card.serial_number.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def apple_pass_url(card: Card, brand: Brand, public_base_url: str) -> str:
    path = url_for("downloads.apple_pass", serial_number=card.serial_number,
                   key=download_key(card, brand))
    return public_base_url.rstrip("/") + path
