"""What works for a brand: the loyalty figures of its dashboard, each one SQL query.

Every function takes the session, the brand and a half-open UTC period ``[start, end)`` and
lets the database do the counting (SQLAlchemy Core: one aggregate query, never rows pulled
into Python). Definitions (also in README "Analytics and NPS"):

- **activity**: a ledger entry of kind purchase, earn, redeem or stamp, except birthday gifts
  (idempotency key ``birthday:...``) and entries undone since (a ``reversal`` points at them):
  something the customer did. Undone entries count nowhere: not as purchases, revenue, points
  issued or redeemed, nor visits (``not_reversed``). Card issues, expiries
  and adjustments are not activity (the same rule as the campaign audiences).
- **active** (as of ``end``, window N days): cards with activity in ``[end - N, end)``.
- **lapsed**: cards (not voided) issued before ``end - N`` with no activity in that window.
- **churn rate**: of the cards active in the window before, ``[end - 2N, end - N)``, the
  share with no activity in ``[end - N, end)``.
- **retention** of a monthly cohort (cards issued in one UTC calendar month): for k = 0, 1,
  ... the share of its cards with activity in the k-th calendar month after joining (0 =
  the month it joined).
- **redemption rate**: points redeemed / points issued (earned by purchases and earn
  entries) in the period.
- **average purchase**: the mean amount of purchase entries in the period; **repeat
  purchase rate**: cards with 2+ purchases in the period / cards with 1+.
- **lifetime value**: the average lifetime spend (all purchases to date) of the cards
  issued in the period.

Voided cards count where they were issued and where they were active; they are never
"installed" nor "lapsed" (they cannot come back). Queries join ledger entries to cards for
the brand (ledger rows carry none).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.campaigns import lift, outcomes
from service.models import (
    Campaign,
    CampaignRecipient,
    Card,
    GoogleWalletEvent,
    LedgerEntry,
    NpsAnswer,
    PushDelivery,
    Registration,
    Store,
    WebhookEvent,
    not_reversed,
)

ACTIVITY_KINDS = ("purchase", "earn", "redeem", "stamp")  # a stamp is a visit
EARNING_KINDS = ("purchase", "earn")
BIRTHDAY_KEY_PREFIX = "birthday:"
#: Registrations that mean "in a wallet that speaks PassKit": Apple Wallet, and Android apps
#: that open .pkpass files (WalletPasses relay, FCM).
PASSKIT_KINDS = ("apple", "relay", "fcm")
COHORT_MONTHS = 12
CAMPAIGN_WINDOW = outcomes.WINDOW
#: A campaign's 7-day purchases are final this long after its window closed: the request that
#: wrote a purchase stamped it before it committed (the roll-ups wait as long: their LAG).
SETTLE = dt.timedelta(minutes=2)
#: Campaigns whose recipients no longer change.
FINAL_STATUSES = ("finished", "cancelled")
MAX_CAMPAIGNS = 100


@dataclass(frozen=True)
class Period:
    """A half-open UTC period [start, end)."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period is in aware UTC datetimes")
        if self.end <= self.start:
            raise ValueError("a period ends after it starts")


def _activity(start: dt.datetime, end: dt.datetime) -> ColumnElement[bool]:
    return and_(LedgerEntry.created_at >= start, LedgerEntry.created_at < end,
                LedgerEntry.kind.in_(ACTIVITY_KINDS), not_reversed(),
                or_(LedgerEntry.idempotency_key.is_(None),
                    not_(LedgerEntry.idempotency_key.startswith(BIRTHDAY_KEY_PREFIX))))


def _brand_ledger(brand_id: int) -> Any:
    """Ledger entries of the brand's cards (the FROM + WHERE every ledger figure starts with)."""
    return LedgerEntry.__table__.join(Card.__table__, LedgerEntry.card_id == Card.id), Card.brand_id == brand_id


def _active_cards(session: Session, brand_id: int, start: dt.datetime, end: dt.datetime) -> Any:
    """A subquery of the distinct cards with activity in [start, end)."""
    source, brand = _brand_ledger(brand_id)
    return select(LedgerEntry.card_id).distinct().select_from(source).where(
        brand, _activity(start, end)).subquery()


def _int(value: Any) -> int:
    return int(value or 0)


def ratio(part: Any, whole: Any) -> float | None:
    """part / whole rounded to 4 places; None when there is nothing to divide by."""
    whole = _int(whole)
    return None if whole == 0 else round(_int(part) / whole, 4)


def _month_index(session: Session, column: Any) -> ColumnElement[int]:
    """year * 12 + month of a UTC timestamp column, so months subtract as integers."""
    if session.get_bind().dialect.name == "postgresql":
        column = func.timezone("UTC", column)
    return cast(extract("year", column) * 12 + extract("month", column), Integer)


def _month_label(index: int) -> str:
    year, month = divmod(index - 1, 12)
    return f"{year:04d}-{month + 1:02d}"


def _month_of(moment: dt.datetime) -> int:
    return moment.year * 12 + moment.month


def _month_start(index: int) -> dt.datetime:
    year, month = divmod(index - 1, 12)
    return dt.datetime(year, month + 1, 1, tzinfo=dt.UTC)


# -- cards and wallets -----------------------------------------------------------------------


def cards_issued(session: Session, brand_id: int, period: Period) -> int:
    """Cards issued in the period."""
    return _int(session.scalar(select(func.count()).select_from(Card).where(
        Card.brand_id == brand_id, Card.created_at >= period.start, Card.created_at < period.end)))


def cards_total(session: Session, brand_id: int, period: Period) -> int:
    """Cards issued before the end of the period (all that exist at its end)."""
    return cards_before(session, brand_id, period.end)[0]


def cards_before(session: Session, brand_id: int, *moments: dt.datetime) -> list[int]:
    """The brand's cards issued before each moment, counted in one pass over ix_cards_brand_created."""
    last = max(moments)
    row = session.execute(select(*(func.sum(case((Card.created_at < moment, 1), else_=0)) for moment in moments))
                          .where(Card.brand_id == brand_id, Card.created_at < last)).one()
    return [_int(n) for n in row]


def installed_apple(session: Session, brand_id: int) -> int:
    """Cards (not voided) now in a PassKit wallet: at least one active registration (Apple
    Wallet, or an Android app through the relay or FCM). Current state: no period.

    A semi-join of two index-only scans (ix_cards_brand_id_voided, ix_registrations_installed):
    no DISTINCT over the registrations, no card rows read."""
    registered = exists().where(Registration.card_id == Card.id, Registration.active.is_(True),
                                Registration.client_kind.in_(PASSKIT_KINDS))
    return _int(session.scalar(select(func.count()).select_from(Card).where(
        Card.brand_id == brand_id, Card.voided.is_(False), registered)))


def installed_google(session: Session, brand_id: int) -> int:
    """Cards (not voided) now saved in Google Wallet: their latest callback is a save.

    Each card's callbacks newest first, its first one kept: a merge of two index-only scans in
    card order (ix_google_wallet_events_card_last, ix_cards_brand_id_voided), no grouping."""
    newest = func.row_number().over(partition_by=GoogleWalletEvent.card_id, order_by=GoogleWalletEvent.id.desc())
    cards = select(Card.id).where(Card.brand_id == brand_id, Card.voided.is_(False))
    latest = (select(GoogleWalletEvent.event_type, newest.label("n"))
              .where(GoogleWalletEvent.card_id.in_(cards)).subquery())
    return _int(session.scalar(select(func.count()).select_from(latest).where(
        latest.c.n == 1, latest.c.event_type == "save")))


def _installed_now(card_id: Any) -> ColumnElement[bool]:
    """The card is in some wallet now: an active PassKit registration or a Google save last.
    Both are looked up per card in an index (OFFSET 0 keeps PostgreSQL from hashing all of
    the active registrations instead: half a million, for the few ten thousand removals)."""
    latest_google = (select(GoogleWalletEvent.event_type).where(GoogleWalletEvent.card_id == card_id)
                     .order_by(GoogleWalletEvent.id.desc()).limit(1).scalar_subquery())
    registered = (select(Registration.card_id).where(Registration.card_id == card_id, Registration.active.is_(True),
                                                Registration.client_kind.in_(PASSKIT_KINDS)).offset(0).exists())
    return or_(registered, func.coalesce(latest_google, "none") == "save")  # no callback: NULL, not false


def removed(session: Session, brand_id: int, period: Period) -> int:
    """Cards removed from a wallet in the period and in no wallet now.

    Removals are the PassKit unregistrations recorded as `card.uninstalled` events (the
    webhook outbox, kept for every brand) and Google Wallet delete callbacks.
    """
    apple = (select(WebhookEvent.data["card_id"].as_integer().label("card_id"))
             .where(WebhookEvent.brand_id == brand_id, WebhookEvent.type == "card.uninstalled",
                    WebhookEvent.created_at >= period.start, WebhookEvent.created_at < period.end))
    # The brand's cards looked up by id in ix_cards_brand_id_voided (index-only), not joined:
    # a join would read every card of a big brand. (A card.uninstalled event has its card's
    # brand already.)
    ours = exists().where(Card.id == GoogleWalletEvent.card_id, Card.brand_id == brand_id)
    google = (select(GoogleWalletEvent.card_id.label("card_id"))
              .where(ours, GoogleWalletEvent.event_type == "del",
                     GoogleWalletEvent.created_at >= period.start, GoogleWalletEvent.created_at < period.end))
    gone = apple.union(google).subquery()
    return _int(session.scalar(
        select(func.count()).select_from(gone).where(not_(_installed_now(gone.c.card_id)))))


# -- activity --------------------------------------------------------------------------------


def active(session: Session, brand_id: int, period: Period, days: int) -> int:
    """Cards with activity in the `days` before the end of the period."""
    cards = _active_cards(session, brand_id, period.end - dt.timedelta(days=days), period.end)
    return _int(session.scalar(select(func.count()).select_from(cards)))


def lapsed(session: Session, brand_id: int, period: Period, days: int) -> int:
    """Cards (not voided) issued before `end - days` without activity in the `days` before `end`."""
    cutoff = period.end - dt.timedelta(days=days)
    older = _int(session.scalar(select(func.count()).select_from(Card).where(
        Card.brand_id == brand_id, Card.created_at < cutoff, Card.voided.is_(False))))
    recent = _active_cards(session, brand_id, cutoff, period.end)
    older_and_active = _int(session.scalar(
        select(func.count()).select_from(recent.join(Card, Card.id == recent.c.card_id))
        .where(Card.created_at < cutoff, Card.voided.is_(False))))
    return older - older_and_active


def churn_rate(session: Session, brand_id: int, period: Period, days: int) -> float | None:
    """Of the cards active in [end - 2N, end - N), the share with no activity in [end - N, end)."""
    window = dt.timedelta(days=days)
    before = _active_cards(session, brand_id, period.end - 2 * window, period.end - window)
    now = _active_cards(session, brand_id, period.end - window, period.end)
    row = session.execute(
        select(func.count(), func.count(now.c.card_id))
        .select_from(before.outerjoin(now, now.c.card_id == before.c.card_id))).one()
    had, kept = _int(row[0]), _int(row[1])
    return ratio(had - kept, had)


# -- points and purchases --------------------------------------------------------------------


def redemption_rate(session: Session, brand_id: int, period: Period) -> dict[str, Any]:
    """Points redeemed / points issued in the period (earn and purchase entries issue points)."""
    source, brand = _brand_ledger(brand_id)
    issued = func.sum(case((and_(LedgerEntry.kind.in_(EARNING_KINDS), LedgerEntry.points > 0),
                            LedgerEntry.points), else_=0))
    redeemed = func.sum(case((LedgerEntry.kind == "redeem", -LedgerEntry.points), else_=0))
    row = session.execute(select(issued, redeemed).select_from(source).where(
        brand, LedgerEntry.created_at >= period.start, LedgerEntry.created_at < period.end,
        LedgerEntry.kind.in_((*EARNING_KINDS, "redeem")), not_reversed())).one()
    return {"points_issued": _int(row[0]), "points_redeemed": _int(row[1]), "rate": ratio(row[1], row[0])}


def purchases(session: Session, brand_id: int, period: Period) -> dict[str, Any]:
    """Purchases by members in the period: count, revenue and the average purchase."""
    source, brand = _brand_ledger(brand_id)
    row = session.execute(select(func.count(), func.sum(LedgerEntry.amount)).select_from(source).where(
        brand, LedgerEntry.kind == "purchase", LedgerEntry.amount.is_not(None), not_reversed(),
        LedgerEntry.created_at >= period.start, LedgerEntry.created_at < period.end)).one()
    count, revenue = _int(row[0]), Decimal(row[1] or 0)
    average = (revenue / count).quantize(Decimal("0.01")) if count else None
    return {"count": count, "revenue": str(revenue.quantize(Decimal("0.01"))),
            "average": None if average is None else str(average)}


def repeat_purchase_rate(session: Session, brand_id: int, period: Period) -> dict[str, Any]:
    """Cards with 2+ purchases in the period / cards with 1+."""
    source, brand = _brand_ledger(brand_id)
    per_card = (select(LedgerEntry.card_id, func.count().label("n")).select_from(source).where(
        brand, LedgerEntry.kind == "purchase", not_reversed(),
        LedgerEntry.created_at >= period.start, LedgerEntry.created_at < period.end)
        .group_by(LedgerEntry.card_id).subquery())
    row = session.execute(select(func.count(), func.sum(case((per_card.c.n >= 2, 1), else_=0)))
                          .select_from(per_card)).one()
    buyers, repeat = _int(row[0]), _int(row[1])
    return {"buyers": buyers, "repeat_buyers": repeat, "rate": ratio(repeat, buyers)}


def lifetime_value(session: Session, brand_id: int, period: Period) -> str | None:
    """Average lifetime spend (every purchase to date) of the cards issued in the period."""
    return issued_and_lifetime_value(session, brand_id, period)[1]


def issued_and_lifetime_value(session: Session, brand_id: int, period: Period) -> tuple[int, str | None]:
    """cards_issued and lifetime_value at once: the same cards (their rows, for the spend)."""
    row = session.execute(select(func.count(), func.sum(Card.lifetime_spend)).where(
        Card.brand_id == brand_id, Card.created_at >= period.start, Card.created_at < period.end)).one()
    count = _int(row[0])
    if not count:
        return 0, None
    return count, str((Decimal(row[1] or 0) / count).quantize(Decimal("0.01")))


# -- cohorts ---------------------------------------------------------------------------------


def cohort_sizes(session: Session, brand_id: int, period: Period) -> list[Any]:
    """(month, cards, their lifetime spend) of the cards issued in the period, per month."""
    # The month from comparisons with the month starts (cheap), not from EXTRACT (numeric
    # arithmetic per card: it tripled the time of this scan of every card of the period).
    first = _month_of(period.start.astimezone(dt.UTC))
    last = _month_of((period.end - dt.timedelta(microseconds=1)).astimezone(dt.UTC))
    joined: Any = literal(last)
    if first < last:
        joined = case(*((Card.created_at < _month_start(month + 1), month) for month in range(first, last)),
                      else_=last)
    return list(session.execute(
        select(joined, func.count(), func.sum(Card.lifetime_spend)).where(
            Card.brand_id == brand_id, Card.created_at >= period.start, Card.created_at < period.end)
        .group_by(joined).order_by(joined)).all())


def cohorts(session: Session, brand_id: int, period: Period, months: int = COHORT_MONTHS,
            active_by: dict[tuple[int, int], int] | None = None,
            sizes: list[Any] | None = None) -> list[dict[str, Any]]:
    """Monthly cohorts of the cards issued in the period: size, and the share active in each
    calendar month after joining (k = 0 .. months-1, only months that have begun by `end`).
    `active_by` ((cohort month, k) -> cards; from service/analytics/rollups.py) saves counting
    them from the ledger; `sizes` (cohort_sizes) may be counted beforehand."""
    joined = _month_index(session, Card.created_at)
    if sizes is None:
        sizes = cohort_sizes(session, brand_id, period)
    if not sizes:
        return []
    if active_by is None:
        active_by = _cohort_activity(session, brand_id, period, months, joined, _int(sizes[0][0]))
    last_month = _month_of(period.end - dt.timedelta(microseconds=1))
    result = []
    for month, size, spend in sizes:
        month, size = _int(month), _int(size)
        span = min(months, last_month - month + 1)
        counts = [active_by.get((month, k), 0) for k in range(span)]
        result.append({
            "cohort": _month_label(month),
            "cards": size,
            "active": counts,
            "retention": [round(n / size, 4) for n in counts],
            "lifetime_value": str((Decimal(spend or 0) / size).quantize(Decimal("0.01"))),
        })
    return result


def _cohort_activity(session: Session, brand_id: int, period: Period, months: int, joined: Any,
                     first_month: int) -> dict[tuple[int, int], int]:
    """(cohort month, k) -> cards of the cohort with activity in its k-th month (up to `end`)."""
    source, brand = _brand_ledger(brand_id)
    offset = _month_index(session, LedgerEntry.created_at) - joined
    horizon = min(period.end, _month_start(_month_of(period.end - dt.timedelta(microseconds=1)) + 1))
    # Distinct (cohort, k, card) first, then count: a hash aggregate, where COUNT(DISTINCT)
    # per group would sort all of the period's activity.
    seen = (select(joined.label("cohort"), offset.label("k"), LedgerEntry.card_id).distinct()
            .select_from(source)
            .where(brand, Card.created_at >= period.start, Card.created_at < period.end,
                   _activity(_month_start(first_month), horizon), offset < months)).subquery()
    active_rows = session.execute(select(seen.c.cohort, seen.c.k, func.count())
                                  .group_by(seen.c.cohort, seen.c.k)).all()
    return {(_int(c), _int(k)): _int(n) for c, k, n in active_rows}


# -- campaigns -------------------------------------------------------------------------------


def campaigns(session: Session, brand_id: int, period: Period) -> list[dict[str, Any]]:
    """Campaigns started in the period (newest first): the delivery funnel in cards, and the
    purchases of the recipients in the 7 days after the campaign started.

    targeted = recipients; sent = cards with a push that left us; accepted = the vendor
    took one; confirmed = a phone then fetched the new version. Cards without a phone are
    targeted (they show the message next time the pass is opened) but never sent.
    The 7-day purchases come from the campaign row once stored (see `store_purchases`).
    """
    return [campaign_figures(session, row) for row in campaign_rows(session, brand_id, period)]


def campaign_rows(session: Session, brand_id: int, period: Period) -> list[Any]:
    """(id, name, kind, status, started_at, buyers_7d, purchases_7d, revenue_7d, holdout_percent, cost) of the
    campaigns started in the period, newest first."""
    return list(session.execute(
        select(Campaign.id, Campaign.name, Campaign.kind, Campaign.status, Campaign.started_at,
               Campaign.buyers_7d, Campaign.purchases_7d, Campaign.revenue_7d, Campaign.holdout_percent,
               Campaign.cost)
        .where(Campaign.brand_id == brand_id, Campaign.started_at.is_not(None),
               Campaign.started_at >= period.start, Campaign.started_at < period.end)
        .order_by(Campaign.started_at.desc(), Campaign.id.desc()).limit(MAX_CAMPAIGNS)).all())


def purchases_final(row: Any, now: dt.datetime) -> bool:
    """Whether a campaign's 7-day purchases can no longer change: its recipients are all known
    (finished or cancelled: a geo campaign adds the cards issued meanwhile when it ends) and its
    window closed more than SETTLE ago. Purchases are ledger entries stamped with the time of
    the request that wrote them (service/loyalty/engine.py; imports write only issue and import
    entries, with the import's time), so a purchase of the window commits within SETTLE of it."""
    return row.status in FINAL_STATUSES and row.started_at + CAMPAIGN_WINDOW + SETTLE <= now


def campaign_purchases(session: Session, campaign_id: int, started_at: dt.datetime) -> tuple[int, int, Decimal]:
    """(buyers, purchases, revenue) in the 7 days after a campaign's start of the recipients it
    reached (a vendor took the push, or Google the message: service/campaigns/outcomes.py), counted
    from the ledger. A recipient without a phone was told nothing; its purchases are not the
    campaign's, and neither are the holdout's (sent nothing)."""
    return outcomes.purchases(session, campaign_id, started_at)


def campaign_figures(session: Session, row: Any) -> dict[str, Any]:
    """One campaign's funnel and 7-day purchases (see `campaigns`); `row` from `campaign_rows`.
    The purchases are read from the row when stored, else counted from the ledger (about
    0.1 s per campaign of 200 000 recipients at 10 million entries)."""
    campaign_id = row.id
    targeted = _int(session.scalar(select(func.count()).select_from(CampaignRecipient)
                                   .where(CampaignRecipient.campaign_id == campaign_id,
                                          CampaignRecipient.holdout.is_(False))))
    reached = outcomes.reached_count(session, campaign_id)
    # Per card first, then counted: the pushes come in card order from an index-only scan of
    # ix_push_deliveries_campaign_card_status (three COUNT(DISTINCT) sorted them three times).
    per_card = (select(func.max(case((PushDelivery.status != "queued", 1), else_=0)).label("sent"),
                       func.max(case((PushDelivery.status.in_(("accepted", "confirmed")), 1), else_=0))
                       .label("accepted"),
                       func.max(case((PushDelivery.status == "confirmed", 1), else_=0)).label("confirmed"))
                .where(PushDelivery.campaign_id == campaign_id).group_by(PushDelivery.card_id).subquery())
    funnel = session.execute(select(func.sum(per_card.c.sent), func.sum(per_card.c.accepted),
                                    func.sum(per_card.c.confirmed))).one()
    if row.buyers_7d is not None:
        buyers, purchases, revenue = _int(row.buyers_7d), _int(row.purchases_7d), Decimal(row.revenue_7d)
    else:
        buyers, purchases, revenue = campaign_purchases(session, campaign_id, row.started_at)
    return {
        "id": campaign_id, "name": row.name, "kind": row.kind, "status": row.status,
        "started_at": row.started_at.isoformat(),
        "targeted": targeted, "sent": _int(funnel[0]), "accepted": _int(funnel[1]),
        "confirmed": _int(funnel[2]), "reached": reached,
        "buyers_7d": buyers, "purchases_7d": purchases,
        "revenue_7d": str(revenue.quantize(Decimal("0.01"))),
        "conversion_7d": ratio(buyers, reached),
        **campaign_lift(session, row),
    }


def campaign_lift(session: Session, row: Any) -> dict[str, Any]:
    """The lift columns of a campaign's figures: its holdout's size, whether the figures are
    causal, and (with a holdout) the incremental revenue with its 95 % interval and ROMI. One
    more ledger query, only for campaigns that kept a holdout."""
    columns: dict[str, Any] = {"holdout_percent": _int(row.holdout_percent), "holdout": 0, "causal": False,
                               "incremental_revenue": None, "incremental_revenue_low": None,
                               "incremental_revenue_high": None, "romi": None}
    if not row.holdout_percent:
        return columns
    sizes = outcomes.group_sizes(session, row.id)
    groups = outcomes.campaign_groups(session, row.id, row.started_at)
    measured = lift.measure(groups[False], groups[True], row.cost)
    columns.update(holdout=sizes[True]["cards"], causal=measured["causal"])
    if measured["incremental_revenue"] is not None:
        incremental = measured["incremental_revenue"]
        columns.update(incremental_revenue=incremental["estimate"], incremental_revenue_low=incremental["low"],
                       incremental_revenue_high=incremental["high"])
    if measured["romi"] is not None:
        columns["romi"] = measured["romi"]["estimate"]
    return columns


def store_purchases(session: Session, figures: list[dict[str, Any]]) -> int:
    """Keep campaigns' final 7-day purchases (figures of `campaign_figures` for which
    `purchases_final` held) on their rows, so that later reports read them instead of the
    ledger; a row stored already is left alone. The caller commits. Returns rows stored."""
    stored = 0
    for one in figures:
        stored += session.execute(
            update(Campaign).where(Campaign.id == one["id"], Campaign.buyers_7d.is_(None))
            .values(buyers_7d=one["buyers_7d"], purchases_7d=one["purchases_7d"],
                    revenue_7d=Decimal(one["revenue_7d"]))
            .execution_options(synchronize_session=False)).rowcount
    return stored


# -- NPS -------------------------------------------------------------------------------------


def _nps(promoters: int, detractors: int, answers: int) -> int | None:
    """Promoters (9-10) minus detractors (0-6), in percent of all answers, rounded."""
    return None if answers == 0 else round(100 * (promoters - detractors) / answers)


def _nps_columns() -> tuple[Any, Any, Any]:
    return (func.count(), func.sum(case((NpsAnswer.score >= 9, 1), else_=0)),
            func.sum(case((NpsAnswer.score <= 6, 1), else_=0)))


def _nps_row(answers: Any, promoters: Any, detractors: Any) -> dict[str, Any]:
    answers, promoters, detractors = _int(answers), _int(promoters), _int(detractors)
    return {"answers": answers, "promoters": promoters, "passives": answers - promoters - detractors,
            "detractors": detractors, "nps": _nps(promoters, detractors, answers)}


def nps_total(session: Session, brand_id: int, period: Period) -> dict[str, Any]:
    """NPS of the answers given (last changed) in the period."""
    row = session.execute(select(*_nps_columns()).where(
        NpsAnswer.brand_id == brand_id, NpsAnswer.answered_at >= period.start,
        NpsAnswer.answered_at < period.end)).one()
    return _nps_row(*row)


def nps_by_month(session: Session, brand_id: int, period: Period) -> list[dict[str, Any]]:
    """NPS per UTC calendar month of the answers in the period."""
    month = _month_index(session, NpsAnswer.answered_at)
    rows = session.execute(select(month, *_nps_columns()).where(
        NpsAnswer.brand_id == brand_id, NpsAnswer.answered_at >= period.start,
        NpsAnswer.answered_at < period.end).group_by(month).order_by(month)).all()
    return [{"month": _month_label(_int(m)), **_nps_row(*rest)} for m, *rest in rows]


def nps_by_store(session: Session, brand_id: int, period: Period) -> list[dict[str, Any]]:
    """NPS per store the answers are attributed to (None: no store known)."""
    rows = session.execute(
        select(NpsAnswer.store_id, Store.name, *_nps_columns())
        .select_from(NpsAnswer.__table__.outerjoin(Store.__table__, Store.id == NpsAnswer.store_id))
        .where(NpsAnswer.brand_id == brand_id, NpsAnswer.answered_at >= period.start,
               NpsAnswer.answered_at < period.end)
        .group_by(NpsAnswer.store_id, Store.name).order_by(NpsAnswer.store_id)).all()
    return [{"store_id": store_id, "store": name, **_nps_row(*rest)} for store_id, name, *rest in rows]
