"""Whether a card may get a marketing message now: the opt-out, the frequency cap, quiet hours.

Every sender of marketing messages (campaigns here, journeys elsewhere) asks before it acts and
records what it sent, so that one cap counts them all:

    decision = may_message(session, card, now)
    if decision.allowed:
        ... put the message on the pass, queue its Google message ...
        record_message(session, card, "journey:3:welcome", now)   # same transaction
    elif decision.defer_until:  # keep it and try again then
        ...
    else:  # decision.drop: reason says why
        ...

The rules, first match wins:

1. `opted_out`: the holder turned marketing messages off (service/campaigns/optout.py): dropped.
   A voided card is dropped too (`voided`).
2. `cap`: the program's `cap_count` messages in the last `cap_days` days are reached: dropped,
   or deferred to the moment the oldest of them leaves the window (`over_cap`), moved past
   quiet hours if it falls in them.
3. `quiet_hours`: the customer's local time is inside the program's quiet hours: deferred to
   their end, in the customer's time zone (home store's, else the program's, else UTC), so a
   change of daylight saving time in between moves the UTC moment, not the local one.

Transactional changes (a purchase, a balance) never come here: only marketing does.
Google's own limit (3 notifying messages per object per 24 h) is applied later, when the Google
message is sent (service/google_wallet/messages.py): over it the message is shown silently.

Batches use `decide_many` (a handful of queries per batch, whatever its size); on PostgreSQL the
capped cards are locked (FOR NO KEY UPDATE, in id order) before their messages are counted, so two campaigns sending
to one card at the same moment cannot both take its last place under the cap.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from service.models import Card, CardMessage, Customer, MessageOptOut, MessagingRules, Program, Store, utcnow

SEND, DEFER, DROP = "send", "defer", "drop"
#: Why a message was held, in the order the rules are checked.
REASONS = ("opted_out", "cap", "quiet_hours")
OVER_CAP = ("defer", "drop")
#: The longest cap window the API allows (days): older messages count for nothing and are purged.
MAX_CAP_DAYS = 90
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Decision:
    """send now (`allowed`), defer to `defer_until`, or `drop`; `reason` names the rule that held it."""

    action: str
    reason: str | None = None
    defer_until: dt.datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.action == SEND

    @property
    def drop(self) -> bool:
        return self.action == DROP


ALLOWED = Decision(SEND)


@dataclass(frozen=True)
class CardRules:
    """What decides one card's messages: its opt-out, its program's rules, its time zone."""

    opted_out: bool = False
    voided: bool = False
    zone: ZoneInfo = UTC
    cap_count: int | None = None
    cap_days: int = 7
    quiet_start: int | None = None  # minutes after local midnight
    quiet_end: int | None = None
    over_cap: str = "defer"


def clock_minutes(text: str | None) -> int | None:
    """ "21:30" -> 1290; "24:00" -> 1440 (the end of the day); None or "" -> None."""
    if not text:
        return None
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def zone_named(*names: str | None) -> ZoneInfo:
    """The first valid IANA zone among `names`, else UTC (an unknown name never stops a send)."""
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return UTC


# -- the rules, on plain values ------------------------------------------------------------------


def _in_quiet(minute: float, start: int, end: int) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # wraps midnight: 21:00-08:00


def quiet_until(moment: dt.datetime, rules: CardRules) -> dt.datetime | None:
    """The end of the quiet period `moment` falls in (UTC), or None when it is not in one.

    Computed on the local calendar: the end is that local time today or tomorrow, then turned into
    UTC with that day's offset (so 08:00 in Berlin is 06:00 UTC in summer, 07:00 UTC in winter).
    """
    start, end = rules.quiet_start, rules.quiet_end
    if start is None or end is None:
        return None
    local = moment.astimezone(rules.zone)
    minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60_000_000
    if not _in_quiet(minute, start, end):
        return None
    day = local.date()
    if start > end and minute >= start:  # after the evening start: it ends tomorrow morning
        day += dt.timedelta(days=1)
    if end == 24 * 60:
        day, end = day + dt.timedelta(days=1), 0
    ends = dt.datetime.combine(day, dt.time(end // 60, end % 60), tzinfo=rules.zone).astimezone(dt.UTC)
    return max(ends, moment.astimezone(dt.UTC))


def decide(rules: CardRules, sent: Sequence[dt.datetime], now: dt.datetime) -> Decision:
    """The decision for one card from its rules and the times of its earlier messages."""
    if rules.opted_out:
        return Decision(DROP, "opted_out")
    if rules.voided:
        return Decision(DROP, "voided")
    if rules.cap_count is not None:
        window = dt.timedelta(days=rules.cap_days)
        recent = sorted(moment for moment in sent if moment > now - window)
        if len(recent) >= rules.cap_count:
            if rules.over_cap == "drop" or rules.cap_count <= 0:
                return Decision(DROP, "cap")
            # once the message that fills the cap leaves the window there is room again
            free = recent[len(recent) - rules.cap_count] + window
            return Decision(DEFER, "cap", quiet_until(free, rules) or free)
    until = quiet_until(now, rules)
    if until is not None:
        return Decision(DEFER, "quiet_hours", until)
    return ALLOWED


# -- the database side ---------------------------------------------------------------------------


def card_rules(session: Session, card_ids: Iterable[int]) -> dict[int, CardRules]:
    """Each card's rules in one query (cards not found are left out)."""
    ids = sorted(set(card_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Card.id, Card.voided, MessageOptOut.card_id, Store.time_zone, Program.time_zone,
               MessagingRules.cap_count, MessagingRules.cap_days, MessagingRules.quiet_start,
               MessagingRules.quiet_end, MessagingRules.over_cap)
        .join(Program, Program.id == Card.program_id)
        .join(Customer, Customer.id == Card.customer_id)
        .outerjoin(Store, Store.id == Customer.home_store_id)
        .outerjoin(MessageOptOut, MessageOptOut.card_id == Card.id)
        .outerjoin(MessagingRules, MessagingRules.program_id == Card.program_id)
        .where(Card.id.in_(ids))).all()
    zones: dict[tuple[str | None, str | None], ZoneInfo] = {}
    found = {}
    for (card_id, voided, opted_out, store_zone, program_zone, cap_count, cap_days, quiet_start, quiet_end,
         over_cap) in rows:
        zone = zones.get((store_zone, program_zone))
        if zone is None:
            zone = zones[(store_zone, program_zone)] = zone_named(store_zone, program_zone)
        found[card_id] = CardRules(opted_out=opted_out is not None, voided=bool(voided), zone=zone,
                                   cap_count=cap_count, cap_days=cap_days or 7,
                                   quiet_start=clock_minutes(quiet_start), quiet_end=clock_minutes(quiet_end),
                                   over_cap=over_cap or "defer")
    return found


def _sent_times(session: Session, rules: dict[int, CardRules], now: dt.datetime) -> dict[int, list[dt.datetime]]:
    """The message times inside each capped card's window (locking those cards on PostgreSQL first)."""
    capped = sorted(card_id for card_id, each in rules.items()
                    if each.cap_count is not None and not each.opted_out and not each.voided)
    sent: dict[int, list[dt.datetime]] = defaultdict(list)
    if not capped:
        return sent
    # FOR NO KEY UPDATE (ignored by SQLite, whose writers take turns anyway): a second campaign batch
    # counting the same card waits until this one has committed its messages. Not FOR UPDATE: each
    # batch already holds KEY SHARE locks on its cards (its recipient rows' foreign keys), which FOR
    # UPDATE would wait for, two batches each for the other's; the version bump takes this same lock.
    session.execute(select(Card.id).where(Card.id.in_(capped)).order_by(Card.id).with_for_update(key_share=True))
    since = now - dt.timedelta(days=max(rules[card_id].cap_days for card_id in capped))
    for card_id, sent_at in session.execute(select(CardMessage.card_id, CardMessage.sent_at)
                                            .where(CardMessage.card_id.in_(capped), CardMessage.sent_at > since)):
        sent[card_id].append(sent_at)
    return sent


def decide_many(session: Session, card_ids: Iterable[int], now: dt.datetime | None = None) -> dict[int, Decision]:
    """`may_message` for a batch of cards: two or three queries whatever the batch's size."""
    now = now or utcnow()
    rules = card_rules(session, card_ids)
    sent = _sent_times(session, rules, now)
    return {card_id: decide(each, sent.get(card_id, ()), now) for card_id, each in rules.items()}


def may_message(session: Session, card: Card | int, now: dt.datetime | None = None) -> Decision:
    """May this card get a marketing message at `now`? (campaigns and journeys both ask here)."""
    card_id = card if isinstance(card, int) else card.id
    return decide_many(session, [card_id], now).get(card_id, Decision(DROP, "voided"))


def record_messages(session: Session, card_ids: Iterable[int], source: str, now: dt.datetime | None = None) -> int:
    """Count messages sent to these cards against their caps; in the sender's own transaction."""
    moment = now or utcnow()
    rows = [{"card_id": card_id, "source": source[:60], "sent_at": moment} for card_id in sorted(set(card_ids))]
    if rows:
        session.execute(insert(CardMessage), rows)
    return len(rows)


def record_message(session: Session, card: Card | int, source: str, now: dt.datetime | None = None) -> None:
    """Count one message (e.g. a journey's step) against the card's cap; the caller commits."""
    record_messages(session, [card if isinstance(card, int) else card.id], source, now)


def purge_old_messages(session: Session, now: dt.datetime | None = None) -> int:
    """Forget messages older than any cap's window (the daily job); the caller commits."""
    before = (now or utcnow()) - dt.timedelta(days=MAX_CAP_DAYS + 1)
    result = session.execute(delete(CardMessage).where(CardMessage.sent_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
