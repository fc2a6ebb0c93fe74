"""The loyalty engine: what a transaction does to a card, written as one ledger entry.

Rules per program kind (Program.kind):

- ``points``: a purchase earns ``amount x points_per_unit x tier multiplier`` points.
- ``cashback``: a purchase earns ``cashback_percent x tier multiplier`` of the amount back.
  The balance is kept in points worth one minor unit each (1 point = 0.01), so the ledger
  stays integral; redeeming takes either ``points`` or a money ``amount``.
- ``discount``: the card shows a fixed percentage (the tier's, if it sets one); purchases
  are only totalled (``lifetime_spend``). Such a card has no points to earn or redeem.
- ``stamps``: the balance is the stamps on the current card; ``stamp`` transactions and
  purchases add stamps (service/loyalty/stamps.py), a full card turns into a reward and the
  stamps beyond N start the next card. Points are neither earned nor redeemed by hand.

Fractions are rounded by the program's ``rounding`` (down | nearest | up, nearest = half up)
once, on the final figure, with Decimal arithmetic throughout.

Tiers sit on top of any kind: the highest tier whose threshold the card's measure reaches
(``Program.tier_basis``: lifetime_points | lifetime_spend | points, the last one being the
current balance, so redeeming can move a card down).

Invariants: every balance change is a LedgerEntry; ``Card.balance`` is the ledger sum and
never negative; the card row is locked while a transaction is decided, so two cashiers
redeeming at once are serialised and the second sees the first's result. Anything that
changes what the pass shows calls ``cards.touch`` (which also queues the push).

The till's safeguards (service/loyalty/limits.py) are checked here, with the card locked, once
what a transaction earns is known; undo is service/loyalty/reversal.py (a `reversal` entry).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, joinedload

from service.loyalty import card_rows
from service.loyalty import limits as till_limits
from service.loyalty import stamps as stamp_rules
from service.loyalty.cards import touch
from service.models import Card, HeldReward, LedgerEntry, Program, Tier, utcnow
from service.platform import db

PROGRAM_KINDS = ("points", "cashback", "discount", "stamps")
TIER_BASES = ("lifetime_points", "lifetime_spend", "points")
ROUNDING_MODES: dict[str, str] = {"down": ROUND_FLOOR, "nearest": ROUND_HALF_UP, "up": ROUND_CEILING}
TRANSACTION_TYPES = ("earn", "redeem", "purchase", "stamp")
CENT = Decimal("0.01")
EXPIRY_BATCH = 500
#: What counts as the customer's visit (Card.last_visit_at, the journeys' visit triggers).
VISIT_KINDS = ("purchase", "stamp")
#: Idempotency keys of bonuses a journey gives (service/journeys/actions.py): its stamps are no visit.
JOURNEY_KEY_PREFIX = "journey:"
#: ... and of a challenge's bonus (service/journeys/challenges.py).
CHALLENGE_KEY_PREFIX = "challenge-bonus:"
#: Bonus stamps are written as `stamp` entries under these keys: none of them is the customer's visit.
BONUS_KEY_PREFIXES = (JOURNEY_KEY_PREFIX, CHALLENGE_KEY_PREFIX)


def is_visit(kind: str, key: str | None) -> bool:
    """A purchase or a stamp at the till, not a bonus's stamps (a journey's, a challenge's)."""
    return kind in VISIT_KINDS and not (key or "").startswith(BONUS_KEY_PREFIXES)


# --- errors: the API turns each into a problem+json --------------------------------------


class LoyaltyError(Exception):
    """A transaction the rules refuse; nothing has been written when it is raised."""


class CardNotFound(LoyaltyError, LookupError):
    def __init__(self, card_id: int) -> None:
        super().__init__(f"No card {card_id} in your brand.")
        self.card_id = card_id


class CardVoided(LoyaltyError):
    pass


class InsufficientBalance(LoyaltyError):
    def __init__(self, balance: int, requested: int) -> None:
        super().__init__(f"The balance is {balance} points; {requested} were asked for. Nothing was redeemed.")
        self.balance = balance
        self.requested = requested


class NotApplicable(LoyaltyError):
    """The request is well formed but means nothing for this card's program kind."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


class LimitReached(LoyaltyError):
    """A program limit (service/loyalty/limits.py) refuses the transaction; the API counts it."""

    def __init__(self, refusal: till_limits.Refusal, card: Card, store_id: int | None,
                 cashier_id: int | None) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        # plain values: the card row is expired by the rollback that follows a refusal
        self.where = till_limits.Where(card.brand_id, card.program_id, card.id, store_id, cashier_id)


class ReversalRefused(LoyaltyError):
    """A reversal the rules refuse (service/loyalty/reversal.py); `code` names the problem type."""

    def __init__(self, code: str, message: str, status: int = 409, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.details = details


class IdempotencyMismatch(LoyaltyError):
    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used with a different request body.")
        self.key = key


# --- requests and results -----------------------------------------------------------------


@dataclass(frozen=True)
class TransactionRequest:
    """A validated transaction body (see api/loyalty_schemas.TransactionIn)."""

    type: str
    points: int | None = None
    amount: Decimal | None = None
    reason: str | None = None
    store_id: int | None = None
    stamps: int | None = None

    def canonical(self) -> dict[str, Any]:
        """The body reduced to its meaning: "12.5" and "12.50" are the same purchase."""
        stamps = (self.stamps or 1) if self.type == "stamp" else self.stamps  # a stamp is 1 unless told
        body: dict[str, Any] = {"type": self.type, "points": self.points, "stamps": stamps,
                                "amount": money_text(self.amount) if self.amount is not None else None,
                                "reason": self.reason, "store_id": self.store_id}
        return {key: value for key, value in body.items() if value is not None}


@dataclass(frozen=True)
class Actor:
    """Who posts: a cashier (and so their store), or the brand itself (store optional); on a card of
    another brand's program, the partner brand posting (service/loyalty/partners.py)."""

    cashier_id: int | None = None
    store_id: int | None = None
    partner_brand_id: int | None = None


@dataclass(frozen=True)
class Outcome:
    """The answer to a transaction; `replayed` when it is the stored answer to an earlier one."""

    response: dict[str, Any]
    replayed: bool = False
    #: The locked card, for callers that go on with it in the same transaction (the session's
    #: identity map holds clean objects only weakly: without this they would be loaded again).
    card: Card | None = field(default=None, compare=False, repr=False)


@dataclass
class ExpiryRun:
    cards: int = 0
    points: int = 0
    card_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Posted:
    """A transaction just written (not a replay), as the after-posting hooks see it."""

    entry_id: int
    kind: str
    amount: Decimal | None
    created_at: dt.datetime
    idempotency_key: str
    #: the transaction already bumped the card's version (what the pass shows changed)
    bumped: bool


@dataclass(frozen=True)
class HookResult:
    """What an after-posting hook did: `pass_changed` (the card is touched once if nothing else
    touched it), and `answer` fields to add to the transaction's stored answer (None: nothing, so
    the common transaction writes nothing more)."""

    pass_changed: bool = False
    answer: dict[str, Any] | None = None


#: (session, locked card, posted) -> HookResult | None; run with the card locked, in its transaction.
AfterPosted = Callable[[Session, Card, Posted], "HookResult | None"]
_after_posted: dict[str, AfterPosted] = {}


def register_after_posted(name: str, hook: AfterPosted) -> None:
    """Let a concern above the loyalty engine hear of every new transaction (challenges count them:
    service/journeys/challenges.py registers at app start), so the engine never imports it.
    Registering the same name again replaces it. A hook must be cheap: it runs on the scan path."""
    _after_posted[name] = hook


def _run_after_posted(session: Session, card: Card, response: dict[str, Any], key: str, version_before: int,
                      now: dt.datetime) -> dict[str, Any]:
    """Run the hooks on a transaction just applied; returns its answer, with what they added."""
    if not _after_posted:
        return response
    amount = response.get("amount")
    posted = Posted(entry_id=response["id"], kind=response["type"],
                    amount=Decimal(amount) if amount is not None else None, created_at=now,
                    idempotency_key=key, bumped=(card.version or 0) != version_before)
    changed, extra = False, {}
    for hook in list(_after_posted.values()):
        result = hook(session, card, posted)
        if result is not None:
            changed = changed or result.pass_changed
            extra.update(result.answer or {})
    if changed and (card.version or 0) == version_before:
        touch(card)
    if not extra:
        return response
    # a bonus may have moved the figures: the answer (stored for replays) shows the card as it is now
    response = {**response, **extra, "balance": card.balance, "lifetime_points": card.lifetime_points,
                **stamps_view(card)}
    money = balance_money(card)
    response["balance_money"] = money_text(money) if money is not None else None
    stored = {key_: value for key_, value in response.items() if key_ != "id"}
    session.execute(update(LedgerEntry).where(LedgerEntry.id == response["id"]).values(response=stored))
    return response


# --- pure rules --------------------------------------------------------------------------


def money_text(amount: Decimal) -> str:
    """Money as the API writes it: a string with exactly two decimals."""
    return format(amount.quantize(CENT), "f")


def round_points(value: Decimal, rounding: str) -> int:
    """Whole points from a fractional figure, by the program's rounding rule."""
    return int(value.quantize(Decimal(1), rounding=ROUNDING_MODES[rounding]))


def earn_multiplier(tier: Tier | None) -> Decimal:
    return tier.earn_multiplier if tier is not None else Decimal(1)


def purchase_points(program: Program, tier: Tier | None, amount: Decimal) -> int:
    """Points a purchase earns; for cashback, minor units of money (percent x amount)."""
    if program.kind == "points":
        raw = amount * program.points_per_unit * earn_multiplier(tier)
    elif program.kind == "cashback":
        # amount x percent / 100 is the money back; x 100 again gives minor units.
        raw = amount * program.cashback_percent * earn_multiplier(tier)
    else:
        return 0
    return round_points(raw, program.rounding)


def money_to_points(amount: Decimal) -> int:
    """A cashback amount in points (minor units); amounts carry at most two decimals."""
    return int((amount / CENT).to_integral_value())


def points_to_money(points: int) -> Decimal:
    return (Decimal(points) * CENT).quantize(CENT)


def money_value(program: Program, points: int) -> Decimal | None:
    """What points are worth in a cashback program; None where points are not money."""
    return points_to_money(points) if program.kind == "cashback" else None


def balance_money(card: Card) -> Decimal | None:
    return money_value(card.program, card.balance)


def effective_discount(card: Card) -> Decimal | None:
    """The discount a discount card grants: its tier's if the tier sets one."""
    program = card.program
    if program.kind != "discount":
        return None
    tier = card.current_tier
    if tier is not None and tier.discount_percent is not None:
        return tier.discount_percent
    return program.discount_percent


def tier_measure(program: Program, card: Card) -> Decimal:
    """The figure tier thresholds are compared with."""
    if program.tier_basis == "lifetime_spend":
        return card.lifetime_spend or Decimal(0)
    if program.tier_basis == "points":
        return Decimal(card.balance)
    return Decimal(card.lifetime_points)


def tier_for(program: Program, measure: Decimal) -> Tier | None:
    """The highest tier reached; None below the lowest threshold."""
    reached = [tier for tier in program.tiers if tier.threshold <= measure]
    return max(reached, key=lambda tier: tier.threshold) if reached else None


def tier_direction(old: Tier | None, new: Tier | None) -> str | None:
    if old is new or (old is not None and new is not None and old.id == new.id):
        return None
    if old is None:
        return "up"
    if new is None:
        return "down"
    return "up" if new.threshold > old.threshold else "down"


def fingerprint(request: TransactionRequest) -> str:
    """SHA-256 of the canonical body: equal for the same request however it was spelled."""
    canonical = json.dumps(request.canonical(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- database helpers ----------------------------------------------------------------------


def _take_sqlite_write_lock(session: Session, card_id: int) -> None:
    """SQLite has no row locks, and pysqlite starts a transaction only at the first write,
    so a no-op write comes first: it takes the database write lock (waiting for other
    writers) and makes every following read see the latest committed state."""
    if session.get_bind().dialect.name == "sqlite":
        table = Card.__table__
        session.execute(table.update().where(table.c.id == card_id).values(id=table.c.id))


def lock_card(session: Session, card_id: int) -> Card | None:
    """The card, locked for the rest of the transaction, with fresh values.

    PostgreSQL: SELECT ... FOR NO KEY UPDATE, so concurrent transactions on the card queue here. Not
    FOR UPDATE: every transaction that inserts a row naming the card (a ledger entry, a campaign's
    recipient, a push delivery) holds a KEY SHARE lock on it until it commits, which FOR UPDATE
    waits for; a campaign batch holding those and bumping the card while a till waits for FOR UPDATE
    is a deadlock. FOR NO KEY UPDATE conflicts with itself (transactions still take turns) but not
    with KEY SHARE, and no transaction changes a card's id.
    """
    _take_sqlite_write_lock(session, card_id)
    statement = (select(Card).where(Card.id == card_id).with_for_update(key_share=True)
                 .execution_options(populate_existing=True))
    return session.scalars(statement).one_or_none()


def lock_card_for_transaction(session: Session, card_id: int, key: str) -> tuple[Card | None, LedgerEntry | None]:
    """`lock_card`, plus in the same round trip the entry already posted under `key` (if
    any) and the program with its tiers, which every transaction needs."""
    lean, card, posted = card_rows.locked_card(session, card_id, key)  # PostgreSQL: straight from the driver
    if lean:
        return card, posted
    _take_sqlite_write_lock(session, card_id)
    statement = (
        select(Card, LedgerEntry)
        .outerjoin(LedgerEntry, and_(LedgerEntry.card_id == Card.id, LedgerEntry.idempotency_key == key))
        .where(Card.id == card_id)
        .options(joinedload(Card.program).joinedload(Program.tiers))
        .with_for_update(of=Card, key_share=True)  # FOR NO KEY UPDATE OF cards: see lock_card
        .execution_options(populate_existing=True)
    )
    row = session.execute(statement).unique().one_or_none()
    return (row[0], row[1]) if row is not None else (None, None)


def ledger_balance(session: Session, card_id: int) -> int:
    """The balance as the ledger says it (Card.balance must always equal this)."""
    return int(session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                              .where(LedgerEntry.card_id == card_id)) or 0)


def _standing() -> ColumnElement[bool]:
    """Entries that still count for expiry: an undone entry and its reversal cancel out (together
    they sum to 0), so the oldest-first order of what is left is as if the undone one never was:
    a reversed earn gives no points a date, and points a reversed redemption gives back keep the
    date they were earned, not the moment of the undo."""
    undoing = aliased(LedgerEntry)
    return and_(LedgerEntry.kind != "reversal",
                ~exists().where(undoing.reversed_entry_id == LedgerEntry.id))


def _debited(session: Session, card_id: int) -> int:
    """All points ever taken off the card (redeemed or expired), as a positive number."""
    total = session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                           .where(LedgerEntry.card_id == card_id, LedgerEntry.points < 0, _standing()))
    return -int(total or 0)


def _earned_until(session: Session, card_id: int, cutoff: dt.datetime) -> int:
    total = session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                           .where(LedgerEntry.card_id == card_id, LedgerEntry.points > 0,
                                  LedgerEntry.created_at <= cutoff, _standing()))
    return int(total or 0)


def expirable_points(session: Session, card_id: int, cutoff: dt.datetime) -> int:
    """Points earned at or before `cutoff` and not yet spent, spending oldest first (FIFO).

    Debits always consume the oldest points, so of everything earned by the cutoff exactly
    min(earned, debited) is gone; the rest is still on the card and due to expire.
    """
    return max(0, _earned_until(session, card_id, cutoff) - _debited(session, card_id))


def oldest_unspent_at(session: Session, card_id: int) -> dt.datetime | None:
    """When the oldest points still on the card were earned (FIFO, as above)."""
    running = func.sum(LedgerEntry.points).over(order_by=(LedgerEntry.created_at, LedgerEntry.id))
    credits = (select(LedgerEntry.created_at.label("earned_at"), running.label("running"))
               .where(LedgerEntry.card_id == card_id, LedgerEntry.points > 0, _standing()).subquery())
    return session.scalar(select(credits.c.earned_at).where(credits.c.running > _debited(session, card_id))
                          .order_by(credits.c.running).limit(1))


def next_expiry(session: Session, card: Card) -> dt.datetime | None:
    days = card.program.points_expire_days
    if not days or card.balance <= 0:
        return None
    earned_at = oldest_unspent_at(session, card.id)
    return earned_at + dt.timedelta(days=days) if earned_at is not None else None


# --- applying a transaction ------------------------------------------------------------------


def _visible(card: Card) -> tuple[Any, ...]:
    """Everything the pass shows that a transaction can change (see pass_design)."""
    spend = card.lifetime_spend if card.program.kind == "discount" else None
    return card.balance, card.tier, card.points_expire_at, spend, card.stamp_cards_completed


def settle(session: Session, card: Card) -> str | None:
    """Bring tier and expiry date in line with the balance; returns the tier move, if any."""
    session.flush()  # the expiry queries read the ledger, including entries just added
    program = card.program
    new_tier = tier_for(program, tier_measure(program, card))
    direction = tier_direction(card.current_tier, new_tier)
    card.current_tier = new_tier
    card.tier = new_tier.name if new_tier is not None else None  # also follows a renamed tier
    card.points_expire_at = next_expiry(session, card)
    return direction


def _require_points(program: Program, field_name: str) -> None:
    if program.kind == "discount":
        raise NotApplicable(field_name, "This is a discount card: it has no points to earn or redeem.")
    if program.kind == "stamps":
        raise NotApplicable(field_name, "This is a stamp card: send type stamp (with stamps) or a purchase.")


@dataclass(frozen=True)
class StampEarning:
    """What a stamp or purchase transaction does on a stamp card (before it is written)."""

    earned: int
    multiplier: int
    filling: stamp_rules.Filling


def _stamp_earning(card: Card, request: TransactionRequest, store_id: int | None,
                   now: dt.datetime) -> StampEarning:
    program = card.program
    if request.type == "stamp":
        base = request.stamps or 1
    else:
        assert request.amount is not None
        base = stamp_rules.purchase_stamps(program, request.amount)
    factor = stamp_rules.multiplier(program, store_id, now) if base else 1
    earned = base * factor
    filling = stamp_rules.fill(program, card.balance, card.stamp_cards_completed or 0, earned)
    return StampEarning(earned, factor, filling)


def _points_and_amount(card: Card, request: TransactionRequest) -> tuple[int, Decimal | None]:
    """The signed ledger points and money amount a request means for this card."""
    program = card.program
    if request.type == "stamp":
        raise NotApplicable("type", f"This is a {program.kind} card: only stamp-card programs take stamps.")
    if request.type == "purchase":
        assert request.amount is not None
        return purchase_points(program, card.current_tier, request.amount), request.amount
    _require_points(program, "type")
    if request.type == "earn":
        assert request.points is not None
        return request.points, None
    if request.amount is not None:
        if program.kind != "cashback":
            raise NotApplicable("amount", "Only cashback balances are redeemed as money; send points.")
        return -money_to_points(request.amount), request.amount
    assert request.points is not None
    return -request.points, money_value(program, request.points)


def stamps_view(card: Card) -> dict[str, Any]:
    """A stamp card's figures as the card and transaction answers carry them (nulls elsewhere)."""
    program = card.program
    if program.kind != "stamps":
        return {"stamps": None, "stamps_required": None, "stamp_cards_completed": None}
    return {"stamps": card.balance, "stamps_required": program.stamps_required,
            "stamp_cards_completed": card.stamp_cards_completed or 0}


def transaction_view(card: Card, entry: LedgerEntry, direction: str | None,
                     earning: StampEarning | None = None) -> dict[str, Any]:
    """The JSON answer to a transaction, stored with it for idempotent replays."""
    money = balance_money(card)
    discount = effective_discount(card)
    stamps: dict[str, Any] = stamps_view(card)
    if earning is not None:
        stamps.update(stamps_earned=earning.earned, stamp_multiplier=earning.multiplier,
                      rewards_earned=[reward.as_json() for reward in earning.filling.rewards])
    return {
        "id": entry.id,
        "card_id": card.id,
        "type": entry.kind,
        "points": entry.points,
        "amount": money_text(entry.amount) if entry.amount is not None else None,
        "balance": card.balance,
        "balance_money": money_text(money) if money is not None else None,
        "currency": card.program.currency,
        "lifetime_points": card.lifetime_points,
        "lifetime_spend": money_text(card.lifetime_spend or Decimal(0)),
        "tier": card.tier,
        "tier_change": direction,
        "discount_percent": format(discount.normalize(), "f") if discount is not None else None,
        "points_expire_at": card.points_expire_at.isoformat() if card.points_expire_at else None,
        "store_id": entry.store_id,
        "cashier_id": entry.cashier_id,
        "reason": entry.reason,
        "idempotency_key": entry.idempotency_key,
        "created_at": entry.created_at.isoformat(),
        **stamps,
    }


def answer(entry: LedgerEntry) -> dict[str, Any]:
    """The stored answer of a posted entry. It is stored with the INSERT, before the
    database has given the entry its id, so the id is filled in here."""
    return {**(entry.response or {}), "id": entry.id}


def _settle_in_memory(card: Card, balance_before: int, now: dt.datetime) -> str | None:
    """`settle` without reading the ledger: for programs whose points never expire, and
    for transactions that only add points.

    Debits consume the oldest points first, so adding points never changes which points
    are the oldest unspent ones, unless there were none: then these are.
    """
    program = card.program
    new_tier = tier_for(program, tier_measure(program, card))
    direction = tier_direction(card.current_tier, new_tier)
    card.current_tier = new_tier
    card.tier = new_tier.name if new_tier is not None else None
    days = program.points_expire_days
    if not days or card.balance <= 0:
        card.points_expire_at = None
    elif balance_before <= 0:
        card.points_expire_at = now + dt.timedelta(days=days)
    return direction


class _AlreadyPosted(Exception):
    """Another request with the same key committed while this one waited for the card."""


def _insert_entry_statement() -> Any:
    table = LedgerEntry.__table__
    values = {column.key: bindparam(column.key, type_=column.type) for column in table.columns if column.key != "id"}
    return (postgresql.insert(table).values(values)
            .on_conflict_do_nothing(index_elements=["card_id", "idempotency_key"]).returning(table.c.id))


#: `_insert_entry` on PostgreSQL (db.session_driver_rows): SQLAlchemy's execution layer was most of
#: the Python this one-row INSERT cost, on every transaction at the till (issue 18)
_INSERT_ENTRY_ON_POSTGRESQL = _insert_entry_statement()


def _insert_entry(session: Session, card: Card, entry: LedgerEntry) -> int:
    """INSERT the entry, skipping it if its idempotency key is already taken; returns its id.

    Why not the ORM: PostgreSQL re-reads only the locked card row after waiting for its lock,
    not the ledger, so a twin request that committed meanwhile is found here, by the unique
    key, and the transaction is answered as a replay instead of failing.
    """
    table = LedgerEntry.__table__
    values = {column.key: getattr(entry, column.key) for column in table.columns if column.key != "id"}
    rows = db.session_driver_rows(session, _INSERT_ENTRY_ON_POSTGRESQL, values)
    if rows is not None:  # PostgreSQL: the same INSERT, compiled once and run by the driver
        if not rows:
            session.expire(card)
            raise _AlreadyPosted
        return int(rows[0][0])
    dialect = session.get_bind().dialect.name
    statement: Any = (postgresql.insert(table) if dialect == "postgresql"
                      else sqlite.insert(table) if dialect == "sqlite" else None)
    if statement is None:
        statement = table.insert()
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["card_id", "idempotency_key"])
    # Core on the session's connection: no autoflush of this request's card changes before
    # the entry is known to be new, and none of the ORM's bulk-insert machinery
    entry_id = session.connection().execute(statement.values(**values).returning(table.c.id)).scalar()
    if entry_id is None:
        session.expire(card)  # forget this request's changes to the card
        raise _AlreadyPosted
    return int(entry_id)


def _check_limits(session: Session, card: Card, request: TransactionRequest, earned: int,
                  store_id: int | None, actor: Actor, now: dt.datetime) -> None:
    """Raise LimitReached if a program limit refuses this (the card is locked: no race)."""
    refusal = till_limits.check(session, card, request.type, earned, now)
    if refusal is not None:
        raise LimitReached(refusal, card, store_id, actor.cashier_id)


def _apply_stamps(session: Session, card: Card, request: TransactionRequest, actor: Actor,
                  key: str, now: dt.datetime, limits: bool = True) -> dict[str, Any]:
    """A stamp or purchase on a stamp card: one entry of the stamps earned, then one `card_full`
    entry of -N per card filled (so the ledger still sums to the stamps on the current card), and a
    HeldReward row (source ladder or full_card) per rung crossed and card filled, pointing at the
    entry that earned it."""
    program = card.program
    if request.type not in ("stamp", "purchase"):
        _require_points(program, "type")
    store_id = actor.store_id if actor.store_id is not None else request.store_id
    earning = _stamp_earning(card, request, store_id, now)
    if limits:
        _check_limits(session, card, request, earning.earned, store_id, actor, now)
    before = _visible(card)
    entry = LedgerEntry(card_id=card.id, kind=request.type, points=earning.earned,
                        amount=request.amount if request.type == "purchase" else None,
                        store_id=store_id, cashier_id=actor.cashier_id, idempotency_key=key,
                        request_fingerprint=fingerprint(request), reason=request.reason, created_at=now,
                        partner_brand_id=actor.partner_brand_id)
    required = program.stamps_required or 0
    cycle_before, balance_before = card.stamp_cards_completed or 0, card.balance
    card.balance = earning.filling.stamps
    card.lifetime_points += earning.earned
    card.stamp_cards_completed = cycle_before + earning.filling.cards_filled
    if is_visit(request.type, key):
        card.last_visit_at = now
    if request.type == "purchase" and request.amount is not None:
        card.lifetime_spend = (card.lifetime_spend or Decimal(0)) + request.amount
    direction = _settle_in_memory(card, balance_before, now)  # stamps do not expire (the API refuses days)
    if _visible(card) != before:
        touch(card)
    entry.response = transaction_view(card, entry, direction, earning)
    entry.id = _insert_entry(session, card, entry)
    for number in range(earning.filling.cards_filled):
        session.add(LedgerEntry(card_id=card.id, kind="card_full", points=-required, store_id=store_id,
                                cashier_id=actor.cashier_id, created_at=now, partner_brand_id=actor.partner_brand_id,
                                reason=f"stamp card {cycle_before + number + 1} full"))
    # held until redeemed at the till (service/loyalty/rewards.py); stamp rewards do not expire
    session.add_all(HeldReward(brand_id=card.brand_id, card_id=card.id, ledger_entry_id=entry.id,
                               source="full_card" if reward.full_card else "ladder", name=reward.name,
                               card_cycle=reward.cycle, at_stamp=reward.at, created_at=now)
                    for reward in earning.filling.rewards)
    session.flush()
    return answer(entry)


#: For the other writers of the ledger (service/loyalty/rewards.py): the same once-per-key INSERT.
AlreadyPosted = _AlreadyPosted
insert_entry = _insert_entry


def _apply(session: Session, card: Card, request: TransactionRequest, actor: Actor,
           key: str, now: dt.datetime, limits: bool = True) -> dict[str, Any]:
    if card.program.kind == "stamps":
        return _apply_stamps(session, card, request, actor, key, now, limits)
    points, amount = _points_and_amount(card, request)
    if limits:
        store_id = actor.store_id if actor.store_id is not None else request.store_id
        _check_limits(session, card, request, points, store_id, actor, now)
    balance_before = card.balance
    if balance_before + points < 0:
        raise InsufficientBalance(balance_before, -points)
    before = _visible(card)
    # never added to the session: written by _insert_entry
    entry = LedgerEntry(card_id=card.id, kind=request.type, points=points, amount=amount,
                        store_id=actor.store_id if actor.store_id is not None else request.store_id,
                        cashier_id=actor.cashier_id, idempotency_key=key,
                        request_fingerprint=fingerprint(request), reason=request.reason, created_at=now,
                        partner_brand_id=actor.partner_brand_id)
    card.balance += points
    card.lifetime_points += max(points, 0)
    if is_visit(request.type, key):
        card.last_visit_at = now
    if request.type == "purchase" and amount is not None:
        card.lifetime_spend = (card.lifetime_spend or Decimal(0)) + amount
    if not card.program.points_expire_days or (
            points >= 0 and (balance_before <= 0 or card.points_expire_at is not None)):
        direction = _settle_in_memory(card, balance_before, now)
        if _visible(card) != before:
            touch(card)
        entry.response = transaction_view(card, entry, direction)
        entry.id = _insert_entry(session, card, entry)  # the answer goes in with the INSERT
    else:
        # a debit with expiring points: which points are the oldest unspent is the ledger's answer
        entry.id = _insert_entry(session, card, entry)
        direction = settle(session, card)
        if _visible(card) != before:
            touch(card)
        entry.response = transaction_view(card, entry, direction)
        session.execute(update(LedgerEntry).where(LedgerEntry.id == entry.id).values(response=entry.response))
    card_rows.flush_card(session, card)  # UPDATE cards; the outbox's INSERT of the pushes
    return answer(entry)


def post_transaction(session: Session, card_id: int, request: TransactionRequest, idempotency_key: str,
                     *, actor: Actor | None = None, now: dt.datetime | None = None,
                     brand_id: int | None = None, limits: bool = True) -> Outcome:
    """Apply one transaction to a card, once per idempotency key; the caller commits.

    `limits`: check the program's till safeguards (service/loyalty/limits.py); off only for a
    brand's own points adjustments. A replay is never refused (it changes nothing).

    The card row is locked first, so a second request with the same key waits for the
    first to commit and then finds its entry; a second redemption sees the reduced balance.
    With `brand_id`, a card of another brand is not found.
    """
    card, posted = lock_card_for_transaction(session, card_id, idempotency_key)
    if card is None or (brand_id is not None and card.brand_id != brand_id):
        raise CardNotFound(card_id)
    if posted is not None:
        if posted.request_fingerprint != fingerprint(request):
            raise IdempotencyMismatch(idempotency_key)
        return Outcome(answer(posted), replayed=True, card=card)
    if card.voided:
        raise CardVoided(f"Card {card.id} is voided; it takes no transactions.")
    now = now or utcnow()
    version_before = card.version or 0
    try:
        response = _apply(session, card, request, actor or Actor(), idempotency_key, now, limits)
        return Outcome(_run_after_posted(session, card, response, idempotency_key, version_before, now), card=card)
    except _AlreadyPosted:
        posted = session.scalars(select(LedgerEntry).where(LedgerEntry.card_id == card_id,
                                                           LedgerEntry.idempotency_key == idempotency_key)).one()
        if posted.request_fingerprint != fingerprint(request):
            raise IdempotencyMismatch(idempotency_key) from None
        return Outcome(answer(posted), replayed=True, card=card)


# --- rule changes and expiry ----------------------------------------------------------------


def refresh_card(session: Session, card: Card) -> str | None:
    """Re-derive tier and expiry (after the program's rules changed); touches if visible."""
    before = _visible(card)
    direction = settle(session, card)
    if _visible(card) != before:
        touch(card)
    return direction


def refresh_program(session: Session, program: Program) -> int:
    """Apply changed tiers or expiry period to every card of a program; returns cards changed."""
    changed = 0
    session.flush()
    session.expire(program, ["tiers"])
    for card_id in session.scalars(select(Card.id).where(Card.program_id == program.id).order_by(Card.id)).all():
        card = lock_card(session, card_id)
        assert card is not None
        version = card.version
        refresh_card(session, card)
        changed += card.version != version
    return changed


def _expire_card(session: Session, card_id: int, now: dt.datetime) -> int:
    """Expire one card's overdue points; returns how many expired."""
    card = lock_card(session, card_id)
    if card is None or card.points_expire_at is None or card.points_expire_at > now:
        return 0  # another run got here first, or the card earned nothing new to expire
    days = card.program.points_expire_days
    expired = 0
    if days:
        cutoff = now - dt.timedelta(days=days)
        expired = min(card.balance, expirable_points(session, card.id, cutoff))
    if expired > 0:
        before = _visible(card)
        session.add(LedgerEntry(card_id=card.id, kind="expire", points=-expired, created_at=now,
                                reason=f"points earned on or before {cutoff:%Y-%m-%d} expired"))
        card.balance -= expired
        settle(session, card)
        if _visible(card) != before:
            touch(card)
    else:
        refresh_card(session, card)
    return expired


def expire_points(session: Session, now: dt.datetime) -> ExpiryRun:
    """The daily job: expire points older than their program's period, card by card.

    Only cards whose cached points_expire_at has passed are read (an indexed range), and
    each card is committed on its own so the job never holds many row locks at once.
    """
    run = ExpiryRun()
    last_id = 0
    while True:
        ids = session.scalars(select(Card.id).where(Card.points_expire_at <= now, Card.id > last_id)
                              .order_by(Card.id).limit(EXPIRY_BATCH)).all()
        if not ids:
            return run
        for card_id in ids:
            expired = _expire_card(session, card_id, now)
            session.commit()
            if expired:
                run.cards += 1
                run.points += expired
                run.card_ids.append(card_id)
        last_id = ids[-1]
