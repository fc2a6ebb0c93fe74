"""A customer's rights over their data (GDPR articles 15, 20 and 17): a copy of everything we hold
about them, and erasure.

Erasure removes what identifies the person and keeps what the brand's books need: the ledger's
rows stay, with their points and amounts, so every balance, every analytics figure and every
campaign report still adds up; the customer row stays as an anonymous placeholder (no name,
e-mail, phone or birthday) so the ledger's cards still belong to someone; the cards are voided,
their push tokens and registrations deleted, and the signed pass (which prints the name) thrown
away. The Google Wallet object is not deleted (Google keeps objects; we cannot), but the card's
new version (voided, no name) is pushed to it by the normal sync. No new table or column is
needed: an erased customer is one with an empty name and no contact, and the audit log keeps
the `customer.erased` entry (with counts, never the erased values).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.loyalty.cards import display_number, touch
from service.models import (
    Card,
    CardRecovery,
    Customer,
    DeviceLog,
    GoogleWalletEvent,
    HeldReward,
    LedgerEntry,
    NpsAnswer,
    PassFile,
    PassPersonalization,
    ProductSubscription,
    PushDelivery,
    Registration,
    utcnow,
)

ERASED_REASON = "customer erased"


def _plain(value: Any) -> Any:
    """JSON-ready: dates as ISO 8601, money as strings."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _row(row: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    return {column: _plain(getattr(row, column)) for column in columns}


def customer_cards(session: Session, customer: Customer) -> list[Card]:
    return list(session.scalars(select(Card).where(Card.customer_id == customer.id).order_by(Card.id)))


def is_erased(customer: Customer) -> bool:
    """Erased: the anonymous placeholder erase() leaves (no name, no contact)."""
    return not customer.name.strip() and customer.email is None and customer.phone is None and customer.birthday is None


def export(session: Session, customer: Customer) -> dict[str, Any]:
    """Everything we hold about `customer`, as one JSON-ready document."""
    cards = customer_cards(session, customer)
    ids = [card.id for card in cards]
    by_card: dict[str, dict[int, list[dict[str, Any]]]] = {}

    def collect(name: str, rows: Any, columns: tuple[str, ...]) -> None:
        bucket = by_card.setdefault(name, {})
        for row in rows:
            bucket.setdefault(row.card_id, []).append(_row(row, columns))

    if ids:
        collect("ledger", session.scalars(select(LedgerEntry).where(LedgerEntry.card_id.in_(ids))
                                          .order_by(LedgerEntry.id)),
                ("id", "kind", "points", "amount", "store_id", "reason", "created_at"))
        collect("rewards", session.scalars(select(HeldReward).where(HeldReward.card_id.in_(ids))
                                           .order_by(HeldReward.id)),
                ("id", "name", "description", "source", "origin", "expires_at", "redeemed_at", "redeemed_store_id",
                 "cancelled_at", "created_at"))
        collect("devices", session.scalars(select(Registration).where(Registration.card_id.in_(ids))
                                           .order_by(Registration.id)),
                ("id", "device_library_identifier", "push_token", "client_kind", "client_app", "active",
                 "dead_reason", "created_at", "updated_at"))
        collect("pushes", session.scalars(select(PushDelivery).where(PushDelivery.card_id.in_(ids))
                                          .order_by(PushDelivery.id)),
                ("id", "card_version", "push_token", "client_kind", "client_app", "status", "reason", "campaign_id",
                 "created_at", "sent_at", "accepted_at", "confirmed_at"))
        collect("nps_answers", session.scalars(select(NpsAnswer).where(NpsAnswer.card_id.in_(ids))
                                               .order_by(NpsAnswer.id)),
                ("survey_id", "score", "comment", "store_id", "answered_at"))
        collect("google_wallet_events", session.scalars(
            select(GoogleWalletEvent).where(GoogleWalletEvent.card_id.in_(ids)).order_by(GoogleWalletEvent.id)),
                ("event_type", "object_id", "created_at"))
        collect("product_subscriptions", session.scalars(
            select(ProductSubscription).where(ProductSubscription.card_id.in_(ids)).order_by(ProductSubscription.id)),
                ("sku", "size", "colour", "product_name", "created_at", "ended_at", "end_reason"))
        collect("card_recoveries", session.scalars(select(CardRecovery).where(CardRecovery.card_id.in_(ids))
                                                   .order_by(CardRecovery.id)),
                ("channel", "destination", "language", "created_at", "sent_at", "used_at"))
        collect("device_logs", session.scalars(select(DeviceLog).where(DeviceLog.card_id.in_(ids))
                                               .order_by(DeviceLog.id)),
                ("message", "client_address", "user_agent", "created_at"))
        referred = session.scalars(select(Card).where(Card.referred_by_id.in_(ids)).order_by(Card.id)).all()
    else:
        referred = []
    card_documents = []
    for card in cards:
        card_documents.append({
            "id": card.id, "program_id": card.program_id, "program": card.program.name,
            "number": display_number(card), "serial_number": card.serial_number,
            "balance": card.balance, "lifetime_points": card.lifetime_points,
            "lifetime_spend": _plain(card.lifetime_spend), "tier": card.tier, "voided": card.voided,
            "created_at": _plain(card.created_at), "updated_at": _plain(card.updated_at),
            "points_expire_at": _plain(card.points_expire_at), "external_id": card.external_id,
            "legacy_number": card.legacy_number,
            "referral_code": card.referral_code, "referred_by_card_id": card.referred_by_id,
            "referred_card_ids": [row.id for row in referred if row.referred_by_id == card.id],
            **{name: rows.get(card.id, []) for name, rows in sorted(by_card.items())},
        })
    return {
        "format": "passcast-customer-export/1",
        "exported_at": _plain(utcnow()),
        "profile": {"id": customer.id, "name": customer.name, "email": customer.email, "phone": customer.phone,
                    "birthday": _plain(customer.birthday), "language": customer.language,
                    "home_store_id": customer.home_store_id, "created_at": _plain(customer.created_at),
                    "erased": is_erased(customer)},
        # No separate consent record exists: a card is issued only after the program's terms were
        # accepted (the join page's checkbox), or by the brand itself (API, import) on its own basis.
        "consents": [{"card_id": card.id, "kind": "program_terms", "given_at": _plain(card.created_at),
                      "source": "import" if card.external_id else "join page or brand"} for card in cards],
        "cards": card_documents,
        "referrals": [{"card_id": row.id, "referred_by_card_id": row.referred_by_id,
                       "created_at": _plain(row.created_at)} for row in referred],
    }


def erase(session: Session, customer: Customer) -> dict[str, int]:
    """Remove `customer`'s personal data, keep the ledger; returns what was done (counts only).

    The caller records the audit entry and commits. Idempotent: erasing again changes nothing
    more (and voids nothing twice)."""
    cards = customer_cards(session, customer)
    ids = [card.id for card in cards]
    counts = {"cards": len(ids), "cards_voided": 0, "registrations_deleted": 0, "pushes_anonymised": 0,
              "nps_comments_removed": 0, "recoveries_deleted": 0}
    customer.name, customer.email, customer.phone, customer.birthday = "", None, None, None
    if not ids:
        return counts
    # Pushes keep their status (campaign reports count them) but lose the token; then the tokens go.
    pushes = session.execute(select(PushDelivery.id).where(PushDelivery.card_id.in_(ids),
                                                           ~PushDelivery.push_token.startswith("erased:"))).scalars().all()
    for push_id in pushes:
        session.execute(update(PushDelivery).where(PushDelivery.id == push_id)
                        .values(push_token=f"erased:{push_id}", registration_id=None))
    counts["pushes_anonymised"] = len(pushes)
    counts["registrations_deleted"] = session.execute(
        delete(Registration).where(Registration.card_id.in_(ids))).rowcount  # type: ignore[attr-defined]
    counts["nps_comments_removed"] = session.execute(
        update(NpsAnswer).where(NpsAnswer.card_id.in_(ids), NpsAnswer.comment.is_not(None))
        .values(comment=None)).rowcount  # type: ignore[attr-defined]
    counts["recoveries_deleted"] = session.execute(
        delete(CardRecovery).where(CardRecovery.card_id.in_(ids))).rowcount  # type: ignore[attr-defined]
    session.execute(update(DeviceLog).where(DeviceLog.card_id.in_(ids)).values(client_address=None, user_agent=None))
    session.execute(update(PassPersonalization).where(PassPersonalization.card_id.in_(ids))
                    .values(client_address=None))
    session.execute(delete(PassFile).where(PassFile.card_id.in_(ids)))  # the signed pass prints the name
    session.execute(update(ProductSubscription).where(ProductSubscription.card_id.in_(ids),
                                                      ProductSubscription.ended_at.is_(None))
                    .values(ended_at=utcnow(), end_reason="card_voided"))
    for card in cards:
        card.external_id, card.referral_code, card.legacy_number = None, None, None
        if not card.voided:
            card.voided = True
            counts["cards_voided"] += 1
            session.add(LedgerEntry(card_id=card.id, kind="adjust", points=0, reason=f"voided: {ERASED_REASON}"))
        touch(card)  # the pass and the Google object show the voided, nameless card
    session.flush()
    return counts
