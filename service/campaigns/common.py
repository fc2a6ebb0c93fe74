"""What every campaign kind shares: leases, recipients written at most once, message choice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from sqlalchemy import Boolean, Integer, String, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.google_wallet.tasks import queue_sync_held
from service.models import Campaign, CampaignRecipient, utcnow
from service.platform import db

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
    rows = list(rows)
    if not rows:
        return []
    now = utcnow()
    found = db.session_driver_rows(session, _ADD_ON_POSTGRESQL, {
        "campaign_id": campaign_id, "now": now, "card_ids": [card_id for card_id, _ in rows],
        "languages": [language for _, language in rows], "holdouts": [card_id in holdout for card_id, _ in rows],
        "reachables": [None if reachable is None else card_id in reachable for card_id, _ in rows]})
    if found is not None:
        return [card_id for (card_id,) in found]
    values = [{"campaign_id": campaign_id, "card_id": card_id, "language": language, "created_at": now,
               "holdout": card_id in holdout, "reachable": None if reachable is None else card_id in reachable}
              for card_id, language in rows]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(CampaignRecipient).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(CampaignRecipient).on_conflict_do_nothing()
    else:  # pragma: no cover - we run on the two above
        statement = insert(CampaignRecipient)
    return list(session.scalars(statement.values(values).returning(CampaignRecipient.card_id)))


#: `add_recipients` on PostgreSQL: the batch as four array parameters unnested into one INSERT ... SELECT,
#: compiled once and run by the driver (db.session_driver_rows). A thousand rows as a multi-row VALUES
#: were 6 000 bind parameters, compiled by SQLAlchemy and converted by psycopg on every batch: more of
#: the campaign thread's CPU per card than the statement's own work (issue 18).
_RECIPIENT = func.unnest(
    bindparam("card_ids", type_=postgresql.ARRAY(Integer)), bindparam("languages", type_=postgresql.ARRAY(String)),
    bindparam("holdouts", type_=postgresql.ARRAY(Boolean)), bindparam("reachables", type_=postgresql.ARRAY(Boolean)),
).table_valued("card_id", "language", "holdout", "reachable").render_derived(name="recipient")
_ADD_ON_POSTGRESQL = (
    postgresql.insert(CampaignRecipient).on_conflict_do_nothing().from_select(
        ["campaign_id", "card_id", "language", "created_at", "holdout", "reachable"],
        select(bindparam("campaign_id", type_=Integer), _RECIPIENT.c.card_id, _RECIPIENT.c.language,
               bindparam("now", type_=CampaignRecipient.created_at.type), _RECIPIENT.c.holdout, _RECIPIENT.c.reachable))
    .returning(CampaignRecipient.card_id)
)


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
