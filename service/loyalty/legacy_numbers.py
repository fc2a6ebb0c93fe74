"""Card numbers brands bring from their plastic cards: checked against the program's barcode
format, unique in the brand, found again when a till's POS scanner reads one.

The rules of each format are in passes/barcodes.py (`normalise_legacy_number`); this module adds
what needs the database: that no other card of the brand has the number, and that a program
changing its format still fits every number its cards already carry. A number is unique in the
whole brand rather than per program, so that what a scanner reads at a till (which knows the
brand, not the program) names one card.

**Cards that bring no number.** A card enrolled without one (join page, API, import) in an EAN-13
program gets one (`number_for_new_card`): 20 + its card number + the check digit
(passes/barcodes.py `ean13_for_card_number`), so the POS scanner reads every card of the program;
the signed code cannot be an EAN-13 (13 digits carry no signature). On the rare clash with a
number a plastic card brought, the card gets 20 + random digits instead. Other plastic formats
need nothing: a card without a number shows the signed code in the program's symbology, which
the till's scan takes. A program switched to EAN-13 gives its cards without a number theirs
(`number_cards_without_one`); switched away again, they lose them (`forget_generated_numbers`) and
show the signed code, which is safer than an unsigned number wherever the symbology carries it.

A legacy number is not signed: like the plastic card it replaces, anyone who knows or guesses it
can show it. Only programs whose barcode is a legacy format accept it at the till
(`card_for_legacy_number`), and the scan endpoint is cashier-only and rate-limited.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from passes.barcodes import (
    DEFAULT_FORMAT,
    GENERATED_EAN13_PREFIX,
    LegacyNumberError,
    ean13_check_digit,
    ean13_for_card_number,
    normalise_legacy_number,
    symbology,
)
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


#: Program formats whose barcode cannot carry the signed code: their cards need a number of their own.
NUMBERED_FORMATS = ("ean13",)
#: Cards numbered per statement when a program switches to EAN-13.
NUMBERING_BATCH = 1_000


def needs_number(program: Program) -> bool:
    return (program.barcode_format or DEFAULT_FORMAT) in NUMBERED_FORMATS


def _random_ean13() -> str:
    width = 12 - len(GENERATED_EAN13_PREFIX)
    body = GENERATED_EAN13_PREFIX + "".join(secrets.choice("0123456789") for _ in range(width))
    return body + str(ean13_check_digit(body))


def _candidates(card_number: int) -> Iterable[str]:
    yield ean13_for_card_number(card_number)
    while True:
        yield _random_ean13()


def is_generated(card_number: int, legacy_number: str | None) -> bool:
    """Whether `legacy_number` is the one Passcast derived for the card (not a plastic card's): a
    plastic number the brand brings later may replace it."""
    return legacy_number is not None and legacy_number == ean13_for_card_number(card_number)


def free_numbers(session: Session, brand_id: int, card_numbers: list[int],
                 reserved: Iterable[str] = ()) -> list[str]:
    """An EAN-13 for each card number, none of them carried by a card of the brand, in `reserved`
    (numbers about to be written) or repeated: derived from the card number, random on a clash
    (one query per round)."""
    chosen: list[str | None] = [None] * len(card_numbers)
    sources = [_candidates(number) for number in card_numbers]
    pending = list(range(len(card_numbers)))
    used: set[str] = set(reserved)
    while pending:
        wanted = {index: next(sources[index]) for index in pending}
        taken = set(session.scalars(select(Card.legacy_number).where(
            Card.brand_id == brand_id, Card.legacy_number.in_(set(wanted.values())))))
        pending = []
        for index, number in wanted.items():
            if number in taken or number in used:
                pending.append(index)
            else:
                chosen[index] = number
                used.add(number)
    return [number for number in chosen if number is not None]


def number_for_new_card(session: Session, card: Card) -> None:
    """Give a card that brought no number one in its program's format, if the format needs it
    (EAN-13); the card is flushed already. The unique index settles a race with another request."""
    if card.legacy_number is not None or not needs_number(card.program):
        return
    while True:
        try:
            assign(session, card, free_numbers(session, card.brand_id, [card.number])[0])
            return
        except LegacyNumberTaken:  # another request took it a moment ago: draw again
            continue


def number_cards_without_one(session: Session, program: Program) -> int:
    """After `program` switched to a format that needs a number: give each of its cards without
    one its number, NUMBERING_BATCH at a time. The caller commits (and updates the passes).
    Returns the cards numbered."""
    if not needs_number(program):
        return 0
    numbered, after = 0, 0
    while True:
        rows = session.execute(select(Card.id, Card.number).where(
            Card.program_id == program.id, Card.legacy_number.is_(None), Card.id > after)
            .order_by(Card.id).limit(NUMBERING_BATCH)).all()
        if not rows:
            return numbered
        numbers = free_numbers(session, program.brand_id, [number for _, number in rows])
        session.execute(update(Card), [{"id": card_id, "legacy_number": number}
                                       for (card_id, _), number in zip(rows, numbers, strict=True)])
        numbered += len(rows)
        after = rows[-1][0]


def forget_generated_numbers(session: Session, program: Program) -> int:
    """After `program` left EAN-13 for a format that carries the signed code: the numbers Passcast
    derived (never a plastic card's) are taken off its cards, which show the signed code again. A
    switch back derives the same numbers. The caller commits. Returns the cards changed."""
    if needs_number(program):
        return 0
    forgotten, after = 0, 0
    while True:
        rows = session.execute(select(Card.id, Card.number, Card.legacy_number).where(
            Card.program_id == program.id, Card.legacy_number.startswith(GENERATED_EAN13_PREFIX), Card.id > after)
            .order_by(Card.id).limit(NUMBERING_BATCH)).all()
        if not rows:
            return forgotten
        derived = [{"id": card_id, "legacy_number": None} for card_id, number, legacy in rows
                   if is_generated(number, legacy)]
        if derived:
            session.execute(update(Card), derived)
        forgotten += len(derived)
        after = rows[-1][0]


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
