"""Rewards and coupons: the program's catalogue, what a card holds, and redeeming it at the till.

What a card holds is a `HeldReward` row, whatever its source:

- ``ladder`` / ``full_card``: a stamp card crossed a rung or filled (written by the engine's
  ``_apply_stamps``); these do not expire;
- ``bought``: bought with points from the catalogue (a ``reward_buy`` ledger entry of -cost);
- ``coupon``: granted by the brand (API, console, a campaign, a journey, a birthday), from the
  catalogue or named on the spot (a ``reward_grant`` entry of 0 points).

Redeeming is a ``reward_redeem`` ledger entry of 0 points that the held reward points at. Every
write here follows the engine's rules: the card row is locked first (``lock_card_for_transaction``),
so two cashiers redeeming the same coupon at once are serialised and the second finds it redeemed;
each write is idempotent by its Idempotency-Key (the ledger's unique (card, key)), the same key
answers the first answer again; a voided card takes nothing. On top of the lock the redemption is
a conditional UPDATE (``redeemed_at IS NULL``), so even a caller that forgot the lock cannot
redeem twice.

Expiry is decided at read time: a reward whose ``expires_at`` has passed is never redeemable and
is left off the pass and the till's list as soon as anything reads them. Because a pass is only
fetched again after a push, the hourly job ``note_expired`` also bumps the cards whose rewards
expired since it last looked (``expiry_noted_at``), so the phone drops the reward too.

For undo (reversal entries, written elsewhere): ``cancel_rewards_earned_by`` cancels what a
reversed entry earned (refusing if any of it was redeemed), ``unredeem`` puts a redeemed reward
back, ``refund_bought_reward`` says what a reversed ``reward_buy`` gives back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, object_session

from service.loyalty import stamps as stamp_rules
from service.loyalty.cards import touch
from service.loyalty.engine import (
    Actor,
    AlreadyPosted,
    CardNotFound,
    CardVoided,
    IdempotencyMismatch,
    InsufficientBalance,
    LoyaltyError,
    NotApplicable,
    Outcome,
    insert_entry,
    lock_card,
    lock_card_for_transaction,
    settle,
)
from service.models import Card, CatalogueReward, HeldReward, LedgerEntry, Program, utcnow
from service.platform import build_batch

#: Who may grant a coupon (kept on the held reward as `origin`).
COUPON_ORIGINS = ("api", "console", "campaign", "journey", "birthday")
#: Program kinds whose cards hold points to buy rewards with.
POINTS_KINDS = frozenset({"points", "cashback"})
MAX_VALID_DAYS = 3650
NOTE_BATCH = 500


# --- errors (each a LoyaltyError: the API turns them into problems) -------------------------


class RewardError(LoyaltyError):
    """A reward operation the rules refuse; nothing has been written when it is raised."""


class RewardNotFound(RewardError, LookupError):
    def __init__(self, what: str, reward_id: int) -> None:
        super().__init__(f"No {what} {reward_id} on this card." if what == "held reward"
                         else f"No {what} {reward_id} in this program.")
        self.reward_id = reward_id


class RewardAlreadyRedeemed(RewardError):
    def __init__(self, held: HeldReward) -> None:
        when = held.redeemed_at.isoformat() if held.redeemed_at else "earlier"
        super().__init__(f"{held.name!r} was already redeemed ({when}); a reward is redeemed once.")
        self.redeemed_at = held.redeemed_at


class RewardExpired(RewardError):
    def __init__(self, held: HeldReward) -> None:
        assert held.expires_at is not None
        super().__init__(f"{held.name!r} expired on {held.expires_at:%Y-%m-%d %H:%M} UTC; it can no longer be "
                         "redeemed.")
        self.expires_at = held.expires_at


class RewardCancelled(RewardError):
    def __init__(self, held: HeldReward) -> None:
        super().__init__(f"{held.name!r} was cancelled; it can no longer be redeemed.")


class RewardUnavailable(NotApplicable, RewardError):
    """The catalogue reward cannot be had this way (inactive, not for sale, another kind of card)."""


class RedeemedRewardInTheWay(RewardError):
    """Undo: the entry being reversed earned a reward that has since been redeemed."""

    def __init__(self, entry: LedgerEntry, held: HeldReward) -> None:
        super().__init__(f"Ledger entry {entry.id} earned {held.name!r} (held reward {held.id}), which was redeemed "
                         f"on {held.redeemed_at:%Y-%m-%d %H:%M} UTC: undo that redemption first.")
        self.entry_id = entry.id
        self.held_reward_id = held.id
        self.reward_name = held.name


# --- reading ------------------------------------------------------------------------------------


def state(held: HeldReward, now: dt.datetime) -> str:
    """held | redeemed | expired | cancelled (a redeemed reward stays redeemed after its end date)."""
    if held.cancelled_at is not None:
        return "cancelled"
    if held.redeemed_at is not None:
        return "redeemed"
    if held.expires_at is not None and held.expires_at <= now:
        return "expired"
    return "held"


def is_redeemable(held: HeldReward, now: dt.datetime) -> bool:
    return state(held, now) == "held"


def redeemable_clause(now: Any) -> Any:
    """Held, not redeemed, cancelled or expired at `now` (a moment, or a bind parameter for it)."""
    return (HeldReward.redeemed_at.is_(None), HeldReward.cancelled_at.is_(None),
            or_(HeldReward.expires_at.is_(None), HeldReward.expires_at > now))


def redeemable(session: Session, card_id: int, now: dt.datetime | None = None) -> list[HeldReward]:
    """What the card can redeem now, soonest to expire first (then oldest): the till's list and the pass's."""
    now = now or utcnow()
    statement = (select(HeldReward).where(HeldReward.card_id == card_id, *redeemable_clause(now))
                 .order_by(HeldReward.expires_at.is_(None), HeldReward.expires_at, HeldReward.id))
    return list(session.scalars(statement))


def on_the_pass(card: Card, now: dt.datetime | None = None) -> list[HeldReward]:
    """What a card's pass (and its Google object) lists: the rewards redeemable now. None for a
    card outside any session (the designer's sample card)."""
    session = object_session(card)
    if session is None or card.id is None:
        return []
    built = build_batch.current(session, card.id)
    if built is None:
        return redeemable(session, card.id, now)
    if "rewards" not in built.answers:  # the batch's first pass: every card's rewards at once
        built.answers["rewards"] = _redeemable_by_card(session, built.card_ids, now)
    return list(built.answers["rewards"].get(card.id, ()))


def _redeemable_by_card(session: Session, card_ids: frozenset[int],
                        now: dt.datetime | None) -> dict[int, list[HeldReward]]:
    """`redeemable` for many cards in one query, each card's list in the same order."""
    statement = (select(HeldReward)
                 .where(HeldReward.card_id.in_(sorted(card_ids)), *redeemable_clause(now or utcnow()))
                 .order_by(HeldReward.card_id, HeldReward.expires_at.is_(None), HeldReward.expires_at, HeldReward.id))
    by_card: dict[int, list[HeldReward]] = {}
    for held in session.scalars(statement):
        by_card.setdefault(held.card_id, []).append(held)
    return by_card


def pass_summary(held: Sequence[HeldReward]) -> str | None:
    """The front field's value: the first reward's name, and how many more ("Free coffee +2")."""
    if not held:
        return None
    return held[0].name if len(held) == 1 else f"{held[0].name} +{len(held) - 1}"


def pass_lines(card: Card, held: Sequence[HeldReward]) -> str:
    """The back's list, one reward a line, with its last day in the program's time zone
    ("Free coffee — 2026-12-12"); the label says "valid until", so the line needs no words."""
    zone = stamp_rules.zone(card.program)
    return "\n".join(f"{reward.name} \N{EM DASH} {reward.expires_at.astimezone(zone):%Y-%m-%d}"
                     if reward.expires_at is not None else reward.name for reward in held)


def held_rewards(session: Session, card_id: int, *, limit: int = 100) -> list[HeldReward]:
    """Every reward the card has held, newest first (redeemed, expired and cancelled ones too)."""
    statement = (select(HeldReward).where(HeldReward.card_id == card_id)
                 .order_by(HeldReward.id.desc()).limit(limit))
    return list(session.scalars(statement))


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def reward_view(held: HeldReward, now: dt.datetime | None = None) -> dict[str, Any]:
    """A held reward as JSON (dates as strings: it is stored in the ledger entry's answer too)."""
    now = now or utcnow()
    return {
        "id": held.id, "card_id": held.card_id, "name": held.name, "description": held.description,
        "source": held.source, "state": state(held, now), "redeemable": is_redeemable(held, now),
        "reward_id": held.catalogue_id, "origin": held.origin, "campaign_id": held.campaign_id,
        "card_cycle": held.card_cycle, "at": held.at_stamp, "full_card": held.full_card,
        "ledger_entry_id": held.ledger_entry_id, "expires_at": _iso(held.expires_at),
        "redeemed_at": _iso(held.redeemed_at), "redeemed_entry_id": held.redeemed_entry_id,
        "redeemed_store_id": held.redeemed_store_id, "redeemed_cashier_id": held.redeemed_cashier_id,
        "cancelled_at": _iso(held.cancelled_at), "created_at": _iso(held.created_at),
    }


# --- the catalogue --------------------------------------------------------------------------------


def catalogue(session: Session, program_id: int, *, active_only: bool = False) -> list[CatalogueReward]:
    statement = select(CatalogueReward).where(CatalogueReward.program_id == program_id)
    if active_only:
        statement = statement.where(CatalogueReward.active.is_(True))
    return list(session.scalars(statement.order_by(CatalogueReward.id)))


def catalogue_problems(program: Program, reward: CatalogueReward) -> list[dict[str, str]]:
    """What is wrong with a catalogue reward for its program, as [{field, message}] (empty: fine).

    Judged on the reward as it would be after a change, so a PATCH of one field is checked whole."""
    errors = []
    if reward.cost_points is not None and program.kind not in POINTS_KINDS:
        errors.append({"field": "cost_points", "message": f"A {program.kind} card holds no points to buy with; "
                                                          "leave cost_points out (a coupon) or use costs_full_card "
                                                          "on a stamp card."})
    if reward.costs_full_card and program.kind != "stamps":
        errors.append({"field": "costs_full_card", "message": "Only stamp-card programs fill cards."})
    if reward.cost_points is not None and reward.costs_full_card:
        errors.append({"field": "costs_full_card", "message": "A reward costs points or a full card, not both."})
    return errors


def _catalogue_entry(session: Session, card: Card, reward_id: int) -> CatalogueReward:
    reward = session.get(CatalogueReward, reward_id)
    if reward is None or reward.program_id != card.program_id:
        raise RewardNotFound("reward", reward_id)
    return reward


def _expiry(now: dt.datetime, valid_days: int | None) -> dt.datetime | None:
    return now + dt.timedelta(days=valid_days) if valid_days else None


# --- writing: one locked, idempotent operation per request -----------------------------------------


def _fingerprint(body: dict[str, Any]) -> str:
    canonical = json.dumps({k: v for k, v in body.items() if v is not None}, sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CouponSpec:
    """A coupon to grant: a catalogue reward (`reward_id`), or one named here.

    Validity: `expires_at`, else `valid_days`, else the catalogue reward's `valid_days`; none of
    them: it never expires."""

    reward_id: int | None = None
    name: str | None = None
    description: str | None = None
    valid_days: int | None = None
    expires_at: dt.datetime | None = None
    origin: str = "api"
    campaign_id: int | None = None
    reason: str | None = None

    def canonical(self) -> dict[str, Any]:
        return {"op": "grant", "reward_id": self.reward_id, "name": self.name, "description": self.description,
                "valid_days": self.valid_days, "expires_at": _iso(self.expires_at), "origin": self.origin,
                "campaign_id": self.campaign_id, "reason": self.reason}


def _locked_card(session: Session, card_id: int, key: str, body: dict[str, Any],
                 brand_id: int | None) -> tuple[Card, Outcome | None]:
    """Lock the card; a replay (the key already posted with the same body) answers at once."""
    card, posted = lock_card_for_transaction(session, card_id, key)
    if card is None or (brand_id is not None and card.brand_id != brand_id):
        raise CardNotFound(card_id)
    if posted is None:
        # PostgreSQL re-reads only the locked card row after waiting for its lock, not the joined
        # ledger: a twin with this key that committed meanwhile is seen by a new statement only, and
        # must be found before the checks (its redemption would otherwise read as "already redeemed").
        posted = session.scalars(select(LedgerEntry).where(LedgerEntry.card_id == card.id,
                                                           LedgerEntry.idempotency_key == key)).one_or_none()
    if posted is not None:
        return card, _replay(posted, key, body, card)
    if card.voided:
        raise CardVoided(f"Card {card.id} is voided; its rewards cannot be bought, granted or redeemed.")
    return card, None


def _replay(posted: LedgerEntry, key: str, body: dict[str, Any], card: Card) -> Outcome:
    if posted.request_fingerprint != _fingerprint(body):
        raise IdempotencyMismatch(key)
    return Outcome({**(posted.response or {})}, replayed=True, card=card)


def _write_entry(session: Session, card: Card, entry: LedgerEntry, key: str, body: dict[str, Any]) -> Outcome | None:
    """INSERT the entry once per key; a twin that committed while this waited turns into its replay."""
    try:
        entry.id = insert_entry(session, card, entry)
    except AlreadyPosted:
        posted = session.scalars(select(LedgerEntry).where(LedgerEntry.card_id == card.id,
                                                           LedgerEntry.idempotency_key == key)).one()
        return _replay(posted, key, body, card)
    return None


def _finish(session: Session, card: Card, entry: LedgerEntry, held: HeldReward, now: dt.datetime,
            exchanged_from: dict[str, Any] | None = None) -> Outcome:
    """Store the answer with the entry (replays give it back byte for byte) and return it."""
    session.flush()
    response: dict[str, Any] = {
        "reward": reward_view(held, now),
        "transaction": {"id": entry.id, "type": entry.kind, "points": entry.points, "balance": card.balance,
                        "store_id": entry.store_id, "cashier_id": entry.cashier_id,
                        "idempotency_key": entry.idempotency_key, "created_at": _iso(entry.created_at)},
    }
    if exchanged_from is not None:
        response["exchanged_from"] = exchanged_from
    session.execute(update(LedgerEntry).where(LedgerEntry.id == entry.id).values(response=response))
    entry.response = response
    return Outcome(response, card=card)


def buy(session: Session, card_id: int, reward_id: int, key: str, *, actor: Actor | None = None,
        now: dt.datetime | None = None, brand_id: int | None = None) -> Outcome:
    """Buy a catalogue reward with the card's points: a `reward_buy` entry of -cost and the reward held.

    Refused (nothing written): another program's or an inactive reward, one not sold for points,
    a balance below the cost (InsufficientBalance, as a redemption of points would be)."""
    now, actor = now or utcnow(), actor or Actor()
    body = {"op": "buy", "reward_id": reward_id}
    card, replay = _locked_card(session, card_id, key, body, brand_id)
    if replay is not None:
        return replay
    reward = _catalogue_entry(session, card, reward_id)
    if not reward.active:
        raise RewardUnavailable("reward_id", f"{reward.name!r} is no longer in the catalogue.")
    if reward.cost_points is None:
        raise RewardUnavailable("reward_id", f"{reward.name!r} is not sold for points"
                                + (" (a full stamp card's reward)." if reward.costs_full_card else " (a coupon)."))
    if card.program.kind not in POINTS_KINDS:
        raise RewardUnavailable("reward_id", f"A {card.program.kind} card holds no points to buy with.")
    if card.balance < reward.cost_points:
        raise InsufficientBalance(card.balance, reward.cost_points)
    entry = LedgerEntry(card_id=card.id, kind="reward_buy", points=-reward.cost_points, store_id=actor.store_id,
                        cashier_id=actor.cashier_id, idempotency_key=key, request_fingerprint=_fingerprint(body),
                        reason=f"bought: {reward.name}"[:300], created_at=now)
    if (replay := _write_entry(session, card, entry, key, body)) is not None:
        return replay
    card.balance -= reward.cost_points
    settle(session, card)  # tier (basis points) and the points' expiry follow the balance
    held = HeldReward(brand_id=card.brand_id, card_id=card.id, catalogue_id=reward.id, source="bought",
                      name=reward.name, description=reward.description, ledger_entry_id=entry.id,
                      expires_at=_expiry(now, reward.valid_days), created_at=now)
    session.add(held)
    touch(card, now)
    return _finish(session, card, entry, held, now)


def grant(session: Session, card_id: int, coupon: CouponSpec, key: str, *, actor: Actor | None = None,
          now: dt.datetime | None = None, brand_id: int | None = None, bump: bool = True) -> Outcome:
    """Grant a coupon to a card: a `reward_grant` entry of 0 points and the coupon held.

    `bump` false: the caller bumps the card's version itself (a campaign, with its message: one push)."""
    now, actor = now or utcnow(), actor or Actor()
    body = coupon.canonical()
    card, replay = _locked_card(session, card_id, key, body, brand_id)
    if replay is not None:
        return replay
    name, description, valid_days = coupon.name, coupon.description, coupon.valid_days
    if coupon.reward_id is not None:
        reward = _catalogue_entry(session, card, coupon.reward_id)
        if not reward.active:
            raise RewardUnavailable("reward_id", f"{reward.name!r} is no longer in the catalogue.")
        name, description = name or reward.name, description or reward.description
        valid_days = valid_days if valid_days is not None else reward.valid_days
    if not name:
        raise NotApplicable("name", "Name the coupon, or give the reward_id of a catalogue reward.")
    expires_at = coupon.expires_at or _expiry(now, valid_days)
    if expires_at is not None and expires_at <= now:
        raise NotApplicable("expires_at", "A coupon that has already expired cannot be granted.")
    entry = LedgerEntry(card_id=card.id, kind="reward_grant", points=0, store_id=actor.store_id,
                        cashier_id=actor.cashier_id, idempotency_key=key, request_fingerprint=_fingerprint(body),
                        reason=(coupon.reason or f"coupon: {name}")[:300], created_at=now)
    if (replay := _write_entry(session, card, entry, key, body)) is not None:
        return replay
    held = HeldReward(brand_id=card.brand_id, card_id=card.id, catalogue_id=coupon.reward_id, source="coupon",
                      name=name, description=description, origin=coupon.origin, campaign_id=coupon.campaign_id,
                      ledger_entry_id=entry.id, expires_at=expires_at, created_at=now)
    session.add(held)
    if bump:
        touch(card, now)
    return _finish(session, card, entry, held, now)


def redeem(session: Session, card_id: int, held_id: int, key: str, *, actor: Actor | None = None,
           now: dt.datetime | None = None, brand_id: int | None = None, exchange_for: int | None = None) -> Outcome:
    """Redeem a held reward at the till: once, never after its end, never on a voided card.

    `exchange_for`: a stamp card's full-card reward may be taken as any active catalogue reward
    that costs a full card (the customer's choice at the counter); the held reward takes its name.
    """
    now, actor = now or utcnow(), actor or Actor()
    body = {"op": "redeem", "held_reward_id": held_id, "exchange_for": exchange_for}
    card, replay = _locked_card(session, card_id, key, body, brand_id)
    if replay is not None:
        return replay
    held = session.scalars(select(HeldReward).where(HeldReward.id == held_id, HeldReward.card_id == card.id)
                           .execution_options(populate_existing=True)).one_or_none()
    if held is None:
        raise RewardNotFound("held reward", held_id)
    _check_redeemable(held, now)
    exchange = None
    if exchange_for is not None:
        exchange = _catalogue_entry(session, card, exchange_for)
        if held.source != "full_card" or not exchange.costs_full_card or not exchange.active:
            raise RewardUnavailable("exchange_for", "Only a full stamp card's reward is exchanged, and only for an "
                                                    "active catalogue reward that costs a full card.")
    entry = LedgerEntry(card_id=card.id, kind="reward_redeem", points=0, store_id=actor.store_id,
                        cashier_id=actor.cashier_id, idempotency_key=key, request_fingerprint=_fingerprint(body),
                        reason=f"redeemed: {exchange.name if exchange else held.name}"[:300], created_at=now)
    if (replay := _write_entry(session, card, entry, key, body)) is not None:
        return replay
    values: dict[str, Any] = {"redeemed_at": now, "redeemed_entry_id": entry.id,
                              "redeemed_store_id": actor.store_id, "redeemed_cashier_id": actor.cashier_id}
    exchanged_from = None
    if exchange is not None:
        # what it was before, kept with the redemption so an undo holds the full card's reward again
        exchanged_from = {"reward_id": held.catalogue_id, "name": held.name, "description": held.description}
        values.update(catalogue_id=exchange.id, name=exchange.name, description=exchange.description)
    claimed = session.execute(update(HeldReward).where(HeldReward.id == held.id, HeldReward.redeemed_at.is_(None),
                                                       HeldReward.cancelled_at.is_(None)).values(**values))
    if claimed.rowcount != 1:  # only without the card lock; kept so that it can never redeem twice
        session.refresh(held)
        raise RewardAlreadyRedeemed(held)
    session.refresh(held)
    touch(card, now)
    return _finish(session, card, entry, held, now, exchanged_from=exchanged_from)


def _check_redeemable(held: HeldReward, now: dt.datetime) -> None:
    current = state(held, now)
    if current == "redeemed":
        raise RewardAlreadyRedeemed(held)
    if current == "cancelled":
        raise RewardCancelled(held)
    if current == "expired":
        raise RewardExpired(held)


def cancel(session: Session, card_id: int, held_id: int, *, now: dt.datetime | None = None,
           brand_id: int | None = None) -> HeldReward:
    """The brand takes back a reward the card holds (a coupon granted by mistake): cancelled, off
    the pass. A redeemed reward stays redeemed (undo the redemption instead)."""
    now = now or utcnow()
    card = lock_card(session, card_id)
    if card is None or (brand_id is not None and card.brand_id != brand_id):
        raise CardNotFound(card_id)
    held = session.scalars(select(HeldReward).where(HeldReward.id == held_id, HeldReward.card_id == card.id)
                           .execution_options(populate_existing=True)).one_or_none()
    if held is None:
        raise RewardNotFound("held reward", held_id)
    if held.redeemed_at is not None:
        raise RewardAlreadyRedeemed(held)
    if held.cancelled_at is None:
        visible = is_redeemable(held, now)
        held.cancelled_at = now
        if visible:
            touch(card, now)
    session.flush()
    return held


# --- bulk grants (campaigns) ------------------------------------------------------------------------


def grant_to_cards(session: Session, card_ids: Sequence[int], coupon: CouponSpec, key_prefix: str,
                   *, now: dt.datetime | None = None, brand_id: int | None = None, bump: bool = True) -> int:
    """Grant one coupon to many cards (a campaign's audience), each under its own savepoint and key
    `<key_prefix>:<card id>`, so a rerun grants nothing twice; a voided card, or one of another
    program than the catalogue reward's, is simply skipped.
    Returns how many cards got it now. The caller commits; `bump` as for `grant`."""
    granted = 0
    for card_id in card_ids:
        try:
            with session.begin_nested():
                outcome = grant(session, card_id, coupon, f"{key_prefix}:{card_id}"[:200], now=now,
                                brand_id=brand_id, bump=bump)
        except (CardVoided, CardNotFound, RewardNotFound, RewardUnavailable):
            continue  # a voided card, or a card of another program than the catalogue reward's
        granted += not outcome.replayed
    return granted


# --- expiry ----------------------------------------------------------------------------------------


def note_expired(session: Session, now: dt.datetime | None = None) -> int:
    """The hourly job: bump the cards whose held rewards ended since the last run, so each pass
    and Google object drops them (redeeming checks the end itself: this only updates phones).
    Each card is committed on its own; returns how many cards were bumped."""
    now = now or utcnow()
    bumped = 0
    while True:
        card_ids = list(session.scalars(
            select(HeldReward.card_id).where(HeldReward.expires_at <= now, HeldReward.expiry_noted_at.is_(None),
                                             HeldReward.redeemed_at.is_(None), HeldReward.cancelled_at.is_(None))
            .group_by(HeldReward.card_id).order_by(HeldReward.card_id).limit(NOTE_BATCH)))
        if not card_ids:
            return bumped
        for card_id in card_ids:
            card = lock_card(session, card_id)
            session.execute(update(HeldReward).where(
                HeldReward.card_id == card_id, HeldReward.expires_at <= now, HeldReward.expiry_noted_at.is_(None),
                HeldReward.redeemed_at.is_(None), HeldReward.cancelled_at.is_(None)).values(expiry_noted_at=now))
            if card is not None:
                touch(card, now)
                bumped += 1
            session.commit()


# --- undo: what a reversal entry does to rewards (called by the reversal code) ----------------------


def _touch_card(session: Session, card_id: int, now: dt.datetime) -> None:
    card = session.get(Card, card_id)
    if card is not None:
        touch(card, now)


def cancel_rewards_earned_by(session: Session, entry: LedgerEntry, reversal_entry: LedgerEntry,
                             now: dt.datetime | None = None) -> list[HeldReward]:
    """A stamp, purchase, `reward_buy` or `reward_grant` entry is being reversed: cancel the rewards
    it earned (`cancelled_entry_id` = the reversal), so they leave the pass and the till.

    Raises RedeemedRewardInTheWay, changing nothing, when one of them was redeemed already (the
    reversal must then be refused, or that redemption undone first with `unredeem`). The caller
    holds the card lock and commits. Returns the rewards cancelled (already-cancelled ones are left).
    """
    now = now or utcnow()
    earned = list(session.scalars(select(HeldReward).where(HeldReward.ledger_entry_id == entry.id)
                                  .order_by(HeldReward.id).execution_options(populate_existing=True)))
    for held in earned:
        if held.redeemed_at is not None:
            raise RedeemedRewardInTheWay(entry, held)
    cancelled = [held for held in earned if held.cancelled_at is None]
    for held in cancelled:
        held.cancelled_at = now
        held.cancelled_entry_id = reversal_entry.id
    if cancelled:
        _touch_card(session, entry.card_id, now)
    session.flush()
    return cancelled


def refund_bought_reward(session: Session, buy_entry: LedgerEntry, reversal_entry: LedgerEntry,
                         now: dt.datetime | None = None) -> int:
    """A `reward_buy` is being reversed: cancel the reward it bought (refused if redeemed, as above)
    and return the points the reversal gives back (the cost, `-buy_entry.points`). The reversal
    entry carries those points and the caller adds them to the balance, as for any reversal."""
    if buy_entry.kind != "reward_buy":
        raise ValueError(f"ledger entry {buy_entry.id} is a {buy_entry.kind}, not a reward_buy")
    cancel_rewards_earned_by(session, buy_entry, reversal_entry, now)
    return -buy_entry.points


def unredeem(session: Session, redeem_entry: LedgerEntry, reversal_entry: LedgerEntry,
             now: dt.datetime | None = None) -> HeldReward:
    """A `reward_redeem` entry is being reversed: the reward is held again (not redeemed), so it is
    back on the pass and at the till, until its own end date (an expired one stays unredeemable).
    The redemption stays in the ledger (the entry and its reversal). The caller holds the card lock."""
    now = now or utcnow()
    if redeem_entry.kind != "reward_redeem":
        raise ValueError(f"ledger entry {redeem_entry.id} is a {redeem_entry.kind}, not a reward_redeem")
    held = session.scalars(select(HeldReward).where(HeldReward.redeemed_entry_id == redeem_entry.id)
                           .execution_options(populate_existing=True)).one_or_none()
    if held is None:
        raise RewardNotFound("held reward", redeem_entry.id)
    held.redeemed_at = held.redeemed_entry_id = held.redeemed_store_id = held.redeemed_cashier_id = None
    original = (redeem_entry.response or {}).get("exchanged_from")
    if original is not None:  # taken as another catalogue reward: held again as what it was
        held.catalogue_id, held.name, held.description = (original["reward_id"], original["name"],
                                                          original["description"])
    _touch_card(session, held.card_id, now)
    session.flush()
    return held
