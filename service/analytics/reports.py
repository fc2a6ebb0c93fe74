"""The dashboard's four answers (summary, cohorts, campaigns, NPS), and their cache.

Each report is built from the metrics of service/analytics/figures.py; the ledger figures (active,
lapsed, churn, points, purchases, repeat buyers, cohort activity) come from the roll-ups of
service/analytics/rollups.py, most others from index-only scans (the indexes in
service/models/), so any period of a brand with a million cards and ten million transactions
is counted live, exact up to now (bench/analytics.py: the page's four reports at once in about
1.7 s). A report that still took longer than `SLOW_SECONDS` is kept in `analytics_cache` for
`FRESH_FOR`; the job in service/analytics/tasks.py recomputes what was looked at in the last
day before it goes stale.
Until the roll-ups are built (the first backfill), a big brand (BIG_BRAND_CARDS cards) is
counted from the raw tables by a job instead (202 meanwhile), and its default dashboard
ahead of time. Every answer says when it was computed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from service.analytics import figures as analytics
from service.analytics import rollups as analytics_rollups
from service.analytics.figures import Period
from service.models import AnalyticsCache, Card, utcnow

log = logging.getLogger(__name__)

SLOW_SECONDS = 0.5
FRESH_FOR = dt.timedelta(minutes=15)
REFRESH_AFTER = dt.timedelta(minutes=10)
#: A big brand is shown figures up to this old (saying when they were counted) while a job recounts them.
STALE_FOR = dt.timedelta(days=1)
WATCHED_FOR = dt.timedelta(days=1)
DEFAULT_DAYS = 90
DEFAULT_MONTHS = 12
#: Brands with this many cards get their default dashboard counted by the job before anyone asks.
BIG_BRAND_CARDS = 50_000
WORK_MEM = "128MB"
#: Connections one report counts on at once (PostgreSQL).
PARALLEL = 3
#: A report body's figures to keep after the report (see `campaigns`), not part of the answer.
FINAL = "_final"


@dataclass(frozen=True)
class Query:
    """What a report is asked for: a period of whole UTC days (None = the default: the last
    12 calendar months including this one) and the activity window in days."""

    start: dt.date | None = None
    end: dt.date | None = None  # inclusive
    days: int = DEFAULT_DAYS

    def period(self, today: dt.date) -> Period:
        end = self.end or today
        if self.start is not None:
            start = self.start
        else:
            month = end.year * 12 + end.month - 1 - (DEFAULT_MONTHS - 1)
            start = dt.date(month // 12, month % 12 + 1, 1)
        return Period(dt.datetime.combine(start, dt.time(), dt.UTC),
                      dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC))

    def key(self, report: str) -> str:
        """The cache key; a default period stays one key across days (the job moves it on)."""
        start = self.start.isoformat() if self.start else "default"
        end = self.end.isoformat() if self.end else "default"
        return f"{report}:{start}:{end}:{self.days}"

    @classmethod
    def from_key(cls, key: str) -> tuple[str, Query]:
        report, start, end, days = key.split(":")
        return report, cls(None if start == "default" else dt.date.fromisoformat(start),
                           None if end == "default" else dt.date.fromisoformat(end), int(days))


def _period_json(period: Period, query: Query) -> dict[str, Any]:
    return {"from": period.start.date().isoformat(),
            "to": (period.end - dt.timedelta(days=1)).date().isoformat(), "days": query.days}


def _settings(session: Session) -> None:
    """PostgreSQL settings for this transaction's report queries. Distinct cards by the hundred
    thousand (raw counting, before the roll-ups are built): hash them in memory rather than
    spill to disk (the default work_mem is 4 MB). No JIT: compiling a plan's expressions took
    up to 0.3 s per query (inlining, optimisation) on queries that run in tens of milliseconds.
    No parallel workers: the page's four reports, and a report's figures (PARALLEL), already run
    at once, so more processes per query only add their start-up and hand-over on the same cores."""
    session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    session.execute(text("SET LOCAL jit = off"))
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


def _in_parallel(session: Session, calls: dict[str, Callable[[Session], Any]]) -> Callable[[], dict[str, Any]]:
    """Start independent figures on connections of their own (PostgreSQL; each is one query or
    a few, consistent on its own: a big brand's wallet and card figures scan every card, which
    waits on the disk more than on a core); returns the function that collects them. Elsewhere
    (SQLite, a session bound to one connection) they are counted one after the other."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        results = {name: call(session) for name, call in calls.items()}
        return lambda: results

    def one(call: Callable[[Session], Any]) -> Any:
        with Session(bind) as own:
            _settings(own)
            try:
                return call(own)
            finally:
                own.rollback()

    pool = ThreadPoolExecutor(max_workers=PARALLEL)
    futures = {name: pool.submit(one, call) for name, call in calls.items()}
    pool.shutdown(wait=False)
    return lambda: {name: future.result() for name, future in futures.items()}


def summary(session: Session, brand_id: int, period: Period, query: Query) -> dict[str, Any]:
    days, rollups = query.days, analytics_rollups
    others = _in_parallel(session, {
        "installed_apple": lambda s: analytics.installed_apple(s, brand_id),
        "installed_google": lambda s: analytics.installed_google(s, brand_id),
        "removed": lambda s: analytics.removed(s, brand_id, period),
        "cards": lambda s: analytics.issued_and_lifetime_value(s, brand_id, period),
        # All cards at the end, and those issued before the activity window (for lapsed): one pass.
        "before": lambda s: analytics.cards_before(s, brand_id, period.end, period.end - dt.timedelta(days=days)),
    })
    figures = rollups.Figures.open(session, brand_id)  # None: counted from the raw tables
    body = {
        "cards": {"active": rollups.active(session, brand_id, period, days, figures)},
        "churn_rate": rollups.churn_rate(session, brand_id, period, days, figures),
        "redemption": rollups.redemption_rate(session, brand_id, period, figures),
        "purchases": rollups.purchases(session, brand_id, period, figures),
        "repeat_purchase": rollups.repeat_purchase_rate(session, brand_id, period, figures),
    }
    counted = others()
    issued, lifetime_value = counted["cards"]
    total, older = counted["before"]
    body["cards"] = {"issued": issued, "total": total, "installed_apple": counted["installed_apple"],
                     "installed_google": counted["installed_google"], "removed": counted["removed"],
                     **body["cards"],
                     "lapsed": rollups.lapsed(session, brand_id, period, days, figures, older=older)}
    return {**body, "lifetime_value": lifetime_value}


def cohorts(session: Session, brand_id: int, period: Period, query: Query) -> dict[str, Any]:
    sizes = _in_parallel(session, {"sizes": lambda s: analytics.cohort_sizes(s, brand_id, period)})
    rollups = analytics_rollups
    figures = rollups.Figures.open(session, brand_id) if rollups.whole_days(period) else None
    counts = None if figures is None else figures.cohort_activity(
        rollups.day_of(period.start), rollups.day_of(period.end), analytics.COHORT_MONTHS)
    return {"cohorts": analytics.cohorts(session, brand_id, period, active_by=counts, sizes=sizes()["sizes"])}


def campaigns(session: Session, brand_id: int, period: Period, query: Query) -> dict[str, Any]:
    """The campaigns; those whose 7-day purchases became final were counted from the ledger one
    last time, and `compute` stores them after the report (FINAL: read only transactions here)."""
    now = utcnow()
    rows = analytics.campaign_rows(session, brand_id, period)
    collect = _in_parallel(session, {str(i): (lambda s, row=row: analytics.campaign_figures(s, row))
                                     for i, row in enumerate(rows)})()
    figures = [collect[str(i)] for i in range(len(rows))]
    final = [one for row, one in zip(rows, figures, strict=True)
             if row.buyers_7d is None and analytics.purchases_final(row, now)]
    return {"campaigns": figures, **({FINAL: final} if final else {})}


def nps(session: Session, brand_id: int, period: Period, query: Query) -> dict[str, Any]:
    return {"total": analytics.nps_total(session, brand_id, period),
            "by_month": analytics.nps_by_month(session, brand_id, period),
            "by_store": analytics.nps_by_store(session, brand_id, period)}


REPORTS: dict[str, Callable[[Session, int, Period, Query], dict[str, Any]]] = {
    "summary": summary, "cohorts": cohorts, "campaigns": campaigns, "nps": nps,
}


def compute(session: Session, brand_id: int, report: str, query: Query,
            now: dt.datetime | None = None) -> tuple[dict[str, Any], float]:
    """The report counted now, and how many seconds that took. Commits the campaigns' 7-day
    purchases that became final (see `campaigns`), after the report's read transaction."""
    now = now or utcnow()
    period = query.period(now.date())
    started = time.perf_counter()
    if session.get_bind().dialect.name == "postgresql":
        # One snapshot for the whole report: the roll-ups, their watermark and the tail past it
        # must not see a roll-up job commit in between (it would count entries twice).
        session.rollback()
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        _settings(session)
    body = REPORTS[report](session, brand_id, period, query)
    seconds = time.perf_counter() - started
    session.rollback()  # ends the read transaction and its work_mem
    final = body.pop(FINAL, None)
    if final:
        _store_final(session, final)
    return {"period": _period_json(period, query), **body, "computed_at": now.isoformat(),
            "cached": False}, seconds


def _store_final(session: Session, figures: list[dict[str, Any]]) -> None:
    """Keep campaigns' final 7-day purchases, in a short transaction of its own. Only a saving:
    when the database is busy (SQLite's write lock) the next report stores them."""
    try:
        analytics.store_purchases(session, figures)
        session.commit()
    except OperationalError:
        session.rollback()
        log.info("campaign purchases not stored this time (database busy)", exc_info=True)


def _store(session: Session, brand_id: int, key: str, payload: dict[str, Any], seconds: float,
           now: dt.datetime, requested_at: dt.datetime | None) -> None:
    row = session.scalar(select(AnalyticsCache).where(AnalyticsCache.brand_id == brand_id,
                                                      AnalyticsCache.key == key))
    if row is None:
        row = AnalyticsCache(brand_id=brand_id, key=key, requested_at=requested_at or now)
        try:
            with session.begin_nested():
                session.add(row)
                row.payload, row.seconds, row.computed_at = payload, seconds, now
        except IntegrityError:  # another process stored it meanwhile; ours is as good
            return
    row.payload, row.seconds, row.computed_at = payload, seconds, now
    if requested_at is not None:
        row.requested_at = requested_at


class Counting(Exception):
    """A big brand's report is not cached: it is being counted in the background (a job)."""


def is_big(session: Session, brand_id: int) -> bool:
    """BIG_BRAND_CARDS cards or more (stops counting there: an index range, not a full count)."""
    return session.scalar(select(Card.created_at).where(Card.brand_id == brand_id)  # index-only: no card rows
                          .order_by(Card.brand_id, Card.created_at).offset(BIG_BRAND_CARDS - 1).limit(1)) is not None


def _cached(session: Session, brand_id: int, key: str, query: Query, now: dt.datetime,
            max_age: dt.timedelta = FRESH_FOR) -> AnalyticsCache | None:
    """The cached report of this very period (a default period moves on at midnight), if young enough."""
    row = session.scalar(select(AnalyticsCache).where(AnalyticsCache.brand_id == brand_id,
                                                      AnalyticsCache.key == key))
    if row is not None and row.computed_at > now - max_age and row.payload["period"] == _period_json(
            query.period(now.date()), query):
        return row
    return None


def _fresh(session: Session, brand_id: int, key: str, query: Query, now: dt.datetime) -> AnalyticsCache | None:
    return _cached(session, brand_id, key, query, now)


def answer(session: Session, brand_id: int, report: str, query: Query,
           count_later: Callable[[int, str], Any] | None = None) -> dict[str, Any]:
    """The report from the cache while fresh; else, for a big brand and with `count_later`
    (a job that counts it into the cache), ask for it and answer the older copy meanwhile, or
    raise Counting when there is none; else counted now (and kept if that was slow). Commits
    (the cache row): call it in a read-only request."""
    now = utcnow()
    key = query.key(report)
    row = _fresh(session, brand_id, key, query, now)
    if (row is None and count_later is not None and not analytics_rollups.can_answer(session, brand_id)
            and is_big(session, brand_id)):
        stale = _cached(session, brand_id, key, query, now, max_age=STALE_FOR)
        session.rollback()
        count_later(brand_id, key)  # with immediate jobs (tests, dev) this has counted it already
        row = _fresh(session, brand_id, key, query, now) or stale  # older figures while the job counts
        if row is None:
            raise Counting(key)
    if row is not None:
        row.requested_at = now
        session.commit()
        return {**row.payload, "cached": True}
    payload, seconds = compute(session, brand_id, report, query, now)
    if seconds >= SLOW_SECONDS or row is not None:
        _store(session, brand_id, key, payload, seconds, now, now)
        session.commit()
    return payload


def count_into_cache(session: Session, brand_id: int, key: str) -> bool:
    """The job behind Counting: count one report into the cache, unless a fresh copy is
    there already (several page loads may ask for the same report). True: counted."""
    now = utcnow()
    report, query = Query.from_key(key)
    if _fresh(session, brand_id, key, query, now) is not None:
        return False
    payload, seconds = compute(session, brand_id, report, query, now)
    _store(session, brand_id, key, payload, seconds, now, now)
    session.commit()
    return True


def warm_big_brands(session: Session, now: dt.datetime) -> int:
    """Count the default dashboard of every brand with BIG_BRAND_CARDS cards or more that has
    none cached yet, so that even its first visit answers from the cache."""
    if analytics_rollups.ready(session):
        return 0  # every period is counted live from the roll-ups
    big = session.scalars(select(Card.brand_id).group_by(Card.brand_id)
                          .having(func.count() >= BIG_BRAND_CARDS)).all()
    cached = set(session.execute(select(AnalyticsCache.brand_id, AnalyticsCache.key)
                                 .where(AnalyticsCache.brand_id.in_(big))).tuples()) if big else set()
    done = 0
    for brand_id in big:
        for report in REPORTS:
            key = Query().key(report)
            if (brand_id, key) in cached:
                continue
            payload, seconds = compute(session, brand_id, report, Query(), now)
            _store(session, brand_id, key, payload, seconds, now, now)
            session.commit()
            done += 1
    return done


def refresh(session: Session, now: dt.datetime | None = None) -> int:
    """Recompute the cached reports looked at in the last day that are about to go stale;
    drop the ones nobody looked at; count the default dashboard of big brands that have none.
    Returns how many reports were counted."""
    now = now or utcnow()
    rows = session.execute(select(AnalyticsCache.id, AnalyticsCache.brand_id, AnalyticsCache.key,
                                  AnalyticsCache.requested_at, AnalyticsCache.computed_at)).all()
    done = 0
    for row_id, brand_id, key, requested_at, computed_at in rows:
        if requested_at < now - WATCHED_FOR:
            session.query(AnalyticsCache).filter(AnalyticsCache.id == row_id).delete()
            session.commit()
            continue
        if computed_at > now - REFRESH_AFTER:
            continue
        report, query = Query.from_key(key)
        payload, seconds = compute(session, brand_id, report, query, now)
        _store(session, brand_id, key, payload, seconds, now, None)
        session.commit()
        done += 1
    return done + warm_big_brands(session, now)
