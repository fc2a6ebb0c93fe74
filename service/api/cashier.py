"""The till: a cashier scans a card (or types its short number) and sees what to do with it.

A program showing its brand's plastic-card numbers as the barcode (code128, ean13, pdf417, aztec)
has its cards found by that number too, as the POS scanner reads it (service/loyalty/legacy_numbers.py);
such a number is not signed, as the plastic card's never was (docs/brands/existing-cards.md).

Cashiers authenticate with their own token (disabled cashiers get 403) and only ever see
cards of their own brand, and the cards of partner programs their brand takes part in
(service/loyalty/partners.py: scanned codes only, shown without the holder). A code is trusted
only after its HMAC verifies with its brand's secret; each way a scan can fail has its own
problem type so the till can say why.
"""

from __future__ import annotations

import re
from functools import wraps
from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from passes.cardcode import CODE_PREFIX, decode_card_code, parse_short_number
from passes.errors import CardCodeError
from service.access.scopes import requires
from service.api.auth import require_cashier
from service.api.counter_view import counter_card_view
from service.api.loyalty_schemas import CashierCardOut, CashierMeOut, ScanIn
from service.loyalty import card_rows, partners
from service.loyalty.legacy_numbers import card_for_legacy_number
from service.models import Brand, Card, Program
from service.platform import db
from service.web.problems import Problem

blp = Blueprint("cashier", __name__, url_prefix="/api/v1/cashier", description="The till: scanning cards")

CASHIER_AUTH = [{"cashierToken": []}]
_TYPED = re.compile(r"[0-9\s-]+")  # a short number typed by hand: digits, spaces, dashes


class _ForeignBrand(Exception):
    """Raised from inside decode_card_code: the code names a brand other than the cashier's."""


def _verified_number(brand: Brand, code: str) -> tuple[Brand, int]:
    """The brand whose card the code names (the cashier's, or the host of a partner program the
    cashier's brand takes part in) and the card number, once the code's HMAC verified."""
    owner = brand

    def secret_for(brand_ref: str) -> bytes:
        nonlocal owner
        if brand_ref != brand.code_ref:
            host = partners.host_brand_for_code(db.session(), brand.id, brand_ref)
            if host is None:
                raise _ForeignBrand(brand_ref)
            owner = host
        return owner.code_secret

    try:
        number = decode_card_code(code, secret_for).card_number  # sets `owner` on the way
        return owner, number
    except _ForeignBrand:
        raise Problem(403, "Card of another brand",
                      f"This code belongs to a card of another brand, not {brand.name}.",
                      type_="/problems/foreign-card") from None
    except CardCodeError as error:
        raise _invalid(error) from None


def _typed_number(text: str) -> int:
    try:
        return parse_short_number(text)
    except CardCodeError as error:
        raise _invalid(error) from None


def _invalid(error: CardCodeError) -> Problem:
    return Problem(422, "Invalid card code", str(error), type_="/problems/invalid-card-code")


def card_for_code(brand: Brand, code: str) -> Card:
    """The brand's card a scanned code or typed short number names (a typed number: the brand's own
    cards only), or a card of a partner program the brand takes part in; problems otherwise."""
    text = code.strip()
    # A plastic card's number, as the brand's POS scanner reads it (programs with a legacy barcode
    # format only; never for a signed code, which no legacy number may look like). Own cards only.
    card = None if text.upper().startswith(CODE_PREFIX) else card_for_legacy_number(db.session(), brand.id, text)
    if card is not None:
        owner = brand
    else:
        owner, number = (brand, _typed_number(text)) if _TYPED.fullmatch(text) else _verified_number(brand, text)
        # what the till shows next comes in the same query (program, its tiers, the holder)
        lean = False
        if owner is brand:  # PostgreSQL: straight from the driver (service/loyalty/card_rows.py)
            lean, card = card_rows.scanned_card(db.session(), brand.id, number)
        if not lean:
            statement = select(Card).where(Card.brand_id == owner.id, Card.number == number)
            if owner is not brand:  # the host's card, in a program this brand takes part in: else another brand's
                statement = statement.where(Card.program_id.in_(partners.partner_program_ids(brand.id)))
            card = db.session().scalars(
                statement.options(joinedload(Card.program).joinedload(Program.tiers), joinedload(Card.customer))
            ).unique().first()
    if card is None and owner is not brand:
        raise Problem(403, "Card of another brand", f"This code belongs to a card of another brand, not {brand.name}.",
                      type_="/problems/foreign-card")
    if card is None:
        raise Problem(404, "Card not found", f"No card with this number in {brand.name}.",
                      type_="/problems/card-not-found")
    if card.voided:
        raise Problem(409, "Card voided", "This card has been voided; it cannot be used.",
                      type_="/problems/card-voided")
    return card


def _statement_by_statement(view: Any) -> Any:
    """The scan only reads (a partner card: plus one upsert): no transaction round trips (db.py)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        db.statement_by_statement()
        return view(*args, **kwargs)

    return wrapper


@blp.route("/scan", methods=["POST"])
@_statement_by_statement
@require_cashier
@requires("cashier")
@blp.arguments(ScanIn)
@blp.response(200, CashierCardOut, description="The card: holder, balance, tier, discount, recent transactions")
@blp.alt_response(403, description="Cashier disabled, or a card of another brand")
@blp.alt_response(404, description="No card with that number in this brand")
@blp.alt_response(409, description="The card is voided")
@blp.alt_response(422, description="Not a valid code: malformed, forged or altered, or a wrong check digit "
                                   "(and not the legacy number of a card of a program with a legacy barcode)")
@blp.doc(security=CASHIER_AUTH)
def scan(body: dict[str, Any]) -> Any:
    """Identify a card from what the scanner read (the signed code, or a plastic card's number in a
    program with a legacy barcode format), or from its short number typed by hand. A partner
    program's card of another brand answers without its holder (`customer` null, `partner_card` true)
    and opens the card to this brand by id (its transactions) for a while."""
    card = card_for_code(g.brand, body["code"])
    if card.brand_id == g.brand.id:
        return counter_card_view(card)
    partners.record_presentation(db.session(), card.id, g.brand.id)
    db.session().commit()
    return counter_card_view(card, partner_brand_id=g.brand.id)


@blp.route("/me", methods=["GET"])
@require_cashier
@requires("read")
@blp.response(200, CashierMeOut)
@blp.doc(security=CASHIER_AUTH)
def me() -> Any:
    """The calling cashier, the store they post for and their brand's programs (for the till page).
    A cashier of no store signed in on a till posts for the till's store."""
    cashier = g.cashier
    till = g.get("till")
    store = cashier.store if cashier.store_id is not None or till is None else till.store
    programs = db.session().scalars(select(Program).where(Program.brand_id == g.brand.id).order_by(Program.id))
    return {"id": cashier.id, "name": cashier.name, "brand": {"id": g.brand.id, "name": g.brand.name},
            "store": store, "programs": list(programs)}
