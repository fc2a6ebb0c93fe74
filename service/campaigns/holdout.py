"""Who is kept back: a deterministic, auditable holdout for campaigns (and journeys).

A card is in the holdout of a send when the SHA-256 of "<salt>:<card id>" falls in the first
`percent` of 10 000 buckets. No random state is stored or needed: anyone with the salt and the
card id can recompute the split (an auditor, a later report, a worker resuming after a crash),
the same card always lands on the same side for the same salt, and different salts (one per
campaign, one per journey step) split the cards independently, so the same customers are not
always the ones left out.

Holdout cards are recorded like recipients (with `holdout` set) and get nothing: no push, no
message, no points. Whether a card *could* have been reached is recorded at send time for both
sides (`reachable_ids`), because the lift compares the groups over cards that were reachable
before anything was sent: a group chosen after sending (say, "the pushes Apple accepted") is
no longer random.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import Card, Registration

#: Resolution of the split: percent is taken in hundredths, so 10 % is 1 000 of 10 000 buckets.
BUCKETS = 10_000
#: The largest holdout the API accepts (half against half is the most informative split).
MAX_PERCENT = 50
#: What the API and the console propose when nothing is said.
DEFAULT_PERCENT = 10


def bucket(salt: str, card_id: int) -> int:
    """The card's bucket (0..9999) for this salt: the first 8 bytes of SHA-256("salt:id")."""
    digest = hashlib.sha256(f"{salt}:{card_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_holdout(salt: str, card_id: int, percent: int) -> bool:
    """Whether the card is kept back (gets nothing) for the send identified by `salt`."""
    if percent <= 0:
        return False
    return bucket(salt, card_id) < percent * BUCKETS // 100


def campaign_salt(campaign_id: int) -> str:
    """The salt of a campaign's split; journeys use their own ("journey-<id>-<step>")."""
    return f"campaign-{campaign_id}"


def split(salt: str, card_ids: Sequence[int], percent: int) -> set[int]:
    """The card ids of `card_ids` that are in the holdout."""
    return {card_id for card_id in card_ids if in_holdout(salt, card_id, percent)}


def reachable_ids(session: Session, card_ids: Sequence[int]) -> set[int]:
    """Of these cards, those a message could reach now: an active device registration (Apple,
    an Android wallet app) or a Google Wallet object. Two indexed queries per batch."""
    if not card_ids:
        return set()
    ids = list(card_ids)
    devices = set(session.scalars(select(Registration.card_id).where(
        Registration.card_id.in_(ids), Registration.active.is_(True)).distinct()))
    google = set(session.scalars(select(Card.id).where(Card.id.in_(ids), Card.google_synced_version.is_not(None))))
    return devices | google
