"""What a program's join page asks and gives: its fields, its consent sentence, its welcome bonus.

Stored on the program (Program.join_fields, consent_text, welcome_points; set through
PATCH /api/v1/programs/{id}/enrolment). A program that never set them keeps the page it always
had: phone, email and birthday optional (one of phone or email needed), the built-in consent
sentence, no bonus.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from service.loyalty.engine import LoyaltyError, TransactionRequest, post_transaction
from service.models import Card, Program
from service.webhooks import events as webhooks

log = logging.getLogger(__name__)

#: The fields a brand may ask for besides the name (always asked), in the page's order.
FIELDS = ("phone", "email", "birthday")
STATES = ("required", "optional", "off")
DEFAULT_FIELDS: dict[str, str] = {"phone": "optional", "email": "optional", "birthday": "optional"}
CONSENT_LIMIT = 500


def fields_of(program: Program) -> dict[str, str]:
    """Each field's state: "required", "optional" or "off"."""
    stored = program.join_fields or {}
    return {name: stored.get(name) if stored.get(name) in STATES else DEFAULT_FIELDS[name] for name in FIELDS}


def fields_problem(fields: dict[str, str]) -> str | None:
    """Why these fields cannot make a join page (a card needs a phone or an email), or None."""
    if fields.get("phone") == "off" and fields.get("email") == "off":
        return "Ask for a phone or an email (or both): a card needs a way to reach its holder."
    return None


def consent_of(program: Program, language: str) -> str | None:
    """The brand's own consent sentence in `language`, or None for the built-in one."""
    text = (program.consent_text or {}).get(language)
    return text.strip() if isinstance(text, str) and text.strip() else None


def give_welcome_bonus(session: Session, card: Card) -> bool:
    """Post the program's welcome points to a card that just joined (once: the idempotency key
    is the card's); the caller commits. Only a points program: a cashback balance is money (points
    would be cents) and a discount card has no balance."""
    points = card.program.welcome_points or 0
    if points <= 0 or card.program.kind != "points":
        return False
    try:
        outcome = post_transaction(session, card.id, TransactionRequest(
            type="earn", points=points, reason="welcome bonus: joined through the join page"), f"welcome:{card.id}")
    except LoyaltyError as error:
        log.info("welcome bonus for card %s not posted: %s", card.id, error)
        return False
    if not outcome.replayed:
        webhooks.emit(session, card.brand_id, "transaction.created", outcome.response)
    return not outcome.replayed


def settings_view(program: Program) -> dict[str, Any]:
    return {"fields": fields_of(program), "consent_text": dict(program.consent_text or {}),
            "welcome_points": program.welcome_points or 0}
