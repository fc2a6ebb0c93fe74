"""Cards: issue one for a customer, look it up."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify
from flask_smorest import Blueprint

from passes.barcodes import LegacyNumberError
from service.access.scopes import requires
from service.api.auth import require_brand, require_brand_or_cashier
from service.api.counter_view import card_state, counter_card_view
from service.api.loyalty_schemas import CashierCardOut
from service.api.schemas import CardIssueIn, CardOut
from service.api.tenancy import brand_row, brand_row_field, own_row
from service.google_wallet.sync import card_google_view
from service.journeys import challenges
from service.loyalty import legacy_numbers, partners
from service.loyalty.cards import CustomerDetails, apple_pass_url, card_barcode, issue_card, touch
from service.models import Card, Program, Store
from service.platform import db
from service.web.problems import Problem, validation_problem
from service.webhooks import events as webhooks

blp = Blueprint("cards", __name__, url_prefix="/api/v1", description="Loyalty cards")


def card_view(card: Card, *, ensure_google: bool = False) -> dict[str, Any]:
    """The brand's full view of a card (cashiers get service/api/counter_view.py instead).
    `ensure_google`: insert the card's Google Wallet object now if Google lacks it (issue, GET)."""
    brand = card.program.brand
    settings = current_app.config["PASSCAST"]
    wallet = card_google_view(db.session(), settings, card, ensure=ensure_google)
    barcode = card_barcode(card, brand)
    return {
        **card_state(card),
        "serial_number": card.serial_number,
        "customer": card.customer,
        "barcode_message": barcode.message,
        "barcode_format": barcode.symbology.name,
        "legacy_number": card.legacy_number,
        "apple_pass_url": apple_pass_url(card, brand, settings.public_base_url),
        "google_save_url": wallet["save_url"] if wallet is not None else None,
        "google_wallet": wallet,
        "challenges": challenges.card_view(db.session(), card),
    }


def _legacy_number(program: Program, text: str | None) -> str | None:
    """The plastic card's number as the card will keep it; 422 naming the rule it breaks."""
    if text is None:
        return None
    try:
        return legacy_numbers.checked_number(program, text)
    except LegacyNumberError as error:
        raise validation_problem([{"field": "legacy_number", "message": str(error)}]) from None


def brand_program(program_id: int) -> Program:
    return brand_row(Program, program_id, "program")


def brand_card(card_id: int) -> Card:
    return brand_row(Card, card_id, "card")


def counter_card(card_id: int) -> tuple[Card, int | None]:
    """The brand's card, or a partner program's card its counter just scanned (service/loyalty/partners.py);
    with the partner brand's id for the latter (None for an own card). 404 otherwise, as for a missing card."""
    card = own_row(Card, card_id)
    if card is not None:
        return card, None
    card = partners.partner_card(db.session(), card_id, g.brand.id)
    if card is None:
        raise Problem(404, "Card not found", f"No card {card_id} in your brand.")
    return card, g.brand.id


@blp.route("/programs/<int:program_id>/cards", methods=["POST"])
@require_brand
@requires("members")
@blp.arguments(CardIssueIn)
@blp.response(201, CardOut, description="The new card")
@blp.alt_response(200, schema=CardOut, description="A card already existed for this email or phone")
@blp.alt_response(409, description="legacy_number is another card's, or the existing card has another one")
def issue(body: dict[str, Any], program_id: int) -> Any:
    """Issue a card (creates the customer). Same email or phone in this program: the existing card.
    `legacy_number`: the customer's plastic card number, which the pass shows as its barcode in a
    program with a legacy barcode_format (docs/brands/existing-cards.md)."""
    session = db.session()
    program = brand_program(program_id)
    details = CustomerDetails(**body["customer"])
    if details.home_store_id is not None:
        brand_row_field(Store, details.home_store_id, "customer.home_store_id", "store")
    legacy = _legacy_number(program, body.get("legacy_number"))
    try:
        card, created = issue_card(session, program, details, legacy_number=legacy)
    except legacy_numbers.LegacyNumberTaken as taken:
        raise Problem(409, "Card number taken", f"{str(taken).capitalize()}.",
                      type_="/problems/legacy-number-taken") from None
    if legacy is not None and card.legacy_number != legacy:
        if card.legacy_number is not None and not legacy_numbers.is_generated(card.number, card.legacy_number):
            raise Problem(409, "Card has another number", f"This customer's card already has the number "
                          f"{card.legacy_number!r}, not {legacy!r}.", type_="/problems/legacy-number-conflict")
        try:
            legacy_numbers.assign(session, card, legacy)
        except legacy_numbers.LegacyNumberTaken as taken:
            raise Problem(409, "Card number taken", f"{str(taken).capitalize()}.",
                          type_="/problems/legacy-number-taken") from None
        if not created:
            touch(card)  # the pass of an existing card now shows the number
    if created:
        webhooks.emit(session, program.brand_id, "card.issued", webhooks.card_data(card))
    session.commit()
    return card_view(card, ensure_google=True), 201 if created else 200


@blp.route("/cards/<int:card_id>", methods=["GET"])
@require_brand_or_cashier
@requires("read")
@blp.response(200, CardOut)
@blp.doc(security=[{"apiKey": []}, {"cashierToken": []}])
def get_card(card_id: int) -> Any:
    """A card with its balance, tier and links. A cashier token (or PIN session) gets the counter
    view instead, the scan's answer (`CashierCardOut`): the holder's name, no contact details or links.
    A partner program's card of another brand, just scanned at your counter, answers that view too,
    without the holder."""
    card, partner_brand_id = counter_card(card_id)
    if g.cashier is not None or partner_brand_id is not None:
        return jsonify(CashierCardOut().dump(counter_card_view(card, partner_brand_id=partner_brand_id)))
    return card_view(card, ensure_google=True)
