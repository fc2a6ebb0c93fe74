"""Partner (coalition) programs: who takes part in a program, and how a partner reaches its cards.

A program stays its host brand's: its cards are the host's cards (Card.brand_id, the card number
and the signed code are the host's) and their customers the host's customers, enrolled by the host
(its join page, API, imports). A host admits partner brands; a partner's counters then scan the
program's cards, earn, buy and redeem on them, and see the card's balance and program, never the
customer's personal data. Every entry a partner posts names it (LedgerEntry.partner_brand_id), which
is what the settlement (service/loyalty/settlement.py) counts.

Consent both ways: only the host invites (by brand id), only the invited brand accepts; either ends
it (the host removes, the partner leaves), and from that moment the partner reaches nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.models import Brand, Card, LedgerEntry, PartnerPresentation, Program, ProgramPartner, utcnow

#: Program kinds a coalition can share: points are what partners issue and redeem. A stamp card or a
#: discount card has no points to settle.
PARTNER_KINDS = ("points", "cashback")
#: How long after a scan at a partner's counter that partner reaches the card by id.
PRESENTATION_WINDOW = dt.timedelta(minutes=30)


def _active() -> object:
    return and_(ProgramPartner.joined_at.is_not(None), ProgramPartner.left_at.is_(None))


def partner_row(session: Session, program_id: int, brand_id: int) -> ProgramPartner | None:
    return session.scalar(select(ProgramPartner).where(ProgramPartner.program_id == program_id,
                                                       ProgramPartner.brand_id == brand_id))


def sharing_brands(session: Session, program_id: int) -> list[int]:
    """The brands invited to or taking part in the program now (not those that left)."""
    return list(session.scalars(select(ProgramPartner.brand_id).where(
        ProgramPartner.program_id == program_id, ProgramPartner.left_at.is_(None)).order_by(ProgramPartner.brand_id)))


#: Why a program of another kind takes no partners (the invitation's 422 and the kind change's 409).
WHY_POINTS_ONLY = ("Partners share points or cashback: a coalition settles what each brand issued and redeemed "
                   "at a point value, and {kind} cards have no points to settle. Make a points or cashback "
                   "program to share; stamp-card coalitions are not supported.")


def is_active_partner(session: Session, program_id: int, brand_id: int) -> bool:
    return session.scalar(select(ProgramPartner.id).where(
        ProgramPartner.program_id == program_id, ProgramPartner.brand_id == brand_id, _active())) is not None


def ever_joined(session: Session, program_id: int, brand_id: int) -> bool:
    """A brand that took part at some time (active or left): it may read the settlement's figures.
    A former partner invited anew (joined_at cleared until it accepts again) still took part: its
    entries in the ledger say so."""
    if session.scalar(select(ProgramPartner.id).where(
            ProgramPartner.program_id == program_id, ProgramPartner.brand_id == brand_id,
            ProgramPartner.joined_at.is_not(None))) is not None:
        return True
    return session.scalar(select(LedgerEntry.id).join(Card, Card.id == LedgerEntry.card_id).where(
        Card.program_id == program_id, LedgerEntry.partner_brand_id == brand_id).limit(1)) is not None


def partners_of(session: Session, program_id: int) -> list[ProgramPartner]:
    return list(session.scalars(select(ProgramPartner).where(ProgramPartner.program_id == program_id)
                                .order_by(ProgramPartner.id)))


def partnerships_of(session: Session, brand_id: int) -> list[ProgramPartner]:
    """Every program `brand_id` is invited to, takes part in or has left."""
    return list(session.scalars(select(ProgramPartner).where(ProgramPartner.brand_id == brand_id)
                                .order_by(ProgramPartner.id)))


def invite(session: Session, program: Program, brand_id: int, invited_by: str,
           now: dt.datetime | None = None) -> ProgramPartner:
    """The host invites `brand_id` (idempotent while invited or active; a left partner is invited anew)."""
    row = partner_row(session, program.id, brand_id)
    if row is None:
        row = ProgramPartner(program_id=program.id, brand_id=brand_id)
        session.add(row)
    elif row.status != "left":
        return row
    row.invited_at, row.invited_by, row.joined_at, row.left_at = now or utcnow(), invited_by[:200], None, None
    session.flush()
    return row


def accept(row: ProgramPartner, now: dt.datetime | None = None) -> None:
    if row.joined_at is None:
        row.joined_at = now or utcnow()


def end(row: ProgramPartner, now: dt.datetime | None = None) -> None:
    """Removed by the host, or left by the partner (an invitation withdrawn or declined ends the same way)."""
    if row.left_at is None:
        row.left_at = now or utcnow()


def host_brand_for_code(session: Session, partner_brand_id: int, code_ref: str) -> Brand | None:
    """The brand whose card code reference is `code_ref`, if `partner_brand_id` takes part in one of
    its programs now; None otherwise (the code is then just another brand's)."""
    return session.scalar(
        select(Brand).join(Program, Program.brand_id == Brand.id)
        .join(ProgramPartner, ProgramPartner.program_id == Program.id)
        .where(Brand.code_ref == code_ref, ProgramPartner.brand_id == partner_brand_id, _active(),
               Program.kind.in_(PARTNER_KINDS)).limit(1))


def partner_program_ids(partner_brand_id: int) -> Select[tuple[int]]:
    """A subquery: the programs `partner_brand_id` takes part in now (still of a kind partners share:
    a host that turned the program into stamp cards has closed it to its partners)."""
    return (select(ProgramPartner.program_id).join(Program, Program.id == ProgramPartner.program_id)
            .where(ProgramPartner.brand_id == partner_brand_id, _active(), Program.kind.in_(PARTNER_KINDS)))


def record_presentation(session: Session, card_id: int, brand_id: int, now: dt.datetime | None = None) -> None:
    """Remember that `brand_id`'s counter scanned the card now (one row per card and brand, upserted)."""
    moment = now or utcnow()
    table = PartnerPresentation.__table__
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        session.execute(insert.values(card_id=card_id, brand_id=brand_id, presented_at=moment)
                        .on_conflict_do_update(index_elements=["card_id", "brand_id"],
                                               set_={"presented_at": moment}))
        return
    updated = session.execute(update(PartnerPresentation).where(
        PartnerPresentation.card_id == card_id, PartnerPresentation.brand_id == brand_id)
        .values(presented_at=moment))
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.add(PartnerPresentation(card_id=card_id, brand_id=brand_id, presented_at=moment))


def partner_card(session: Session, card_id: int, brand_id: int, now: dt.datetime | None = None) -> Card | None:
    """A card of another brand's program that `brand_id` may reach by id: it takes part in the card's
    program now, and its counter scanned the card within PRESENTATION_WINDOW. None otherwise, which
    the API answers exactly like a card that does not exist."""
    since = (now or utcnow()) - PRESENTATION_WINDOW
    return session.scalar(
        select(Card).where(Card.program_id.in_(partner_program_ids(brand_id)))
        .join(PartnerPresentation, and_(PartnerPresentation.card_id == Card.id,
                                        PartnerPresentation.brand_id == brand_id))
        .where(Card.id == card_id, Card.brand_id != brand_id, PartnerPresentation.presented_at >= since))


def key_used_by_another(session: Session, card_id: int, key: str, brand_id: int) -> bool:
    """The idempotency key is taken on this card by an entry `brand_id` did not post: a partner must
    never be handed the stored answer of somebody else's transaction."""
    posted = session.execute(select(LedgerEntry.partner_brand_id).where(
        LedgerEntry.card_id == card_id, LedgerEntry.idempotency_key == key)).first()
    return posted is not None and posted[0] != brand_id
