"""Referrals: each card has a personal join link; a referred customer's first purchase gives
both cards the program's `referral_points`.

The link is /join/<program>?ref=<code>, where the code is a short random string kept on the
card (made the first time it is asked for: it names the card without revealing its number,
which cashiers can type). Joining through it records `Card.referred_by_id` on the new card.

`after_purchase` is called where a purchase is posted (service/api/transactions.py), after a
successful, non-replayed purchase, in the same database transaction. It posts the bonuses
through the loyalty engine's `post_transaction` as `earn` entries with the idempotency keys
`referral:<referred card id>:referred` and `referral:<referred card id>:referrer`, so each
happens at most once whatever is retried. Lock order is always the referred card, then its
referrer, which is an older card, so two purchases can never wait on each other in a cycle.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.loyalty.engine import LoyaltyError, TransactionRequest, post_transaction
from service.models import Card, LedgerEntry, Program
from service.webhooks import events as webhooks

log = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed, still right
CODE_LENGTH = 8


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_for(session: Session, card: Card) -> str:
    """The card's referral code, made the first time it is asked for (the caller commits).

    32^8 codes: a clash is checked for, and the unique constraint catches the rest.
    """
    while card.referral_code is None:
        candidate = _new_code()
        if session.scalar(select(Card.id).where(Card.referral_code == candidate)) is None:
            card.referral_code = candidate
    return card.referral_code


def referrer_for(session: Session, program: Program, code: str | None) -> Card | None:
    """The card behind a referral code, if it is a live card of this program."""
    if not code:
        return None
    code = code.strip().upper()
    if len(code) != CODE_LENGTH:
        return None
    card = session.scalar(select(Card).where(Card.referral_code == code))
    if card is None or card.program_id != program.id or card.voided:
        return None
    return card


def _first_purchase(session: Session, card_id: int) -> bool:
    purchases = session.scalar(select(func.count()).select_from(LedgerEntry)
                               .where(LedgerEntry.card_id == card_id, LedgerEntry.kind == "purchase"))
    return purchases == 1


def _bonus(session: Session, card_id: int, points: int, key: str, reason: str, brand_id: int) -> bool:
    try:
        outcome = post_transaction(session, card_id, TransactionRequest(type="earn", points=points, reason=reason),
                                   key)
    except LoyaltyError as error:  # e.g. a voided card: no bonus for it, the purchase stands
        log.info("referral bonus %s not posted: %s", key, error)
        return False
    if not outcome.replayed:
        webhooks.emit(session, brand_id, "transaction.created", outcome.response)
    return not outcome.replayed


def after_purchase(session: Session, card_id: int, response: dict[str, Any]) -> list[str]:
    """Give both cards their referral bonus if this was the referred card's first purchase.

    Returns the idempotency keys of the bonuses posted now (empty if none).
    """
    if response.get("type") != "purchase":
        return []
    card = session.get(Card, card_id)
    if card is None or card.referred_by_id is None:
        return []
    points = card.program.referral_points or 0
    if card.program.kind == "stamps":  # a referral bonus is points; a stamp card has none to give
        return []
    if points <= 0 or not _first_purchase(session, card.id):
        return []
    posted = []
    for who, target in (("referred", card.id), ("referrer", card.referred_by_id)):
        key = f"referral:{card.id}:{who}"
        reason = ("welcome bonus: joined through a friend's link" if who == "referred"
                  else f"referral bonus: card {card.id} made its first purchase")
        if _bonus(session, target, points, key, reason, card.brand_id):
            posted.append(key)
    return posted
