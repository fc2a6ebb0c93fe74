"""Managing a brand's cards: find them (by serial, phone, email, name, program, tier), edit the
holder's details, void a card. Every change that shows on the pass goes through `cards.touch`,
so phones holding the card get the new version."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import Select, func, or_, select

from passes.barcodes import LegacyNumberError
from passes.cardcode import CardCodeError, parse_short_number
from service import audit
from service.access.scopes import requires
from service.api.auth import require_brand
from service.api.brand_schemas import PROBLEM, CardPatch, CardQuery, ProblemOut, VoidIn
from service.api.cards import brand_card, card_view
from service.api.pagination import LINK_HEADER, page
from service.api.schemas import CardOut
from service.api.tenancy import brand_row_field
from service.loyalty import legacy_numbers
from service.loyalty.cards import touch
from service.models import Card, Customer, LedgerEntry, Store
from service.platform import db
from service.web.problems import Problem, validation_problem
from service.webhooks import events as webhooks

blp = Blueprint("card-management", __name__, url_prefix="/api/v1", description="Finding, editing and voiding cards")

_NOT_FOUND = "No such card in your brand"


@blp.route("/cards", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(CardQuery, location="query")
@blp.response(200, CardOut(many=True), headers=LINK_HEADER)
def find_cards(query: dict[str, Any]) -> Any:
    """The brand's cards, newest first, filtered by any of the parameters (all must match); `q` is the
    console's search box: one text matched against name, e-mail, phone, card number and serial."""
    return [card_view(card) for card in page(card_search(g.brand.id, query), Card.id, query)]


def _card_number(text: str) -> int | None:
    """The card number behind a typed one (printed with its check digit), or None if it is not one."""
    try:
        return parse_short_number(text.strip())
    except CardCodeError:
        return None


def card_search(brand_id: int, query: dict[str, Any]) -> Select[Any]:
    """The statement behind GET /cards (the console's members list runs the same one)."""
    statement = select(Card).join(Customer, Customer.id == Card.customer_id).where(Card.brand_id == brand_id)
    if query.get("q") and query["q"].strip():
        text = query["q"].strip()
        matches = [func.lower(Customer.name).contains(text.lower(), autoescape=True),
                   Customer.email == text.lower(), Customer.phone == text, Card.serial_number == text,
                   Card.legacy_number == text]
        number = _card_number(text)
        if number is not None:
            matches.append(Card.number == number)
        statement = statement.where(or_(*matches))
    if query.get("number"):
        number = _card_number(query["number"])
        if number is None:
            raise validation_problem([{"field": "number", "message": "Not a card number (digits with the check "
                                                                     "digit, as printed on the card)."}])
        statement = statement.where(Card.number == number)
    if query.get("serial_number"):
        statement = statement.where(Card.serial_number == query["serial_number"])
    if query.get("email"):
        statement = statement.where(Customer.email == query["email"].strip().lower())
    if query.get("phone"):
        statement = statement.where(Customer.phone == query["phone"].strip())
    if query.get("name"):
        statement = statement.where(func.lower(Customer.name).contains(query["name"].lower(), autoescape=True))
    if query.get("program_id") is not None:
        statement = statement.where(Card.program_id == query["program_id"])
    if query.get("tier"):
        statement = statement.where(Card.tier == query["tier"])
    if query.get("voided") is not None:
        statement = statement.where(Card.voided.is_(query["voided"]))
    return statement


def _check_unique(card: Card, body: dict[str, Any]) -> None:
    """Email and phone find a customer's card in a program (issuing dedupes on them): keep them unique."""
    session = db.session()
    for field in ("email", "phone"):
        value = body.get(field)
        if value is None:
            continue
        taken = session.scalar(select(Card.id).join(Customer, Customer.id == Card.customer_id).where(
            Card.program_id == card.program_id, Card.id != card.id, getattr(Customer, field) == value).limit(1))
        if taken is not None:
            raise Problem(409, f"{field.capitalize()} in use",
                          f"Another card of this program belongs to that {field}.", type_="/problems/holder-conflict")


@blp.route("/cards/<int:card_id>", methods=["PATCH"])
@require_brand
@requires("members")
@blp.arguments(CardPatch, example={"name": "Anna de Vries", "email": "anna@example.com", "birthday": "1990-04-01"})
@blp.response(200, CardOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND)
@blp.alt_response(409, schema=ProblemOut, content_type=PROBLEM,
                  description="Another card of the program has that email or phone, or another card of the "
                              "brand that legacy_number")
def patch_card(body: dict[str, Any], card_id: int) -> Any:
    """Change the holder's name, email, phone, birthday, language or home store, or the card's plastic
    number (`legacy_number`); the pass is updated."""
    card = brand_card(card_id)
    session = db.session()
    number_changed = "legacy_number" in body and _set_legacy_number(card, body.pop("legacy_number"))
    if body.get("email"):
        body["email"] = body["email"].lower()
    if body.get("name") is None:
        body.pop("name", None)
    if body.get("language") is None:
        body.pop("language", None)
    if body.get("home_store_id") is not None:
        brand_row_field(Store, body["home_store_id"], "home_store_id", "store")
    _check_unique(card, body)
    customer = card.customer
    changed = {key: value for key, value in body.items() if getattr(customer, key) != value}
    for key, value in changed.items():
        setattr(customer, key, value)
    if changed:
        # The holder may have cards in other programs of the brand: all of them show the change.
        for holder_card in session.scalars(select(Card).where(Card.customer_id == customer.id)):
            touch(holder_card)
    if number_changed and not changed:
        touch(card)  # the pass shows the number (as its barcode in a legacy-format program)
    if changed or number_changed:
        names = sorted([*changed, *(["legacy_number"] if number_changed else [])])
        webhooks.emit(session, g.brand.id, "card.updated", webhooks.card_data(card, changed=names))
    session.commit()
    return card_view(card)


def _set_legacy_number(card: Card, text: str | None) -> bool:
    """Give the card its plastic number (None: remove it); whether it changed. 422 for a number the
    program's barcode format cannot carry, 409 for another card's; the change is audited."""
    try:
        number = None if text is None else legacy_numbers.checked_number(card.program, text)
        if number == card.legacy_number:
            return False
        before = card.legacy_number
        if number is None:
            card.legacy_number = None
        else:
            legacy_numbers.assign(db.session(), card, number)
    except LegacyNumberError as error:
        raise validation_problem([{"field": "legacy_number", "message": str(error)}]) from None
    except legacy_numbers.LegacyNumberTaken as taken:
        raise Problem(409, "Card number taken", f"{str(taken).capitalize()}.",
                      type_="/problems/legacy-number-taken") from None
    audit.record(db.session(), g.brand.id, "card.updated", "card", card.id,
                 {"legacy_number": {"before": before, "after": number}})
    return True


@blp.route("/cards/<int:card_id>/void", methods=["POST"])
@require_brand
@requires("members")
@blp.arguments(VoidIn, example={"reason": "Customer asked to close the account"})
@blp.response(200, CardOut)
@blp.alt_response(404, schema=ProblemOut, content_type=PROBLEM, description=_NOT_FOUND)
def void_card(body: dict[str, Any], card_id: int) -> Any:
    """Void a card: it takes no more transactions, and the pass shows it as voided. Idempotent."""
    card = brand_card(card_id)
    session = db.session()
    if not card.voided:
        card.voided = True
        audit.record(session, g.brand.id, "card.voided", "card", card.id,
                     {"voided": {"before": False, "after": True}, "number": card.number,
                      "balance": card.balance, "reason": body.get("reason")})
        session.add(LedgerEntry(card_id=card.id, kind="adjust", points=0,
                                reason=("voided: " + body["reason"]) if body.get("reason") else "voided"))
        touch(card)
        webhooks.emit(session, g.brand.id, "card.voided", webhooks.card_data(card, reason=body.get("reason")))
        session.commit()
    return card_view(card)
