"""Passes follow a challenge's calendar, not only the card's transactions.

A running challenge shows on every card of its program ("0 / 5 visits" before the first step), so
its start, its end, and a change to it while it runs alter every pass of the program; a rolling
window that runs out turns that card's progress back to nothing. None of these is a transaction
on the card, so nothing else would update the phone: the API bumps the program's cards when a
change touches a running challenge, and an hourly sweep bumps them when a start or an end falls
due. The sweep remembers the moment it covered (journey_watermarks, stream "challenges", the
epoch second in last_id), moved in the transaction of its bumps, so a worker down for a few
hours catches up and two sweeps never bump twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from service.google_wallet.tasks import queue_sync_held
from service.models import Card, Challenge, ChallengeProgress, JourneyWatermark, utcnow
from service.push.fanout import bump_cards

STREAM = "challenges"
#: How far back the very first sweep looks.
FIRST_LOOK_BACK = dt.timedelta(hours=1)


def running(challenge: Challenge, now: dt.datetime) -> bool:
    return bool(challenge.enabled and challenge.starts_at <= now
                and (challenge.ends_at is None or now < challenge.ends_at))


def bump_program(session: Session, program_id: int) -> int:
    """Every live card of the program gets a new version (pushed, and sent to Google); the caller commits."""
    ids = list(session.scalars(select(Card.id).where(Card.program_id == program_id, Card.voided.is_(False))
                               .order_by(Card.id)))
    if ids:
        bump_cards(session, ids)
        queue_sync_held(session, ids)
    return len(ids)


def _watermark(session: Session, now: dt.datetime) -> JourneyWatermark:
    row = session.scalars(select(JourneyWatermark).where(JourneyWatermark.stream == STREAM)
                          .with_for_update()).one_or_none()
    if row is None:
        row = JourneyWatermark(stream=STREAM, last_id=int((now - FIRST_LOOK_BACK).timestamp()), updated_at=now)
        session.add(row)
        session.flush()
    return row


def sweep(session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Bump the passes whose challenges started or ended, or whose rolling window ran out, since the
    last sweep; commits. Returns the programs and cards bumped."""
    now = now or utcnow()
    row = _watermark(session, now)
    since = dt.datetime.fromtimestamp(row.last_id, dt.UTC)
    if since >= now:
        session.rollback()
        return {"programs": 0, "cards": 0}
    due = or_(and_(Challenge.starts_at > since, Challenge.starts_at <= now),
              and_(Challenge.ends_at > since, Challenge.ends_at <= now))
    programs = sorted(set(session.scalars(select(Challenge.program_id).where(Challenge.enabled.is_(True), due))))
    cards = 0
    for program_id in programs:
        cards += bump_program(session, program_id)
    ran_out = sorted(set(session.scalars(
        select(ChallengeProgress.card_id).join(Challenge, Challenge.id == ChallengeProgress.challenge_id)
        .join(Card, Card.id == ChallengeProgress.card_id)
        .where(ChallengeProgress.window_ends_at > since, ChallengeProgress.window_ends_at <= now,
               Challenge.rolling_days.is_not(None), Challenge.enabled.is_(True), Card.voided.is_(False),
               Card.program_id.not_in(programs) if programs else Card.id.is_not(None)))))
    if ran_out:
        bump_cards(session, ran_out)
        queue_sync_held(session, ran_out)
    row.last_id, row.updated_at = int(now.timestamp()), now
    session.commit()
    return {"programs": len(programs), "cards": cards + len(ran_out)}
