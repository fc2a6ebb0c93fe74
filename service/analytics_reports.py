"""The dashboard's four answers (summary, cohorts, campaigns, NPS), and their cache.

Each report is built from the one-query metrics of service/analytics.py. A brand with a
million cards and ten million transactions takes seconds to count (cohorts read every
activity of the period), so a report that took longer than `SLOW_SECONDS` is kept in
`analytics_cache` for `FRESH_FOR`; the job in service/analytics_tasks.py recomputes what
was looked at in the last day before it goes stale, and counts the default dashboard of
every brand with BIG_BRAND_CARDS cards ahead of time, so the dashboard of a big brand
answers from there. Small brands are always counted live. Every answer says when it was computed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service import analytics
from service.analytics import Period
from service.models import AnalyticsCache, Card, utcnow

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


def summary(session: Session, brand_id: int, period: Period, query: Query) -> dict[str, Any]:
    days = query.days
    return {
        "cards": {
            "issued": analytics.cards_issued(session, brand_id, period),
            "total": analytics.cards_total(session, brand_id, period),
            "installed_apple": analytics.installed_apple(session, brand_id),
            "installed_google": analytics.installed_google(session, brand_id),
            "removed": analytics.removed(session, brand_id, period),
            "active": analytics.active(session, brand_id, period, days),
            "lapsed": analytics.lapsed(session, brand_id, period, days),
        },
        "churn_rate": analytics.churn_rate(session, brand_id, period, days),
        "redemption": analytics.redemption_rate(session, brand_id, period),
        "purchases": analytics.purchases(session, brand_id, period),
        "repeat_purchase": analytics.repeat_purchase_rate(session, brand_id, period),
        "lifetime_value": analytics.lifetime_value(session, brand_id, period),
    }


def cohorts(session: Session, brand_id: int, period: Period, query: Query) -> dict[str, Any]:
    return {"cohorts": analytics.cohorts(session, brand_id, period)}


def campaigns(session: Session, brand_id: int, period: Period, query: Query) -> dict[str, Any]:
    return {"campaigns": analytics.campaigns(session, brand_id, period)}


def nps(session: Session, brand_id: int, period: Period, query: Query) -> dict[str, Any]:
    return {"total": analytics.nps_total(session, brand_id, period),
            "by_month": analytics.nps_by_month(session, brand_id, period),
            "by_store": analytics.nps_by_store(session, brand_id, period)}


REPORTS: dict[str, Callable[[Session, int, Period, Query], dict[str, Any]]] = {
    "summary": summary, "cohorts": cohorts, "campaigns": campaigns, "nps": nps,
}


def compute(session: Session, brand_id: int, report: str, query: Query,
            now: dt.datetime | None = None) -> tuple[dict[str, Any], float]:
    """The report counted now, and how many seconds that took."""
    now = now or utcnow()
    period = query.period(now.date())
    started = time.perf_counter()
    body = REPORTS[report](session, brand_id, period, query)
    seconds = time.perf_counter() - started
    return {"period": _period_json(period, query), **body, "computed_at": now.isoformat(),
            "cached": False}, seconds


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
    return session.scalar(select(Card.id).where(Card.brand_id == brand_id).order_by(Card.brand_id, Card.created_at)
                          .offset(BIG_BRAND_CARDS - 1).limit(1)) is not None


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
    if row is None and count_later is not None and is_big(session, brand_id):
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
