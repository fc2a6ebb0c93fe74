"""Transactions on a card (earn, redeem, purchase, stamp), their reversal (undo), and its ledger.

Every POST needs an Idempotency-Key: tills retry on flaky networks, and a retried
purchase must not earn twice. The same key with the same body answers the first answer
again (201, header `Idempotent-Replayed: true`); with another body, 422.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from flask import Response, g, jsonify, request
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from service import audit
from service.access.scopes import requires
from service.access.store_scope import check_store
from service.api.auth import require_brand_or_cashier
from service.api.cards import counter_card
from service.api.counter_view import recent_entries
from service.api.loyalty_schemas import (
    LedgerEntryOut,
    LedgerQuery,
    ReversalIn,
    ReversalOut,
    TransactionIn,
    TransactionOut,
)
from service.api.tenancy import brand_row_field
from service.loyalty import limits as till_limits
from service.loyalty import partners, reversal
from service.loyalty.engine import (
    Actor,
    CardNotFound,
    CardVoided,
    IdempotencyMismatch,
    InsufficientBalance,
    LimitReached,
    LoyaltyError,
    NotApplicable,
    Outcome,
    ReversalRefused,
    TransactionRequest,
    post_transaction,
)
from service.models import Card, LedgerEntry, Store, utcnow
from service.platform import db
from service.web.problems import Problem, validation_problem
from service.webhooks import events as webhooks

blp = Blueprint("transactions", __name__, url_prefix="/api/v1", description="Loyalty transactions and the ledger")

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x20-\x7e]{1,200}")  # printable ASCII, what fits LedgerEntry.idempotency_key
BOTH_AUTH = [{"apiKey": []}, {"cashierToken": []}]
_KEY_PARAMETER = {
    "in": "header", "name": IDEMPOTENCY_HEADER, "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "Unique per intended transaction on this card (a UUID is fine). Retrying with the "
                   "same key and body returns the first answer and changes nothing.",
}


def idempotency_key() -> str:
    """The request's key; missing or malformed is a 400 (the IETF draft's answer)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None or not key.strip():
        raise Problem(400, "Idempotency-Key required",
                      "Send an Idempotency-Key header (e.g. a UUID) with every transaction.",
                      type_="/problems/idempotency-key-missing")
    if not _KEY.fullmatch(key):
        raise Problem(400, "Invalid Idempotency-Key", "Use 1-200 printable ASCII characters.",
                      type_="/problems/idempotency-key-invalid")
    return key


def _actor(store_id: int | None) -> Actor:
    """Cashiers post for their own store (a brand-wide cashier signed in on a till: the till's);
    a brand may name one of its stores; a store manager's console session, one of theirs
    (service/access/store_scope.py)."""
    cashier = g.cashier
    if cashier is not None:
        till = g.get("till")  # signed in by PIN on a paired till: a cashier of no store is at its store
        own_store = cashier.store_id if cashier.store_id is not None or till is None else till.store_id
        if store_id is not None and store_id != own_store:
            raise validation_problem([{"field": "store_id", "message": "A cashier posts for their own store."}])
        return Actor(cashier_id=cashier.id, store_id=own_store)
    if store_id is not None:
        brand_row_field(Store, store_id, "store_id", "store")
    check_store(store_id)  # a store manager's console session posts for one of their stores only
    return Actor(store_id=store_id)


def _audit_adjustment(session: Session, response: dict[str, Any]) -> None:
    """Points given or taken by hand (earn or redeem through the brand API, not at the counter and not a
    purchase, which the program's rules price) are a points adjustment: the audit log keeps them."""
    if g.cashier is not None or response["type"] not in ("earn", "redeem"):
        return
    audit.record(session, g.brand.id, "card.points_adjusted", "card", response["card_id"], {
        "balance": {"before": response["balance"] - response["points"], "after": response["balance"]},
        "type": response["type"], "points": response["points"], "amount": response["amount"],
        "reason": response["reason"], "ledger_entry_id": response["id"]})


def _check_adjustment(body: dict[str, Any]) -> None:
    """Without `cashier`, only a points adjustment with its reason (a purchase is the counter's)."""
    if "cashier" in g.get("permissions", frozenset()):
        return
    if body["type"] not in ("earn", "redeem") or body.get("points") is None:
        raise Problem(403, "Permission missing",
                      "Purchases and money redemptions need the `cashier` permission (scanning cards and counter "
                      "transactions); with `members` you may adjust points (earn or redeem points, with a reason).",
                      type_="/problems/permission-missing", permission="cashier", scope=g.get("scope"))
    if not (body.get("reason") or "").strip():
        raise validation_problem([{"field": "reason", "message": "Say why the points are adjusted."}])


#: The problem type of each limit (service/loyalty/limits.py) and its status: a transaction too large
#: is wrong as sent (422); the other two would pass later (409, with next_allowed_at).
LIMIT_PROBLEMS: dict[str, tuple[int, str, str]] = {
    "once_per_hours": (409, "Too soon for this card", "/problems/limit/once-per-hours"),
    "daily_cap": (409, "Daily limit reached", "/problems/limit/daily-cap"),
    "per_transaction_cap": (422, "Too much in one transaction", "/problems/limit/per-transaction-cap"),
}


def _problem(error: LoyaltyError) -> Problem:
    if isinstance(error, LimitReached):
        status, title, type_ = LIMIT_PROBLEMS[error.refusal.rule]
        return Problem(status, title, str(error), type_=type_, **error.refusal.as_json())
    if isinstance(error, ReversalRefused):
        titles = {404: "Transaction not found", 403: "Undo not allowed", 422: "Cannot be reversed"}
        return Problem(error.status, titles.get(error.status, "Reversal refused"), str(error),
                       type_=f"/problems/{error.code}", **error.details)
    if isinstance(error, CardNotFound):
        return Problem(404, "Card not found", str(error))
    if isinstance(error, InsufficientBalance):
        return Problem(409, "Insufficient balance", str(error), type_="/problems/insufficient-balance",
                       balance=error.balance, requested=error.requested)
    if isinstance(error, CardVoided):
        return Problem(409, "Card voided", str(error), type_="/problems/card-voided")
    if isinstance(error, IdempotencyMismatch):
        return Problem(422, "Idempotency-Key reused", str(error), type_="/problems/idempotency-key-reused")
    if isinstance(error, NotApplicable):
        return validation_problem([{"field": error.field, "message": str(error)}])
    return Problem(422, "Transaction refused", str(error))


def _post_as_partner(session: Session, card_id: int, request: TransactionRequest, key: str, actor: Actor,
                     not_found: CardNotFound, limits: bool) -> Outcome:
    """Not the brand's card: a partner program's card its counter just scanned may take the transaction,
    posted in the partner's name (service/loyalty/partners.py), with the `cashier` permission only
    (a partner adjusts nobody's points); anything else is the same 404."""
    card = partners.partner_card(session, card_id, g.brand.id)
    if card is None or "cashier" not in g.get("permissions", frozenset()):
        raise _problem(not_found) from None
    if partners.key_used_by_another(session, card_id, key, g.brand.id):
        raise _problem(IdempotencyMismatch(key)) from None
    return post_transaction(session, card_id, request, key, brand_id=card.brand_id, limits=limits,
                            actor=dataclasses.replace(actor, partner_brand_id=g.brand.id))


@blp.route("/cards/<int:card_id>/transactions", methods=["POST"])
@require_brand_or_cashier
@requires("cashier", also="members")
@blp.arguments(TransactionIn)
@blp.response(201, TransactionOut, description="Applied (or, with Idempotent-Replayed: true, applied before)")
@blp.alt_response(400, description="Idempotency-Key missing or malformed")
@blp.alt_response(404, description="No such card in your brand")
@blp.alt_response(409, description="Insufficient balance (nothing redeemed), or the card is voided")
@blp.alt_response(422, description="Invalid body, or the Idempotency-Key was used with another body")
@blp.doc(parameters=[_KEY_PARAMETER], security=BOTH_AUTH)
def post(body: dict[str, Any], card_id: int) -> Response:
    """Earn or redeem points, or record a purchase (which earns by the program's rules).

    `cashier` posts any transaction; `members` (a marketer's console, no counter) posts points
    adjustments only: earn or redeem of points, with a `reason` the audit log keeps."""
    _check_adjustment(body)
    key = idempotency_key()
    actor = _actor(body.get("store_id"))
    session = db.session()
    # a brand's own points adjustment (earn by key or console, audited) is not the till's: no limits
    limited = g.cashier is not None or body["type"] != "earn"
    try:
        # locks the card and checks it is the brand's in one query (a 404 otherwise)
        outcome = post_transaction(session, card_id, TransactionRequest(**body), key, actor=actor,
                                   brand_id=g.brand.id, limits=limited)
    except CardNotFound as error:
        session.rollback()
        try:
            # a partner's every transaction meets the host's limits: its "adjustment" is not the host's own
            outcome = _post_as_partner(session, card_id, TransactionRequest(**body), key, actor, error, True)
        except LoyaltyError as partner_error:
            session.rollback()
            if isinstance(partner_error, LimitReached):
                _count_refusal(session, partner_error)
            raise _problem(partner_error) from None
    except LoyaltyError as error:
        session.rollback()
        if isinstance(error, LimitReached):
            _count_refusal(session, error)
        raise _problem(error) from None
    if not outcome.replayed:
        if outcome.card is not None and outcome.card.brand_id != g.brand.id:  # the host hears of it too
            webhooks.emit(session, outcome.card.brand_id, "transaction.created", outcome.response)
        webhooks.emit(session, g.brand.id, "transaction.created", outcome.response)
        _audit_adjustment(session, outcome.response)
        from service.loyalty import referrals  # referral bonuses at a referred card's first purchase

        referrals.after_purchase(session, card_id, outcome.response)  # finds outcome.card in the session
    session.commit()
    response = jsonify(outcome.response)
    response.status_code = 201
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _count_refusal(session: Session, error: LimitReached) -> None:
    """Keep the refusal for the counts (its own transaction: the refused one was rolled back)."""
    till_limits.record_refusal(session, error.where, error.refusal, utcnow())
    session.commit()


def _may_reverse(entry: LedgerEntry, card: Card) -> None:
    """Who may undo what: a cashier their own transaction within the program's undo window; a store
    manager's console session the transactions of their stores (not those of no store: brand-wide is
    for the unlimited roles); other roles with `cashier` or `members`, and brand API keys, any
    transaction of the brand, at any time."""
    cashier = g.cashier
    if cashier is not None:
        if entry.cashier_id != cashier.id:
            raise ReversalRefused("reversal-not-yours", "A cashier can undo only their own transactions; "
                                  "ask a store manager to reverse this one.", status=403)
        window = card.program.undo_window_minutes
        deadline = entry.created_at + dt.timedelta(minutes=window)
        if utcnow() > deadline:
            raise ReversalRefused("reversal-window-closed",
                                  f"The undo window of {window} minutes for this transaction closed at "
                                  f"{deadline:%H:%M} UTC; a store manager can still reverse it from the console.",
                                  status=403, undo_until=deadline.isoformat())
        return
    check_store(entry.store_id)  # a store manager: only their stores' transactions


@blp.route("/transactions/<int:entry_id>/reverse", methods=["POST"])
@require_brand_or_cashier
@requires("cashier", also="members")
@blp.arguments(ReversalIn)
@blp.response(201, ReversalOut, description="Reversed (or, with Idempotent-Replayed: true, reversed before)")
@blp.alt_response(400, description="Idempotency-Key missing or malformed")
@blp.alt_response(403, description="A cashier's transaction of someone else or past the undo window; a store "
                                   "manager's of another store")
@blp.alt_response(404, description="No such transaction in your brand")
@blp.alt_response(409, description="Already reversed; the points were spent since; later stamps depend on it; "
                                   "a reward it earned was redeemed since; a referral bonus it brought was "
                                   "spent since; the card is voided")
@blp.alt_response(422, description="This kind of entry cannot be reversed, or the key was used with another body")
@blp.doc(parameters=[_KEY_PARAMETER], security=BOTH_AUTH)
def reverse(body: dict[str, Any], entry_id: int) -> Response:
    """Undo a transaction (earn, redeem, purchase, stamp) with a `reversal` ledger entry.

    Puts back exactly what it changed (balance, lifetime figures, stamps and filled cards) and
    updates the pass; the audit log keeps it. A cashier may undo their own transaction within the
    program's `undo_window_minutes`; a store manager (console) those of their stores, the owner
    and brand API keys any, at any time."""
    key = idempotency_key()
    session = db.session()
    actor = Actor(cashier_id=g.cashier.id, store_id=None) if g.cashier is not None else Actor()
    try:
        outcome = reversal.reverse(session, entry_id, key, brand_id=g.brand.id, reason=body.get("reason"),
                                   actor=actor, authorize=_may_reverse)
    except LoyaltyError as error:
        session.rollback()
        raise _problem(error) from None
    response_body = outcome.response
    if not outcome.replayed:
        audit.record(session, g.brand.id, "transaction.reversed", "card", response_body["card_id"], {
            "ledger_entry_id": response_body["reverses"], "reversal_id": response_body["id"],
            "type": response_body["reversed_type"], "points": response_body["points"],
            "balance": {"before": response_body["balance"] - response_body["balance_change"],
                        "after": response_body["balance"]},
            "reversed_entries": response_body["reversed_entries"], "reason": response_body["reason"]})
        webhooks.emit(session, g.brand.id, "transaction.created", response_body)
    session.commit()
    response = jsonify(response_body)
    response.status_code = 201
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blp.route("/cards/<int:card_id>/transactions", methods=["GET"])
@require_brand_or_cashier
@requires("read")
@blp.arguments(LedgerQuery, location="query")
@blp.response(200, LedgerEntryOut(many=True))
@blp.doc(security=BOTH_AUTH)
def ledger(query: dict[str, Any], card_id: int) -> Any:
    """The card's ledger, newest first: every change of its balance. On a partner program's card of
    another brand (just scanned at your counter): only the entries your brand posted."""
    card, partner_brand_id = counter_card(card_id)
    return recent_entries(card.id, query["limit"], partner_brand_id=partner_brand_id)
