"""Undo: a transaction reversed by a new ledger entry of kind ``reversal``; nothing is deleted.

A reversal carries the negated points of the entry it undoes and points at it
(``reversed_entry_id``, unique: an entry is reversed at most once). It restores exactly what the
entry changed: balance, lifetime_points, lifetime_spend (a purchase), and on a stamp card the
stamps and stamp_cards_completed, with one more reversal per ``card_full`` entry the stamp or
purchase caused (a card it filled is un-filled, its carried-over stamps go back where they were).
Tier and points expiry are settled again from the ledger; the pass is updated (``touch``).
Rewards the entry earned, bought, was granted or redeemed go through service/loyalty/reversal_hooks.py
(cancelled, or held again; refused when a reward it earned was redeemed since), and so do the
referral bonuses a referred card's first purchase brought (taken back; refused when spent).

Reversible: earn, redeem (the points come back), purchase, stamp, reward_buy (the cost comes back,
the reward is cancelled), reward_grant (the coupon is cancelled), reward_redeem (the reward is held
again). Refused, each with a sentence
that says why: a reversal (post a new transaction instead), an expiry, a card_full on its own
(reverse the stamp that filled it), issue / import / adjust entries, an entry already reversed, a
reversal that would take the balance below zero (the points were spent since), and on a stamp
card one whose stamps later transactions built on (a card filled since, or stamps that would then
fill it): those are reversed first, newest first.

A reversal counts in a partner program's settlement for the brand of the entry it undoes
(`partner_brand_id` copied), and only that brand reverses it (brand_entry): a partner's purchase
undone nets to nothing for that partner.

Who may reverse is the caller's question (service/api/transactions.py): `authorize` is called
with the entry and the locked card (after a replay is answered: a retry with the same key gets the
first answer even once the undo window has closed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.loyalty import reversal_hooks
from service.loyalty.cards import touch
from service.loyalty.engine import (
    Actor,
    CardNotFound,
    CardVoided,
    IdempotencyMismatch,
    Outcome,
    ReversalRefused,
    _visible,
    answer,
    lock_card_for_transaction,
    settle,
    transaction_view,
)
from service.models import Card, LedgerEntry, utcnow

REVERSIBLE = ("earn", "redeem", "purchase", "stamp", "reward_buy", "reward_grant", "reward_redeem")
_WHY_NOT: dict[str, str] = {
    "reversal": "A reversal cannot itself be reversed; post a new transaction instead.",
    "expire": "Expired points are not given back by undo; a manager can add them back with an earn and a reason.",
    "issue": "The card's opening entry (starter stamps or welcome points) cannot be reversed.",
    "import": "Imported balances cannot be reversed; adjust them with an earn or redeem and a reason.",
    "adjust": "This entry records a change by hand or by the system and cannot be reversed.",
}


def fingerprint(entry_id: int, reason: str | None) -> str:
    body = json.dumps({"type": "reversal", "entry_id": entry_id, "reason": reason}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def brand_entry(session: Session, entry_id: int, brand_id: int) -> LedgerEntry:
    """The ledger entry if `brand_id` posted it: the host's own entries on its cards, or a partner
    brand's entries on the host's cards (partner programs). The brand that posted a transaction is
    the one that undoes it, so each side's settlement figures stay its own: the host is told who
    posted a partner's entry, any other brand finds nothing."""
    entry = session.scalar(select(LedgerEntry).join(Card, Card.id == LedgerEntry.card_id)
                           .where(LedgerEntry.id == entry_id,
                                  or_(Card.brand_id == brand_id, LedgerEntry.partner_brand_id == brand_id)))
    if entry is None:
        raise ReversalRefused("transaction-not-found", f"No transaction {entry_id} in your brand.", status=404)
    if entry.partner_brand_id is not None and entry.partner_brand_id != brand_id:
        raise ReversalRefused("reversal-partner-entry",
                              f"Transaction {entry_id} was posted by partner brand {entry.partner_brand_id}; "
                              "only that brand can reverse it. Nothing was changed.", status=403,
                              partner_brand_id=entry.partner_brand_id)
    return entry


def reversal_of(session: Session, entry_id: int) -> LedgerEntry | None:
    return session.scalar(select(LedgerEntry).where(LedgerEntry.reversed_entry_id == entry_id))


def _card_fulls(session: Session, entry: LedgerEntry, count: int) -> list[LedgerEntry]:
    """The card_full entries a stamp or purchase caused: written right after it, in its transaction
    (the same moment, the next ids)."""
    if count <= 0:
        return []
    return list(session.scalars(
        select(LedgerEntry).where(LedgerEntry.card_id == entry.card_id, LedgerEntry.kind == "card_full",
                                  LedgerEntry.created_at == entry.created_at, LedgerEntry.id > entry.id)
        .order_by(LedgerEntry.id).limit(count)))


def _cards_filled(entry: LedgerEntry) -> int:
    rewards = (entry.response or {}).get("rewards_earned") or ()
    return sum(1 for reward in rewards if reward.get("full_card"))


def _refuse_kind(entry: LedgerEntry) -> None:
    if entry.kind in REVERSIBLE:
        return
    if entry.kind == "card_full":
        raise ReversalRefused("reversal-not-reversible",
                              "A full card is undone by reversing the stamp or purchase that filled it "
                              "(the entry just before this one); nothing was changed.", status=422, kind=entry.kind)
    why = _WHY_NOT.get(entry.kind, f"A {entry.kind} entry cannot be reversed.")
    raise ReversalRefused("reversal-not-reversible", f"{why} Nothing was changed.", status=422, kind=entry.kind)


def _stamp_effect(card: Card, entry: LedgerEntry, fulls: list[LedgerEntry]) -> tuple[int, int]:
    """(balance, cards completed) after undoing a stamp-card entry, or a refusal if later
    transactions built on it."""
    required = card.program.stamps_required or 0
    completed_after = (entry.response or {}).get("stamp_cards_completed")
    balance = card.balance - entry.points + len(fulls) * required
    completed = (card.stamp_cards_completed or 0) - len(fulls)
    later_fill = completed_after is not None and completed_after != (card.stamp_cards_completed or 0)
    if later_fill or not 0 <= balance < required or completed < 0:
        raise ReversalRefused(
            "reversal-later-stamps",
            "Stamps given after this transaction depend on it (a card was filled since, or would be): "
            "reverse the later stamp transactions first, newest first. Nothing was changed.",
            stamps=card.balance, stamp_cards_completed=card.stamp_cards_completed)
    return balance, completed


def reverse(session: Session, entry_id: int, key: str, *, brand_id: int, reason: str | None = None,
            actor: Actor | None = None, now: dt.datetime | None = None,
            authorize: Callable[[LedgerEntry, Card], None] | None = None) -> Outcome:
    """Reverse one ledger entry, once per idempotency key; the caller commits, or rolls back when a
    LoyaltyError is raised (the rewards hook may refuse after the reversal was flushed)."""
    now = now or utcnow()
    actor = actor or Actor()
    print_ = fingerprint(entry_id, reason)
    entry = brand_entry(session, entry_id, brand_id)
    card, posted = lock_card_for_transaction(session, entry.card_id, key)
    if card is None:
        raise CardNotFound(entry.card_id)
    if posted is None:  # a twin with this key may have committed while we waited for the lock
        posted = session.scalar(select(LedgerEntry).where(LedgerEntry.card_id == card.id,
                                                          LedgerEntry.idempotency_key == key))
    if posted is not None:
        if posted.request_fingerprint != print_:
            raise IdempotencyMismatch(key)
        return Outcome(answer(posted), replayed=True, card=card)
    if authorize is not None:
        authorize(entry, card)
    if card.voided:
        raise CardVoided(f"Card {card.id} is voided; it takes no transactions.")
    _refuse_kind(entry)
    already = reversal_of(session, entry.id)
    if already is not None:
        raise ReversalRefused("reversal-already-reversed",
                              f"Transaction {entry.id} was already reversed (by entry {already.id}, at "
                              f"{already.created_at:%Y-%m-%d %H:%M} UTC). Nothing was changed.",
                              reversal_id=already.id)
    program = card.program
    before = _visible(card)
    balance_before = card.balance
    fulls: list[LedgerEntry] = []
    if program.kind == "stamps" and entry.kind in ("stamp", "purchase"):
        fulls = _card_fulls(session, entry, _cards_filled(entry))
        card.balance, card.stamp_cards_completed = _stamp_effect(card, entry, fulls)
    else:
        if card.balance - entry.points < 0:
            raise ReversalRefused(
                "reversal-balance-negative",
                f"Reversing this {entry.kind} would take {entry.points} points off, but the card has "
                f"{card.balance} (the rest was spent since). Nothing was changed.",
                balance=card.balance, points=entry.points)
        card.balance -= entry.points
    card.lifetime_points = max(0, card.lifetime_points - max(entry.points, 0))
    if entry.kind == "purchase" and entry.amount is not None:
        card.lifetime_spend = max(Decimal(0), (card.lifetime_spend or Decimal(0)) - entry.amount)
    store_id = actor.store_id if actor.store_id is not None else entry.store_id
    text = (reason or "").strip() or f"reverses transaction {entry.id}"
    reversal = LedgerEntry(card_id=card.id, kind="reversal", points=-entry.points, amount=entry.amount,
                           store_id=store_id, cashier_id=actor.cashier_id, idempotency_key=key,
                           request_fingerprint=print_, reason=text[:300], reversed_entry_id=entry.id,
                           partner_brand_id=entry.partner_brand_id, created_at=now)
    session.add(reversal)
    session.add_all(LedgerEntry(card_id=card.id, kind="reversal", points=-full.points, store_id=store_id,
                                cashier_id=actor.cashier_id, reversed_entry_id=full.id, created_at=now,
                                partner_brand_id=full.partner_brand_id,
                                reason=f"un-fills the card: reverses entry {full.id} with transaction {entry.id}")
                    for full in fulls)
    session.flush()
    reversal_hooks.rewards_earned_by_entry(session, entry, reversal, now)
    bonuses = reversal_hooks.referral_bonuses_of_entry(session, entry, reversal)
    reversal_hooks.campaign_figures_of_entry(session, entry)
    hooks_changed = reversal_hooks.after_reversal(session, card, entry, reversal, now)  # e.g. a challenge's step
    direction = settle(session, card)
    if _visible(card) != before or hooks_changed:
        touch(card)
    view: dict[str, Any] = transaction_view(card, reversal, direction)
    view.update(reverses=entry.id, reversed_type=entry.kind,
                reversed_entries=[entry.id, *(full.id for full in fulls)],
                balance_change=card.balance - balance_before)
    if bonuses:
        view["referral_bonuses_reversed"] = bonuses
    reversal.response = view
    session.flush()
    return Outcome(answer(reversal), card=card)
