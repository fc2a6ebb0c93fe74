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

**Undo.** Reversing the purchase that brought the bonuses takes both back (`undo_bonuses`,
called by service/loyalty/reversal_hooks.py in the reversal's transaction): one `reversal`
entry per bonus. The purchase that brought a bonus is the referred card's last purchase before
the bonus entry (the bonus is written right after it, under the same card lock). If either card
has spent its bonus since (its balance would go below zero), the reversal is refused and nothing
changes, as for points spent since on any reversal. Purchases undone do not count as the first
purchase, so the referred customer's next real purchase brings the bonuses again (a bonus given
again is keyed `referral:<card>:<who>:<purchase entry>`).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.loyalty.cards import touch
from service.loyalty.engine import (
    LoyaltyError,
    ReversalRefused,
    TransactionRequest,
    lock_card,
    post_transaction,
    settle,
    transaction_view,
)
from service.models import Card, LedgerEntry, Program, not_reversed
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
    """Whether the card has exactly one purchase that stands (undone ones do not count)."""
    purchases = session.scalar(select(func.count()).select_from(LedgerEntry)
                               .where(LedgerEntry.card_id == card_id, LedgerEntry.kind == "purchase",
                                      not_reversed()))
    return purchases == 1


def _key_prefix(card_id: int, who: str) -> str:
    return f"referral:{card_id}:{who}"


def _bonus_key(session: Session, target: int, card_id: int, who: str, purchase_id: int | None) -> str:
    """The first bonus's key, or for a bonus given again after an undo one that names its purchase."""
    key = _key_prefix(card_id, who)
    given = session.scalar(select(LedgerEntry.id).where(LedgerEntry.card_id == target,
                                                        LedgerEntry.idempotency_key == key))
    return key if given is None or purchase_id is None else f"{key}:{purchase_id}"


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
    purchase_id = response.get("id")
    for who, target in (("referred", card.id), ("referrer", card.referred_by_id)):
        key = _bonus_key(session, target, card.id, who, purchase_id)
        reason = ("welcome bonus: joined through a friend's link" if who == "referred"
                  else f"referral bonus: card {card.id} made its first purchase")
        if _bonus(session, target, points, key, reason, card.brand_id):
            posted.append(key)
    return posted


def _bonuses_of(session: Session, card: Card, purchase: LedgerEntry) -> list[LedgerEntry]:
    """The bonus entries (not undone yet) that `purchase` on the referred `card` brought:
    the referred card's own first, then its referrer's."""
    found = []
    for who, target in (("referred", card.id), ("referrer", card.referred_by_id)):
        prefix = _key_prefix(card.id, who)
        for bonus in session.scalars(
                select(LedgerEntry).where(LedgerEntry.card_id == target, LedgerEntry.kind == "earn",
                                          not_reversed(), LedgerEntry.id > purchase.id,
                                          (LedgerEntry.idempotency_key == prefix)
                                          | LedgerEntry.idempotency_key.startswith(prefix + ":"))):
            trigger = session.scalar(select(func.max(LedgerEntry.id)).where(
                LedgerEntry.card_id == card.id, LedgerEntry.kind == "purchase", LedgerEntry.id < bonus.id))
            if trigger == purchase.id:
                found.append(bonus)
    return found


def undo_bonuses(session: Session, purchase: LedgerEntry, reversal: LedgerEntry) -> list[int]:
    """Take back the referral bonuses `purchase` brought, as part of `reversal` (the referred
    card is locked by the caller; the referrer's card is locked here, after it: the usual order).
    ReversalRefused when a card has spent its bonus since; the caller rolls back. Returns the
    ids of the bonus entries reversed."""
    if purchase.kind != "purchase":
        return []
    card = session.get(Card, purchase.card_id)
    if card is None or card.referred_by_id is None:
        return []
    bonuses = _bonuses_of(session, card, purchase)
    for bonus in bonuses:
        target = card if bonus.card_id == card.id else lock_card(session, bonus.card_id)
        if target is None:
            continue
        if target.balance - bonus.points < 0:
            whose = "this card's welcome bonus" if target is card else "the referrer's bonus (the friend's card)"
            raise ReversalRefused(
                "reversal-referral-bonus-spent",
                f"This purchase was the referred customer's first: it brought {whose} of {bonus.points} points, "
                f"and that card has {target.balance} points left (the rest was spent since), so the bonus cannot "
                f"be taken back. Nothing was changed.", bonus_entry_id=bonus.id, card_balance=target.balance,
                points=bonus.points)
        target.balance -= bonus.points
        target.lifetime_points = max(0, target.lifetime_points - bonus.points)
        undo = LedgerEntry(card_id=target.id, kind="reversal", points=-bonus.points, store_id=reversal.store_id,
                           cashier_id=reversal.cashier_id, reversed_entry_id=bonus.id, created_at=reversal.created_at,
                           reason=f"referral bonus taken back: reverses entry {bonus.id} "
                                  f"with transaction {purchase.id}")
        session.add(undo)
        session.flush()
        if target is not card:  # the referred card is settled and touched by the reversal itself
            direction = settle(session, target)
            touch(target)
        else:
            direction = None
        undo.response = {**transaction_view(target, undo, direction), "reverses": bonus.id, "reversed_type": bonus.kind}
        webhooks.emit(session, target.brand_id, "transaction.created", undo.response)
    return [bonus.id for bonus in bonuses]
