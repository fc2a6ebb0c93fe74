"""What a cashier (own token or a till's PIN session) sees of a card: the counter view.

The counter needs the holder's name and what the card is worth there (balance, tier, card
status, discount, what can be redeemed, recent transactions), and nothing more: no email,
phone or birthday, no pass download link, no Google save link, no barcode (it was just
scanned; handing it out would let a cashier print any customer's card). Card ids are
sequential, so every answer a cashier credential can get by id must be this view; brand API
keys keep the full view (service/api/cards.py `card_view`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.loyalty import counter_rows
from service.loyalty import rewards as held_rewards
from service.loyalty.cards import display_number
from service.loyalty.engine import balance_money, effective_discount, money_text, stamps_view
from service.models import Card, HeldReward, LedgerEntry, utcnow
from service.platform import db

RECENT_TRANSACTIONS = 10
RECENT_REWARDS = 20


def recent_entries(card_id: int, limit: int, *, partner_brand_id: int | None = None) -> list[LedgerEntry]:
    """The card's latest entries; with `partner_brand_id`, only those that partner posted (the rest,
    and their reasons, are the host's business)."""
    statement = (select(LedgerEntry).where(LedgerEntry.card_id == card_id)
                 .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(limit))
    if partner_brand_id is not None:
        statement = statement.where(LedgerEntry.partner_brand_id == partner_brand_id)
    return list(db.session().scalars(statement))


def _recent(card_id: int, partner_brand_id: int | None) -> list[Any]:
    """The counter's `recent_transactions` (on PostgreSQL as plain rows, which LedgerEntryOut reads alike)."""
    if partner_brand_id is None:
        rows = counter_rows.recent_entries(db.session(), card_id, RECENT_TRANSACTIONS)
        if rows is not None:
            return rows
    return recent_entries(card_id, RECENT_TRANSACTIONS, partner_brand_id=partner_brand_id)


def stamp_rewards(card: Card, limit: int = RECENT_REWARDS) -> list[dict[str, Any]] | None:
    """A stamp card's earned rewards (ladder rungs and full cards), newest first, with whether each is
    still to redeem (None for other kinds: no query)."""
    if card.program.kind != "stamps":
        return None
    statement = (select(HeldReward).where(HeldReward.card_id == card.id,
                                          HeldReward.source.in_(("ladder", "full_card")))
                 .order_by(HeldReward.id.desc()).limit(limit))
    now = utcnow()
    return [{"id": reward.id, "name": reward.name, "card_cycle": reward.card_cycle, "at": reward.at_stamp,
             "full_card": reward.full_card, "ledger_entry_id": reward.ledger_entry_id,
             "state": held_rewards.state(reward, now), "created_at": reward.created_at}
            for reward in db.session().scalars(statement)]


def redeemable_rewards(card: Card) -> list[dict[str, Any]]:
    """What the card can redeem now (every source), soonest to expire first: the till's list."""
    now = utcnow()
    session = db.session()
    held = counter_rows.redeemable_rewards(session, card.id, now)  # PostgreSQL: plain rows
    if held is None:
        held = held_rewards.redeemable(session, card.id, now)
    return [held_rewards.reward_view(reward, now) for reward in held]


def rewards_for_points(card: Card) -> list[dict[str, Any]] | None:
    """The catalogue rewards the card can buy with points (the till's Buy buttons), cheapest first,
    with whether the balance reaches each; None where the card holds no points."""
    if card.program.kind not in held_rewards.POINTS_KINDS:
        return None
    rows = counter_rows.offers(db.session(), card.program_id)  # PostgreSQL: (id, name, cost_points), in order
    if rows is not None:
        balance = card.balance
        return [{"id": id_, "name": name, "cost_points": cost, "affordable": balance >= cost}
                for id_, name, cost in rows]
    offers = [reward for reward in held_rewards.catalogue(db.session(), card.program_id, active_only=True)
              if reward.cost_points is not None]
    return [{"id": reward.id, "name": reward.name, "cost_points": reward.cost_points,
             "affordable": card.balance >= reward.cost_points}
            for reward in sorted(offers, key=lambda reward: (reward.cost_points, reward.id))]


def card_state(card: Card) -> dict[str, Any]:
    """What every view of a card shows, the counter's and the brand's alike: no personal data."""
    return {
        "id": card.id,
        "program_id": card.program_id,
        "number": display_number(card),
        "balance": card.balance,
        "lifetime_points": card.lifetime_points,
        "tier": card.tier,
        "voided": card.voided,
        "version": card.version,
        "updated_at": card.updated_at,
        "created_at": card.created_at,
        **stamps_view(card),
        "stamp_rewards": stamp_rewards(card),
        "rewards": redeemable_rewards(card),
    }


def counter_card_view(card: Card, *, partner_brand_id: int | None = None) -> dict[str, Any]:
    """`partner_brand_id`: a partner brand's view of a card of another brand's program (service/loyalty/
    partners.py): the same figures, no holder (`customer` null) and only that partner's own entries."""
    money, discount = balance_money(card), effective_discount(card)
    partner = partner_brand_id is not None
    return {
        **card_state(card),
        "customer": None if partner else {"id": card.customer.id, "name": card.customer.name},
        "partner_card": partner,
        "program": card.program,
        "balance_money": money_text(money) if money is not None else None,
        "lifetime_spend": money_text(card.lifetime_spend),
        "discount_percent": format(discount.normalize(), "f") if discount is not None else None,
        "points_expire_at": card.points_expire_at,
        "recent_transactions": _recent(card.id, partner_brand_id),
        "rewards_for_points": None if partner else rewards_for_points(card),
        # a partner neither redeems nor buys the host's rewards, and what a reward says of the holder (a
        # birthday coupon, granted on the day) is the host's customer data
        **({"rewards": None, "stamp_rewards": None} if partner else {}),
    }
