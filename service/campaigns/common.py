"""What every campaign kind shares: leases, recipients written at most once, message choice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from sqlalchemy import and_, insert, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.google_wallet.tasks import queue_sync_held
from service.models import Campaign, CampaignRecipient, utcnow

LEASE = dt.timedelta(minutes=5)


def acquire(session: Session, campaign_id: int, statuses: Sequence[str], now: dt.datetime,
            due: Any = None, lease: dt.timedelta = LEASE, **values: Any) -> bool:
    """Take the campaign's lease (and apply `values`) if it is in `statuses` and nobody holds it.

    One UPDATE, committed: of two workers only one gets it; a worker that died simply lets its
    lease run out, and the next run resumes from the stored cursor.
    """
    conditions = [Campaign.id == campaign_id, Campaign.status.in_(statuses),
                  or_(Campaign.lease_until.is_(None), Campaign.lease_until < now)]
    if due is not None:
        conditions.append(due)
    result = session.execute(update(Campaign).where(and_(*conditions))
                             .values(lease_until=now + lease, **values)
                             .execution_options(synchronize_session=False))
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def renew(session: Session, campaign_id: int, statuses: Sequence[str], lease: dt.timedelta = LEASE,
          **values: Any) -> bool:
    """Move the cursor (in the caller's transaction, with the batch) and extend the lease;
    False when the campaign left `statuses` meanwhile (cancelled): the caller rolls back."""
    result = session.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.status.in_(statuses))
                             .values({"lease_until": utcnow() + lease, **values})
                             .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_recipients(session: Session, campaign_id: int, rows: Iterable[tuple[int, str | None]], *,
                   holdout: AbstractSet[int] = frozenset(), reachable: AbstractSet[int] | None = None) -> list[int]:
    """Record (card id, language) recipients; returns the card ids that were NOT already there.

    INSERT ... ON CONFLICT DO NOTHING RETURNING: a card that already got this campaign (an
    earlier run, or another worker) is skipped by the database, not by a check that can race.
    Cards of `holdout` are recorded as kept back (the caller sends them nothing); `reachable`
    (when given) marks the cards a message could reach at this moment.
    """
    values = [{"campaign_id": campaign_id, "card_id": card_id, "language": language, "created_at": utcnow(),
               "holdout": card_id in holdout, "reachable": None if reachable is None else card_id in reachable}
              for card_id, language in rows]
    if not values:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(CampaignRecipient).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(CampaignRecipient).on_conflict_do_nothing()
    else:  # pragma: no cover - we run on the two above
        statement = insert(CampaignRecipient)
    return list(session.scalars(statement.values(values).returning(CampaignRecipient.card_id)))


def pick_message(default: str, variants: dict[str, str] | None, language: str | None) -> str:
    """The customer's language variant ("pt-BR", else "pt"), else the default text."""
    variants = variants or {}
    if language:
        wanted = language.replace("_", "-").lower()
        lowered = {key.lower(): text for key, text in variants.items()}
        if wanted in lowered:
            return lowered[wanted]
        if wanted.split("-")[0] in lowered:
            return lowered[wanted.split("-")[0]]
    return default


def queue_google(session: Session, card_ids: Sequence[int]) -> None:
    """Have Google Wallet objects of these (bulk-bumped) cards patched right after the commit.

    `bump_cards` changes cards without the ORM, so the Google flush hook does not see them;
    without this they would wait for the minute sweeper.
    """
    queue_sync_held(session, list(card_ids))
