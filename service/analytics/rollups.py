"""Roll-ups of the ledger: the dashboard's ledger figures from small tables, exact up to now.

Counting a big brand's figures from the ledger reads millions of rows (distinct cards per
window, per cohort month, per buyer). Here every figure is a sum over per-card
*contributions* that a job writes once, into tables whose size depends on the number of days,
not of cards or entries:

- ``analytics_daily`` (brand, day): points issued / redeemed, purchases and revenue.
- ``analytics_activity`` (brand, day, prev_day, since_day): for each day a card had activity,
  the card's previous such day and max(previous, issue day). A card is active in [a, b)
  exactly once as "a day in [a, b) whose previous day is < a", so active = a sum; with
  since_day < a, only cards issued before a count (lapsed).
- ``analytics_purchase_links`` (brand, shape, a, b, multi): for each day a card bought, the
  pairs (day, previous day), (previous, next) and (day, next) of its purchase days, and
  whether it bought 2+ times that day. Buyers of [s, e) = days in it with previous < s;
  one-time buyers = single-purchase days with previous < s and next >= e, which is the 2-D
  sum px(prev < s, next >= e) - dx(day < s, next >= e) - dp(day >= e, prev < s).
- ``analytics_cohort_activity`` (brand, issue day, first day with activity in a month):
  cohort retention, also for a last month that has not ended.

Days are UTC days since 1970-01-01 (periods of whole days; others are counted raw).
Assumed, as everywhere in the service: a card's issue time and brand never change. Voiding
does change (it is not rolled up: the few voided cards are counted raw where it matters).

**Maintenance.** ``run`` (the job in service/analytics/tasks.py, every minute; ``flask
analytics-rollup``) rolls up ledger entries past a watermark (``analytics_rollup_state.
ledger_id``): for each card with new entries it subtracts the card's contribution as of the
old watermark and adds the one as of the new, both computed from the card's ledger (the
(card_id, created_at) index), in one transaction with the watermark: a rerun or a crash
never counts twice. Nothing is added to the purchase path. Only entries older than ``LAG``
are rolled up, so that a transaction still open with a lower id is not skipped. The first
run (or ``--rebuild``) backfills: the same contributions computed in SQL (window functions
over every card's days) in one transaction, up to the entry that was last when it began
(about two minutes for ten million entries on PostgreSQL); the incremental runs then catch
up in batches of ``BATCH`` entries.

**Reading.** Figures = the roll-ups + the same contribution difference for the cards with
entries past the watermark (the tail, a few minutes of ledger), computed live: exact up to
now. Until the backfill is done, or for periods not in whole days, figures come from
service/analytics/figures.py (the definitions, counted from the raw tables).
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    case,
    cast,
    column,
    delete,
    exists,
    extract,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from service.analytics import figures as analytics
from service.analytics.figures import ACTIVITY_KINDS, BIRTHDAY_KEY_PREFIX, EARNING_KINDS, Period
from service.models import (
    AnalyticsActivity,
    AnalyticsCohortActivity,
    AnalyticsDaily,
    AnalyticsPurchaseLink,
    AnalyticsRollupState,
    Card,
    LedgerEntry,
    utcnow,
)

log = logging.getLogger(__name__)

NO_DAY = -1_000_000  # "no previous day"
NEVER = 10_000_000  # "no next day"
EPOCH = dt.date(1970, 1, 1)
STATE_ID = 1
#: Entries younger than this are left to the next run (a transaction that took its id earlier may still commit).
LAG = analytics.SETTLE
#: Ledger entries per incremental step (one transaction).
BATCH = 100_000
#: Cards whose ledger is read per query (incremental runs, the tail).
CARDS_PER_QUERY = 1_000
#: More cards than this in the tail (the job is far behind): count from the raw tables instead.
MAX_TAIL_CARDS = 20_000
CENT = Decimal("0.01")


def day_of(moment: dt.datetime) -> int:
    return (moment.astimezone(dt.UTC).date() - EPOCH).days


def _month_of_day(day: int) -> int:
    date = EPOCH + dt.timedelta(days=day)
    return date.year * 12 + date.month


def whole_days(period: Period) -> bool:
    return all(moment.astimezone(dt.UTC).timetz().replace(tzinfo=None) == dt.time()
               for moment in (period.start, period.end))


# -- contributions ---------------------------------------------------------------------------


class Sums:
    """Contributions by table and key (what gets added to the roll-up tables)."""

    def __init__(self) -> None:
        self.daily: dict[tuple[int, int], list[Any]] = {}
        self.activity: dict[tuple[int, int, int, int], int] = defaultdict(int)
        self.links: dict[tuple[int, str, int, int, bool], int] = defaultdict(int)
        self.cohort: dict[tuple[int, int, int], int] = defaultdict(int)

    def add_card(self, sign: int, brand: int, created_day: int, days: list[tuple[Any, ...]]) -> None:
        """One card's contribution (sign -1: take it out), from its days in order: (day,
        activities, purchases of any kind, purchases with an amount, revenue, points issued,
        points redeemed)."""
        prev, buy_days, months = NO_DAY, [], set()
        for day, acts, buys, purchases, revenue, issued, redeemed in days:
            if purchases or issued or redeemed:
                row = self.daily.setdefault((brand, day), [0, 0, 0, Decimal(0)])
                row[0] += sign * issued
                row[1] += sign * redeemed
                row[2] += sign * purchases
                row[3] += sign * revenue
            if acts:
                self.activity[(brand, day, prev, max(prev, created_day))] += sign
                month = _month_of_day(day)
                if month not in months:
                    months.add(month)
                    self.cohort[(brand, created_day, day)] += sign
                prev = day
            if buys:
                buy_days.append((day, buys >= 2))
        for i, (day, multi) in enumerate(buy_days):
            before = buy_days[i - 1][0] if i else NO_DAY
            after = buy_days[i + 1][0] if i + 1 < len(buy_days) else NEVER
            self.links[(brand, "dp", day, before, multi)] += sign
            self.links[(brand, "px", before, after, multi)] += sign
            self.links[(brand, "dx", day, after, multi)] += sign


def _day_sql(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(extract("epoch", column) / 86400), Integer)
    return cast(func.strftime("%s", column), Integer).op("/")(86400)


def _card_days(session: Session, card_filter: Any, upto: int | None, old: int, months: bool = False) -> Any:
    """Per card and UTC day: the sums a contribution needs, split by entry id <= `old`.

    A ``reversal`` entry counts as minus the entry it undoes, on that entry's day (and month): so
    a card's days as of any entry id leave out what was undone by then, and the reversal of a day
    rolled up long ago is one more new entry of the card, which takes the old contribution out and
    puts the corrected one in like any other (see the module docstring)."""
    entry = LedgerEntry
    undone = aliased(LedgerEntry, name="undone")  # what a reversal entry undoes
    is_reversal = undone.id.is_not(None)

    def of(column: str) -> Any:  # the entry's own column, or for a reversal the undone entry's
        return case((is_reversal, getattr(undone, column)), else_=getattr(entry, column))

    kind, amount, points, key, created = (of(name) for name in
                                          ("kind", "amount", "points", "idempotency_key", "created_at"))
    sign = case((is_reversal, -1), else_=1)
    day = _day_sql(session, created)
    is_old = case((entry.id <= old, 1), else_=0)
    activity = and_(kind.in_(ACTIVITY_KINDS), or_(key.is_(None), not_(key.startswith(BIRTHDAY_KEY_PREFIX))))
    bought = and_(kind == "purchase", amount.is_not(None))
    query = (select(entry.card_id, Card.brand_id, _day_sql(session, Card.created_at).label("created_day"),
                    day.label("day"), is_old.label("is_old"),
                    func.sum(case((activity, sign), else_=0)).label("acts"),
                    func.sum(case((kind == "purchase", sign), else_=0)).label("buys"),
                    func.sum(case((bought, sign), else_=0)).label("purchases"),
                    func.sum(case((bought, sign * amount), else_=0)).label("revenue"),
                    func.sum(case((and_(kind.in_(EARNING_KINDS), points > 0), sign * points),
                                  else_=0)).label("issued"),
                    func.sum(case((kind == "redeem", -sign * points), else_=0)).label("redeemed"))
             .select_from(entry.__table__.join(Card.__table__, Card.id == entry.card_id)
                          .outerjoin(undone, and_(entry.kind == "reversal", undone.id == entry.reversed_entry_id)))
             .where(card_filter)
             .group_by(entry.card_id, Card.brand_id, Card.created_at, day, is_old)
             .order_by(entry.card_id, day))
    if months:  # functions of the day and the issue day: the groups stay the same
        cohort_month = analytics._month_index(session, Card.created_at)
        month = analytics._month_index(session, created)
        query = query.add_columns(cohort_month.label("cohort_month"), month.label("month")).group_by(
            cohort_month, month)
    if upto is not None:
        query = query.where(entry.id <= upto)
    return query


def _per_card(rows: Iterable[Any]) -> Iterator[tuple[int, int, int, list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """(card, brand, issue day, its days up to the old watermark, all its days) per card."""
    card = brand = created = None
    old_days: list[tuple[Any, ...]] = []
    all_days: dict[int, list[Any]] = {}

    def done() -> tuple[int, int, int, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return card, brand, created, old_days, [tuple(all_days[d]) for d in sorted(all_days)]  # type: ignore[return-value]

    for card_id, brand_id, created_day, day, is_old, *sums in rows:
        if card_id != card:
            if card is not None:
                yield done()
            card, brand, created, old_days, all_days = card_id, brand_id, int(created_day), [], {}
        day = int(day)
        values = [int(sums[0] or 0), int(sums[1] or 0), int(sums[2] or 0),
                  Decimal(str(sums[3] or 0)).quantize(CENT), int(sums[4] or 0), int(sums[5] or 0)]
        if is_old:
            old_days.append((day, *values))
        merged = all_days.setdefault(day, [day, 0, 0, 0, Decimal(0), 0, 0])
        for i, value in enumerate(values, start=1):
            merged[i] += value
    if card is not None:
        yield done()


def _changes(session: Session, cards: list[int], old: int, upto: int | None) -> Sums:
    """Contributions of `cards` as of entry `upto` (None: now) minus those as of entry `old`,
    each card's days read through the (card_id, created_at) index."""
    sums = Sums()
    for start in range(0, len(cards), CARDS_PER_QUERY):
        chunk = cards[start:start + CARDS_PER_QUERY]
        # The cards too, not only their entries: else PostgreSQL hashes the whole cards table
        # for the join (0.4 s on a million cards) rather than look up these few by id.
        rows = session.execute(_card_days(session, and_(LedgerEntry.card_id.in_(chunk), Card.id.in_(chunk)),
                                          upto, old))
        for _, brand, created, old_days, all_days in _per_card(rows):
            sums.add_card(-1, brand, created, old_days)
            sums.add_card(1, brand, created, all_days)
    return sums


# -- writing ---------------------------------------------------------------------------------


def _upsert(session: Session, model: Any, keys: list[str], values: list[str], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    for start in range(0, len(rows), 10_000):
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={name: table.c[name] + statement.excluded[name] for name in values})
        session.execute(statement, rows[start:start + 10_000])


def _write(session: Session, sums: Sums) -> None:
    _upsert(session, AnalyticsDaily, ["brand_id", "day"], ["points_issued", "points_redeemed", "purchases", "revenue"],
            [{"brand_id": b, "day": d, "points_issued": v[0], "points_redeemed": v[1], "purchases": v[2],
              "revenue": v[3]} for (b, d), v in sums.daily.items() if any(v)])
    _upsert(session, AnalyticsActivity, ["brand_id", "day", "prev_day", "since_day"], ["cards"],
            [{"brand_id": b, "day": d, "prev_day": p, "since_day": s, "cards": n}
             for (b, d, p, s), n in sums.activity.items() if n])
    _upsert(session, AnalyticsPurchaseLink, ["brand_id", "shape", "a", "b", "multi"], ["cards"],
            [{"brand_id": b, "shape": shape, "a": a, "b": x, "multi": m, "cards": n}
             for (b, shape, a, x, m), n in sums.links.items() if n])
    _upsert(session, AnalyticsCohortActivity, ["brand_id", "created_day", "first_day"], ["cards"],
            [{"brand_id": b, "created_day": c, "first_day": f, "cohort_month": _month_of_day(c),
              "month": _month_of_day(f), "cards": n} for (b, c, f), n in sums.cohort.items() if n])


# -- the job ---------------------------------------------------------------------------------


def _safe_max(session: Session, after: int, now: dt.datetime, limit: int | None = None) -> int | None:
    """The last entry past `after` (at most `limit` ids past the next one: ids may jump) that is
    older than LAG."""
    query = select(func.max(LedgerEntry.id)).where(LedgerEntry.id > after, LedgerEntry.created_at < now - LAG)
    if limit is not None:
        first = session.scalar(select(func.min(LedgerEntry.id)).where(LedgerEntry.id > after))
        if first is None:
            return None
        query = query.where(LedgerEntry.id < first + limit)
    return session.scalar(query)


def _state(session: Session, now: dt.datetime) -> AnalyticsRollupState | None:
    """The state row, locked for this transaction; created (a backfill to start) when missing."""
    state = session.scalar(select(AnalyticsRollupState).where(AnalyticsRollupState.id == STATE_ID)
                           .with_for_update().execution_options(populate_existing=True))
    if state is not None:
        return state
    try:
        with session.begin_nested():
            state = AnalyticsRollupState(id=STATE_ID, ledger_id=0, backfill_to=_safe_max(session, 0, now) or 0,
                                         updated_at=now)
            session.add(state)
    except IntegrityError:  # another run started it
        session.rollback()
        return None
    return state


def _backfill(session: Session, state: AnalyticsRollupState) -> int:
    """Roll up every card's entries up to `backfill_to` in the database, set-based (the same
    contributions as Sums.add_card, by window functions over each card's days), in one
    transaction with the watermark. Returns the card-days read."""
    target = int(state.backfill_to or 0)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SET LOCAL work_mem = '256MB'"))
    for model in (AnalyticsDaily, AnalyticsActivity, AnalyticsPurchaseLink, AnalyticsCohortActivity):
        session.execute(delete(model))
    days_query = _card_days(session, LedgerEntry.id <= target, target, target, months=True).order_by(None)
    compiled = days_query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    session.execute(text("DROP TABLE IF EXISTS analytics_backfill_days"))
    session.execute(text(f"CREATE TEMPORARY TABLE analytics_backfill_days AS {compiled}"))
    d = table("analytics_backfill_days", *(column(name) for name in (
        "card_id", "brand_id", "created_day", "day", "is_old", "acts", "buys", "purchases", "revenue", "issued",
        "redeemed", "cohort_month", "month")))
    greatest = func.greatest if postgres else func.max
    session.execute(insert(AnalyticsDaily).from_select(
        ["brand_id", "day", "points_issued", "points_redeemed", "purchases", "revenue"],
        select(d.c.brand_id, d.c.day, func.sum(d.c.issued), func.sum(d.c.redeemed), func.sum(d.c.purchases),
               func.sum(d.c.revenue))
        .where(or_(d.c.issued != 0, d.c.redeemed != 0, d.c.purchases != 0)).group_by(d.c.brand_id, d.c.day)))
    previous = func.lag(d.c.day).over(partition_by=d.c.card_id, order_by=d.c.day)
    acts = select(d.c.brand_id, d.c.day, func.coalesce(previous, NO_DAY).label("prev"), d.c.created_day) \
        .where(d.c.acts > 0).subquery()
    since = greatest(acts.c.prev, acts.c.created_day)
    session.execute(insert(AnalyticsActivity).from_select(
        ["brand_id", "day", "prev_day", "since_day", "cards"],
        select(acts.c.brand_id, acts.c.day, acts.c.prev, since, func.count())
        .group_by(acts.c.brand_id, acts.c.day, acts.c.prev, since)))
    following = func.lead(d.c.day).over(partition_by=d.c.card_id, order_by=d.c.day)
    buys = select(d.c.brand_id, d.c.day, func.coalesce(previous, NO_DAY).label("prev"),
                  func.coalesce(following, NEVER).label("next"), (d.c.buys >= 2).label("multi")) \
        .where(d.c.buys > 0).subquery()
    for shape, a, b in (("dp", buys.c.day, buys.c.prev), ("px", buys.c.prev, buys.c.next),
                        ("dx", buys.c.day, buys.c.next)):
        session.execute(insert(AnalyticsPurchaseLink).from_select(
            ["brand_id", "shape", "a", "b", "multi", "cards"],
            select(buys.c.brand_id, literal(shape), a, b, buys.c.multi, func.count())
            .group_by(buys.c.brand_id, a, b, buys.c.multi)))
    months = (select(d.c.brand_id, d.c.created_day, d.c.cohort_month, d.c.month, func.min(d.c.day).label("first"))
              .where(d.c.acts > 0)
              .group_by(d.c.card_id, d.c.brand_id, d.c.created_day, d.c.cohort_month, d.c.month).subquery())
    session.execute(insert(AnalyticsCohortActivity).from_select(
        ["brand_id", "created_day", "first_day", "cohort_month", "month", "cards"],
        select(months.c.brand_id, months.c.created_day, months.c.first, months.c.cohort_month, months.c.month,
               func.count())
        .group_by(months.c.brand_id, months.c.created_day, months.c.first, months.c.cohort_month, months.c.month)))
    read = int(session.scalar(select(func.count()).select_from(d)) or 0)
    session.execute(text("DROP TABLE analytics_backfill_days"))
    state.ledger_id, state.backfill_to, state.updated_at = target, None, utcnow()
    session.commit()
    if postgres:  # fresh tables: statistics and a visibility map for index-only scans
        with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for model in (AnalyticsDaily, AnalyticsActivity, AnalyticsPurchaseLink, AnalyticsCohortActivity):
                connection.execute(text(f"VACUUM ANALYZE {model.__tablename__}"))
    log.info("analytics roll-ups: backfilled %d card-days up to ledger entry %d", read, target)
    return read


def step(session: Session, now: dt.datetime | None = None, batch: int = BATCH) -> int:
    """One unit of work: the backfill (all of it) when it is due, else up to `batch` new
    ledger entries. Returns how many cards (backfill) or entries were rolled up; 0 = up to date."""
    now = now or utcnow()
    state = _state(session, now)
    if state is None:
        return 0
    if state.backfill_to is not None:
        return _backfill(session, state) or 1
    old = int(state.ledger_id)
    upto = _safe_max(session, old, now, batch)
    if upto is None:
        session.rollback()
        return 0
    cards = session.scalars(select(LedgerEntry.card_id).where(LedgerEntry.id > old, LedgerEntry.id <= upto)
                            .distinct().order_by(LedgerEntry.card_id)).all()
    changes = _changes(session, list(cards), old, upto)
    # The watermark moves first, by one UPDATE that carries the invariant (it is still where we read
    # it): PostgreSQL holds the state row since _state, but SQLite has no row lock, and a second run
    # that read the same watermark would add the same entries again. Its first write waits for ours.
    moved = session.execute(
        update(AnalyticsRollupState)
        .where(AnalyticsRollupState.id == STATE_ID, AnalyticsRollupState.ledger_id == old,
               AnalyticsRollupState.backfill_to.is_(None))
        .values(ledger_id=upto, updated_at=now).execution_options(synchronize_session=False))
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()  # another run rolled these entries up meanwhile
        return 0
    _write(session, changes)
    session.commit()
    return upto - old


def run(session: Session, now: dt.datetime | None = None, budget_seconds: float | None = None,
        batch: int = BATCH) -> int:
    """Roll up until up to date (or `budget_seconds` are spent). Returns the work done."""
    started, done = time.monotonic(), 0
    while True:
        count = step(session, now, batch)
        done += count
        if count == 0 or (budget_seconds is not None and time.monotonic() - started > budget_seconds):
            return done


def rebuild(session: Session) -> None:
    """Forget the roll-ups: the next run backfills them from the ledger."""
    for model in (AnalyticsDaily, AnalyticsActivity, AnalyticsPurchaseLink, AnalyticsCohortActivity,
                  AnalyticsRollupState):
        session.execute(delete(model))
    session.commit()


def _watermark(session: Session) -> int | None:
    """The ledger entry the roll-ups are complete up to; None while they are not built."""
    state = session.scalar(select(AnalyticsRollupState).where(AnalyticsRollupState.id == STATE_ID)
                           .execution_options(populate_existing=True))  # never an older copy
    return None if state is None or state.backfill_to is not None else int(state.ledger_id)


def ready(session: Session) -> bool:
    return _watermark(session) is not None


def _tail_cards(session: Session, brand_id: int, old: int) -> list[int]:
    """The brand's cards with entries past the watermark (up to MAX_TAIL_CARDS + 1)."""
    source = LedgerEntry.__table__.join(Card.__table__, Card.id == LedgerEntry.card_id)
    return list(session.scalars(select(LedgerEntry.card_id).distinct().select_from(source)
                                .where(LedgerEntry.id > old, Card.brand_id == brand_id)
                                .order_by(LedgerEntry.card_id).limit(MAX_TAIL_CARDS + 1)).all())


def can_answer(session: Session, brand_id: int) -> bool:
    """The roll-ups are built and the job is not so far behind that the tail would be slow."""
    old = _watermark(session)
    return old is not None and len(_tail_cards(session, brand_id, old)) <= MAX_TAIL_CARDS


# -- reading ---------------------------------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], bool]] = {"<": operator.lt, ">=": operator.ge, "==": operator.eq}
_KEYS = {AnalyticsDaily: ("brand_id", "day"), AnalyticsActivity: ("brand_id", "day", "prev_day", "since_day"),
         AnalyticsPurchaseLink: ("brand_id", "shape", "a", "b", "multi"),
         AnalyticsCohortActivity: ("brand_id", "created_day", "first_day")}
Condition = tuple[str, str, Any]


class Figures:
    """A brand's roll-ups plus its tail: sums over both, by the same conditions."""

    def __init__(self, session: Session, brand_id: int, tail: Sums) -> None:
        self.session, self.brand_id, self.tail = session, brand_id, tail
        self._tail_cache: dict[Any, list[tuple[dict[str, Any], Any]]] = {}

    @classmethod
    def open(cls, session: Session, brand_id: int) -> Figures | None:
        """None while the roll-ups cannot answer (being built, or the job far behind)."""
        old = _watermark(session)
        if old is None:
            return None
        cards = _tail_cards(session, brand_id, old)
        if len(cards) > MAX_TAIL_CARDS:
            return None
        return cls(session, brand_id, _changes(session, cards, old, None))

    def _tail_rows(self, model: Any) -> list[tuple[dict[str, Any], Any]]:
        """The tail's rows of the brand, without those that cancel out (a tail card's
        contribution before and after mostly does): built once, read by every figure."""
        if model not in self._tail_cache:
            data = {AnalyticsDaily: self.tail.daily, AnalyticsActivity: self.tail.activity,
                    AnalyticsPurchaseLink: self.tail.links, AnalyticsCohortActivity: self.tail.cohort}[model]
            names = _KEYS[model]
            self._tail_cache[model] = [
                (dict(zip(names, key, strict=True)), value) for key, value in data.items()
                if key[0] == self.brand_id and (any(value) if isinstance(value, list) else value)]
        return self._tail_cache[model]

    def _where(self, model: Any, conditions: list[Condition]) -> list[Any]:
        columns = model.__table__.c
        return [columns.brand_id == self.brand_id,
                *(_OPS[op](columns[name], value) for name, op, value in conditions)]

    def count(self, model: Any, conditions: list[Condition]) -> int:
        """Σ cards over the rows that meet every condition."""
        total = int(self.session.scalar(select(func.coalesce(func.sum(model.__table__.c.cards), 0))
                                        .where(*self._where(model, conditions))) or 0)
        return total + sum(n for key, n in self._tail_rows(model)
                           if all(_OPS[op](key[name], value) for name, op, value in conditions))

    def daily(self, start: int, end: int) -> tuple[int, int, int, Decimal]:
        """Points issued, points redeemed, purchases and revenue of days [start, end)."""
        c = AnalyticsDaily.__table__.c
        row = self.session.execute(
            select(func.sum(c.points_issued), func.sum(c.points_redeemed), func.sum(c.purchases), func.sum(c.revenue))
            .where(*self._where(AnalyticsDaily, [("day", ">=", start), ("day", "<", end)]))).one()
        totals = [int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), Decimal(str(row[3] or 0))]
        for key, values in self._tail_rows(AnalyticsDaily):
            if start <= key["day"] < end:
                totals = [t + v for t, v in zip(totals, values, strict=True)]
        return totals[0], totals[1], totals[2], totals[3]

    def active(self, start: int, end: int, issued_before: bool = False) -> int:
        """Cards with activity in days [start, end) (issued before `start` only, if asked)."""
        return self.count(AnalyticsActivity, [("day", ">=", start), ("day", "<", end),
                                              ("since_day" if issued_before else "prev_day", "<", start)])

    def buyers(self, start: int, end: int) -> int:
        return self.count(AnalyticsPurchaseLink, [("shape", "==", "dp"), ("a", ">=", start), ("a", "<", end),
                                                  ("b", "<", start)])

    def one_time_buyers(self, start: int, end: int) -> int:
        single = ("multi", "==", False)
        return (self.count(AnalyticsPurchaseLink, [("shape", "==", "px"), single, ("a", "<", start), ("b", ">=", end)])
                - self.count(AnalyticsPurchaseLink, [("shape", "==", "dx"), single, ("a", "<", start),
                                                     ("b", ">=", end)])
                - self.count(AnalyticsPurchaseLink, [("shape", "==", "dp"), single, ("a", ">=", end),
                                                     ("b", "<", start)]))

    def cohort_activity(self, start: int, end: int, months: int) -> dict[tuple[int, int], int]:
        """Cards issued in days [start, end) active in a month (up to day `end`), by (cohort month, k)."""
        c = AnalyticsCohortActivity.__table__.c
        conditions: list[Condition] = [("created_day", ">=", start), ("created_day", "<", end), ("first_day", "<", end)]
        k = c.month - c.cohort_month
        rows = self.session.execute(select(c.cohort_month, k, func.sum(c.cards))
                                    .where(*self._where(AnalyticsCohortActivity, conditions), k >= 0, k < months)
                                    .group_by(c.cohort_month, k)).all()
        result: dict[tuple[int, int], int] = defaultdict(int)
        for cohort, offset, n in rows:
            result[(int(cohort), int(offset))] += int(n or 0)
        for key, n in self._tail_rows(AnalyticsCohortActivity):
            if all(_OPS[op](key[name], value) for name, op, value in conditions):
                cohort = _month_of_day(key["created_day"])
                offset = _month_of_day(key["first_day"]) - cohort
                if 0 <= offset < months:
                    result[(cohort, offset)] += n
        return result


# -- the figures of service/analytics/figures.py, from the roll-ups -----------------------------------
# Same signatures and answers; counted raw when the roll-ups cannot answer.


def _figures(session: Session, brand_id: int, period: Period, given: Figures | None) -> Figures | None:
    if not whole_days(period):
        return None
    return given if given is not None else Figures.open(session, brand_id)


def active(session: Session, brand_id: int, period: Period, days: int,
           figures: Figures | None = None) -> int:
    figures = _figures(session, brand_id, period, figures)
    if figures is None:
        return analytics.active(session, brand_id, period, days)
    end = day_of(period.end)
    return figures.active(end - days, end)


def lapsed(session: Session, brand_id: int, period: Period, days: int,
           figures: Figures | None = None, older: int | None = None) -> int:
    """Issued before the cutoff and not voided, minus those of them active since: the voided
    ones (few; voiding is not in the roll-ups) are counted from the raw tables. `older`: the
    cards issued before the cutoff, if counted already (analytics.cards_before)."""
    figures = _figures(session, brand_id, period, figures)
    if figures is None:
        return analytics.lapsed(session, brand_id, period, days)
    end = day_of(period.end)
    cutoff = period.end - dt.timedelta(days=days)
    if older is None:
        older = analytics.cards_before(session, brand_id, cutoff)[0]
    voided = select(Card.id).where(Card.brand_id == brand_id, Card.voided, Card.created_at < cutoff)
    older_voided = int(session.scalar(select(func.count()).select_from(voided.subquery())) or 0)
    recent = voided.where(exists().where(LedgerEntry.card_id == Card.id, analytics._activity(cutoff, period.end)))
    active_voided = int(session.scalar(select(func.count()).select_from(recent.subquery())) or 0) if older_voided else 0
    return (older - older_voided) - (figures.active(end - days, end, issued_before=True) - active_voided)


def churn_rate(session: Session, brand_id: int, period: Period, days: int,
               figures: Figures | None = None) -> float | None:
    figures = _figures(session, brand_id, period, figures)
    if figures is None:
        return analytics.churn_rate(session, brand_id, period, days)
    end = day_of(period.end)
    before, now = figures.active(end - 2 * days, end - days), figures.active(end - days, end)
    kept = before + now - figures.active(end - 2 * days, end)  # active in both windows
    return analytics.ratio(before - kept, before)


def redemption_rate(session: Session, brand_id: int, period: Period,
                    figures: Figures | None = None) -> dict[str, Any]:
    figures = _figures(session, brand_id, period, figures)
    if figures is None:
        return analytics.redemption_rate(session, brand_id, period)
    issued, redeemed, _, _ = figures.daily(day_of(period.start), day_of(period.end))
    return {"points_issued": issued, "points_redeemed": redeemed, "rate": analytics.ratio(redeemed, issued)}


def purchases(session: Session, brand_id: int, period: Period,
              figures: Figures | None = None) -> dict[str, Any]:
    figures = _figures(session, brand_id, period, figures)
    if figures is None:
        return analytics.purchases(session, brand_id, period)
    _, _, count, revenue = figures.daily(day_of(period.start), day_of(period.end))
    average = (revenue / count).quantize(CENT) if count else None
    return {"count": count, "revenue": str(revenue.quantize(CENT)),
            "average": None if average is None else str(average)}


def repeat_purchase_rate(session: Session, brand_id: int, period: Period,
                         figures: Figures | None = None) -> dict[str, Any]:
    figures = _figures(session, brand_id, period, figures)
    if figures is None:
        return analytics.repeat_purchase_rate(session, brand_id, period)
    start, end = day_of(period.start), day_of(period.end)
    buyers = figures.buyers(start, end)
    repeat = buyers - figures.one_time_buyers(start, end)
    return {"buyers": buyers, "repeat_buyers": repeat, "rate": analytics.ratio(repeat, buyers)}


def cohorts(session: Session, brand_id: int, period: Period, months: int = analytics.COHORT_MONTHS,
            figures: Figures | None = None, sizes: list[Any] | None = None) -> list[dict[str, Any]]:
    figures = _figures(session, brand_id, period, figures)
    if figures is None:
        return analytics.cohorts(session, brand_id, period, months, sizes=sizes)
    counts = figures.cohort_activity(day_of(period.start), day_of(period.end), months)
    return analytics.cohorts(session, brand_id, period, months, active_by=counts, sizes=sizes)
