"""Schemas of the loyalty API: transactions, the ledger, the cashier's scan.

Money travels as strings with at most two decimals ("12.50"): JSON numbers are binary
floats, and 0.1 + 0.2 is not a price. Points are JSON integers only ("5" and 5.0 are
refused) and bounded, so a typo at the till cannot create a billion points.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.api.fields import Id
from service.api.schemas import HeldRewardOut, StampRewardOut
from service.loyalty.engine import TRANSACTION_TYPES, money_text
from service.loyalty.stamps import MAX_STAMPS_PER_TRANSACTION

MAX_POINTS = 10_000_000
MAX_AMOUNT = Decimal("1000000.00")
MIN_AMOUNT = Decimal("0.01")
_MONEY = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{1,2})?")
_MONEY_MAX_CHARS = 16


class Money(fields.String):
    """A positive amount of money as a string with at most two decimals; loads as Decimal."""

    default_error_messages = {
        "money_type": 'Send money as a string such as "12.50", not a number.',
        "money_format": 'Use digits with at most two decimals and no sign, such as "12.50".',
        "money_range": f"Must be between {MIN_AMOUNT} and {MAX_AMOUNT}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": f"^{_MONEY.pattern}$", "example": "12.50", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:  # type: ignore[override]
        if not isinstance(value, str):
            raise self.make_error("money_type")
        if not _MONEY.fullmatch(value):
            raise self.make_error("money_format")
        if len(value) > _MONEY_MAX_CHARS:  # refuse before Decimal() reads a page of digits
            raise self.make_error("money_range")
        amount = Decimal(value)
        if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
            raise self.make_error("money_range")
        return amount

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return money_text(Decimal(value)) if not isinstance(value, str) else value


def Points(**kwargs: Any) -> fields.Integer:  # noqa: N802 - reads like a field class at use sites
    """A strictly integral, positive, bounded number of points."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_POINTS), **kwargs)


_SHAPES: dict[str, tuple[set[str], set[str]]] = {
    # type: (fields it needs, fields it must not have)
    "earn": ({"points"}, {"amount"}),
    "purchase": ({"amount"}, {"points"}),
    "stamp": (set(), {"points", "amount"}),
}


class TransactionIn(Schema):
    type = fields.String(required=True, validate=validate.OneOf(TRANSACTION_TYPES),
                         metadata={"description": "earn | redeem | purchase | stamp (stamp-card programs)"})
    points = Points(load_default=None, metadata={"description": "earn, redeem: whole points, 1..10000000"})
    amount = Money(load_default=None, metadata={
        "description": "purchase: the amount paid; redeem (cashback programs only): money to take off"})
    stamps = fields.Integer(strict=True, load_default=None,
                            validate=validate.Range(min=1, max=MAX_STAMPS_PER_TRANSACTION), metadata={
                                "description": "stamp: how many stamps (default 1, one visit), before any happy "
                                               "hour multiplies them"})
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=300))
    store_id = Id(strict=True, load_default=None, metadata={
        "description": "Where it happened (brand API keys and console sessions; a store manager must name one of "
                       "their stores; a cashier's store is implied)"})

    @validates_schema
    def _shape(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Which of points / amount a type takes; redeem takes exactly one of them."""
        kind = data.get("type")
        present = {name for name in ("points", "amount") if data.get(name) is not None}
        if kind != "stamp" and data.get("stamps") is not None:
            raise ValidationError(f"Only stamp transactions take stamps; {kind} does not.", "stamps")
        if kind == "redeem":
            if len(present) != 1:
                raise ValidationError("Redeem takes either points or (cashback programs) amount.", "points")
            return
        needed, forbidden = _SHAPES.get(kind or "", (set(), set()))
        errors = {name: [f"Required for {kind}."] for name in needed - present}
        errors.update({name: [f"Not allowed for {kind}."] for name in forbidden & present})
        if errors:
            raise ValidationError(errors)


class TransactionOut(Schema):
    """Stored with the ledger entry and returned again, byte for byte, on a replay."""

    id = fields.Integer(metadata={"description": "The ledger entry"})
    card_id = fields.Integer()
    type = fields.String()
    points = fields.Integer(metadata={"description": "Signed change of the balance (redeem: negative)"})
    amount = fields.String(allow_none=True, metadata={"example": "12.50"})
    balance = fields.Integer(metadata={"description": "The new balance, in points", "example": 245})
    balance_money = fields.String(allow_none=True, metadata={
        "description": "Cashback programs: the balance as money (1 point = 0.01)", "example": "2.45"})
    currency = fields.String(metadata={"description": "ISO 4217 code of amount, balance_money and lifetime_spend "
                                                      "(the program's)", "example": "EUR"})
    lifetime_points = fields.Integer()
    lifetime_spend = fields.String(metadata={"example": "310.75"})
    tier = fields.String(allow_none=True)
    tier_change = fields.String(allow_none=True, metadata={"description": "up | down | null"})
    discount_percent = fields.String(allow_none=True, metadata={"description": "Discount programs"})
    points_expire_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    store_id = fields.Integer(allow_none=True)
    cashier_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    idempotency_key = fields.String()
    created_at = fields.String(metadata={"format": "date-time"})
    stamps = fields.Integer(allow_none=True, metadata={
        "description": "Stamp cards: the stamps on the current card after this (null for other kinds)", "example": 3})
    stamps_required = fields.Integer(allow_none=True, metadata={"example": 10})
    stamp_cards_completed = fields.Integer(allow_none=True, metadata={"description": "Cards filled so far"})
    stamps_earned = fields.Integer(metadata={"description": "Stamp cards: stamps this added (happy hour included)"})
    stamp_multiplier = fields.Integer(metadata={"description": "Stamp cards: the happy hour's multiplier (1: none)"})
    rewards_earned = fields.List(fields.Dict(), metadata={
        "description": "Stamp cards: rewards this reached, [{name, card_cycle, at, full_card}]"})


class ReversalIn(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=300), metadata={
        "description": "Why (kept in the ledger and the audit log)", "example": "Wrong card scanned"})


class ReversalOut(TransactionOut):
    """The reversal entry (type `reversal`, points: the negated points of the entry undone)."""

    reverses = fields.Integer(metadata={"description": "The ledger entry undone"})
    reversed_type = fields.String(metadata={"description": "Its type: earn | redeem | purchase | stamp"})
    reversed_entries = fields.List(fields.Integer(), metadata={
        "description": "Every entry this undid: the transaction, then the card_full entries it caused"})
    balance_change = fields.Integer(metadata={
        "description": "How the balance moved (stamp cards: a card un-filled puts its stamps back)"})
    referral_bonuses_reversed = fields.List(fields.Integer(), metadata={
        "description": "Only when the undone purchase was a referred card's first: the referral bonus entries "
                       "taken back with it (this card's and its referrer's)"})


class LedgerEntryOut(Schema):
    id = fields.Integer()
    type = fields.String(attribute="kind", metadata={
        "description": "issue | earn | redeem | purchase | expire | stamp | card_full | reversal | reward_buy "
                       "| reward_grant | reward_redeem"})
    reverses = fields.Integer(attribute="reversed_entry_id", allow_none=True, metadata={
        "description": "A reversal: the entry it undid"})
    points = fields.Integer(metadata={"description": "Signed change of the balance"})
    amount = Money(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    cashier_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    idempotency_key = fields.String(allow_none=True)
    created_at = fields.DateTime()


class LedgerQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ScanIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "What the scanner read (the QR message, or a plastic card's number in a program with a "
                       "legacy barcode_format), or the short number typed by hand",
        "example": "PC1:DEMO1A2B:123456789:EX2FV6X4YBOJYTJR",
        # Keyboard-wedge scanners end what they read with a tab or a line break: allowed, then stripped.
        "free_text": True})


class HolderOut(Schema):
    """A cashier sees the holder's name, not their email or phone."""

    id = fields.Integer()
    name = fields.String()


class ProgramSummaryOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    currency = fields.String()
    undo_window_minutes = fields.Integer(metadata={
        "description": "How long the cashier may undo their own transaction (POST /transactions/{id}/reverse)"})


class RewardOfferOut(Schema):
    id = fields.Integer(metadata={"description": "The catalogue reward (POST /api/v1/cards/{id}/rewards buys it)"})
    name = fields.String(metadata={"example": "Free coffee"})
    cost_points = fields.Integer(metadata={"example": 150})
    affordable = fields.Boolean(metadata={"description": "The card's balance reaches the cost"})


class CashierCardOut(Schema):
    """The counter view (service/api/counter_view.py): who, how much, which tier, what discount,
    lately what. No contact details, birthday, barcode or pass links: a cashier has no use for them."""

    id = fields.Integer(metadata={"example": 42})
    program_id = fields.Integer()
    number = fields.String(metadata={"description": "Short number printed under the QR code",
                                     "example": "1234 5678 90"})
    customer = fields.Nested(HolderOut, allow_none=True, metadata={
        "description": "The holder; null on a partner program's card of another brand (its customer, not yours)"})
    partner_card = fields.Boolean(metadata={
        "description": "true: a card of a partner program hosted by another brand (balance and program only)"})
    balance = fields.Integer(metadata={"example": 120})
    lifetime_points = fields.Integer()
    tier = fields.String(allow_none=True)
    voided = fields.Boolean()
    version = fields.Integer()
    updated_at = fields.DateTime()
    created_at = fields.DateTime()
    program = fields.Nested(ProgramSummaryOut)
    balance_money = fields.String(allow_none=True)
    lifetime_spend = fields.String()
    discount_percent = fields.String(allow_none=True)
    points_expire_at = fields.DateTime(allow_none=True)
    recent_transactions = fields.List(fields.Nested(LedgerEntryOut))
    stamps = fields.Integer(allow_none=True, metadata={
        "description": "Stamp cards: stamps filled on the current card (null for other kinds)", "example": 3})
    stamps_required = fields.Integer(allow_none=True, metadata={"description": "Stamp cards: stamps that fill a card",
                                                                "example": 10})
    stamp_cards_completed = fields.Integer(allow_none=True, metadata={"description": "Stamp cards: cards filled"})
    stamp_rewards = fields.List(fields.Nested(StampRewardOut), allow_none=True, metadata={
        "description": "Stamp cards: rewards earned (newest first, at most 20)"})
    rewards = fields.List(fields.Nested(HeldRewardOut), metadata={
        "description": "What the customer can redeem now (POST /api/v1/cards/{id}/rewards/{reward}/redeem)"})
    rewards_for_points = fields.List(fields.Nested(RewardOfferOut), allow_none=True, metadata={
        "description": "Points and cashback cards: the catalogue rewards sold for points, cheapest first"})


class StoreSummaryOut(Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()


class CashierMeOut(Schema):
    id = fields.Integer()
    name = fields.String()
    brand = fields.Dict()
    store = fields.Nested(StoreSummaryOut, allow_none=True)
    programs = fields.List(fields.Nested(ProgramSummaryOut))
