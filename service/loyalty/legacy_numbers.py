"""Card numbers brands bring from their plastic cards: checked against the program's barcode
format, unique in the brand, found again when a till's POS scanner reads one.

The rules of each format are in passes/barcodes.py (`normalise_legacy_number`); this module adds
what needs the database: that no other card of the brand has the number, and that a program
changing its format still fits every number its cards already carry. A number is unique in the
whole brand rather than per program, so that what a scanner reads at a till (which knows the
brand, not the program) names one card.

A legacy number is not signed: like the plastic card it replaces, anyone who knows or guesses it
can show it. Only programs whose barcode is a legacy format accept it at the till
(`card_for_legacy_number`), and the scan endpoint is cashier-only and rate-limited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from passes.barcodes import DEFAULT_FORMAT, LegacyNumberError, normalise_legacy_number, symbology
from service.models import Card, Program

#: How many offending cards a refused format change names.
MAX_LISTED = 5


@dataclass(frozen=True)
class LegacyNumberTaken(Exception):
    """Another card of the brand already carries this number."""

    number: str
    card_id: int

    def __str__(self) -> str:
        return f"card {self.card_id} of this brand already has the number {self.number!r}"


def checked_number(program: Program, text: str) -> str:
    """`text` as a card of `program` keeps it (LegacyNumberError says why not)."""
    return normalise_legacy_number(text, program.barcode_format or DEFAULT_FORMAT)


def holder_of(session: Session, brand_id: int, number: str) -> int | None:
    """The id of the brand's card that carries `number`, if any."""
    return session.scalar(select(Card.id).where(Card.brand_id == brand_id, Card.legacy_number == number))


def assign(session: Session, card: Card, number: str) -> None:
    """Give `card` the (already checked) number; LegacyNumberTaken if another card of the brand has it
    (also when a concurrent request gave it to another card a moment ago: the unique index decides,
    inside a savepoint, so the caller answers 409 rather than failing at commit)."""
    other = holder_of(session, card.brand_id, number)
    if other is not None and other != card.id:
        raise LegacyNumberTaken(number, other)
    try:
        with session.begin_nested():
            card.legacy_number = number
            session.flush()
    except IntegrityError:
        raise LegacyNumberTaken(number, holder_of(session, card.brand_id, number) or 0) from None


def format_change_problems(session: Session, program: Program, new_format: str) -> list[str]:
    """Why `program`'s cards cannot move to `new_format` (empty: they can). A number the new format
    would have to change (a 12-digit one would gain a check digit) is refused too: the card's
    number never changes behind the brand's back."""
    symbology(new_format)
    problems: list[str] = []
    rows = session.execute(select(Card.id, Card.legacy_number).where(
        Card.program_id == program.id, Card.legacy_number.is_not(None)).order_by(Card.id))
    for card_id, number in rows:
        try:
            normalised = normalise_legacy_number(number, new_format)
        except LegacyNumberError as error:
            problems.append(f"card {card_id}: {error}")
        else:
            if normalised != number:
                problems.append(f"card {card_id}: {number!r} would become {normalised!r} as {new_format}; "
                                "correct the card's number first")
        if len(problems) > MAX_LISTED:
            problems[MAX_LISTED:] = ["and more"]
            break
    return problems


def card_for_legacy_number(session: Session, brand_id: int, text: str) -> Card | None:
    """The brand's card whose legacy number a till's scanner read, among the programs that show
    legacy numbers as their barcode (a QR program's cards are scanned by their signed code).

    The scanned text is trimmed; for EAN-13 programs spaces and dashes a cashier typed are ignored
    and 12 digits find the card of the 13 with its check digit. One indexed query (two for a
    text that is EAN-13-shaped but not stored so)."""
    text = text.strip()
    if not text:
        return None
    candidates = [text]
    try:
        ean = normalise_legacy_number(text, "ean13")
    except LegacyNumberError:
        pass
    else:
        if ean != text:
            candidates.append(ean)
    return session.scalars(
        select(Card).join(Program, Program.id == Card.program_id)
        .where(Card.brand_id == brand_id, Card.legacy_number.in_(candidates), Program.barcode_format != DEFAULT_FORMAT)
        .options(joinedload(Card.program).joinedload(Program.tiers), joinedload(Card.customer))
        .limit(1)).unique().first()
