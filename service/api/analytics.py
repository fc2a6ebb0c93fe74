"""Analytics: what works for the brand (the dashboard's data), as JSON or CSV.

Every figure is defined in service/analytics/figures.py and README "Analytics and NPS". Each
endpoint takes `from` / `to` (dates, UTC, both inclusive; default: the last 12 calendar
months including this one) and `days` (the active/lapsed/churn window, default 90), and
answers CSV for `?format=csv` or `Accept: text/csv`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from typing import Any

from flask import Response, g, jsonify, request, stream_with_context
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import Select, select

from service.access.scopes import requires
from service.analytics.reports import DEFAULT_DAYS, Counting, Query, answer
from service.api.auth import require_brand
from service.api.pagination import LINK_HEADER, PageQuery, page
from service.models import NpsAnswer, Program, Store
from service.platform import db
from service.platform.csv_cells import safe_cell

blp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics",
                description="Loyalty analytics: cards, wallets, activity, retention, campaigns, NPS")

MAX_SPAN_DAYS = 3 * 366
RETRY_AFTER_SECONDS = 5
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2999, 12, 30)


class AnalyticsQuery(Schema):
    from_ = fields.Date(data_key="from", load_default=None, metadata={
        "description": "First day (UTC, inclusive); default: the 1st of the month 11 months ago",
        "example": "2026-01-01"})
    to = fields.Date(load_default=None, metadata={"description": "Last day (UTC, inclusive); default: today",
                                                  "example": "2026-11-30"})
    days = fields.Integer(load_default=DEFAULT_DAYS, validate=validate.Range(min=1, max=730), metadata={
        "description": "Activity window for active, lapsed and churn, in days"})
    format = fields.String(load_default=None, validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "csv: the same figures as text/csv"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("from_"), data.get("to")
        for name, day in (("from", start), ("to", end)):
            if day is not None and not EARLIEST <= day <= LATEST:
                raise ValidationError(f"must be between {EARLIEST} and {LATEST}", name)
        last = end or dt.datetime.now(dt.UTC).date()  # `to` defaults to today
        if start and last < start:
            if end is None:
                raise ValidationError(f"must not be after today ({last}), the default `to`", "from")
            raise ValidationError(f"must not be before `from` ({start})", "to")
        if last - (start or last - dt.timedelta(days=366)) > dt.timedelta(days=MAX_SPAN_DAYS):
            raise ValidationError(f"a period spans at most {MAX_SPAN_DAYS} days", "from")


class CountingOut(Schema):
    status = fields.String(metadata={"example": "counting"})
    detail = fields.String()


COUNTING = {"description": "A big brand's figures for a period not counted yet: a job counts them; "
                           "ask again after Retry-After seconds", "headers": {"Retry-After": {
                               "description": "Seconds", "schema": {"type": "integer"}}}}


class ReportOut(Schema):
    period = fields.Dict(metadata={"description": "from, to (inclusive dates) and days, as counted",
                                   "example": {"from": "2025-12-01", "to": "2026-11-23", "days": 90}})
    computed_at = fields.String(metadata={"description": "When these figures were counted (UTC)"})
    cached = fields.Boolean(metadata={"description": "True: from the cache kept for big brands (<= 15 min old)"})
    currency = fields.String(allow_none=True, metadata={
        "description": "ISO 4217 code of the money figures (revenue, averages, lifetime value): the brand's "
                       "programs' currency; null when its programs use several", "example": "EUR"})


class CardsOut(Schema):
    issued = fields.Integer(metadata={"description": "Cards issued in the period"})
    total = fields.Integer(metadata={"description": "Cards issued before the period's end"})
    installed_apple = fields.Integer(metadata={"description": "Cards now with an active PassKit registration "
                                                              "(Apple Wallet, Android .pkpass apps)"})
    installed_google = fields.Integer(metadata={"description": "Cards whose last Google Wallet callback is a save"})
    removed = fields.Integer(metadata={"description": "Cards removed from a wallet in the period, in none now"})
    active = fields.Integer(metadata={"description": "Cards with activity in the `days` before the end"})
    lapsed = fields.Integer(metadata={"description": "Cards older than `days` without activity in them"})


class SummaryOut(ReportOut):
    cards = fields.Nested(CardsOut)
    churn_rate = fields.Float(allow_none=True, metadata={
        "description": "Of the cards active in the window before the last `days`, the share not active in them"})
    redemption = fields.Dict(metadata={"description": "points_issued, points_redeemed, rate (redeemed / issued)"})
    purchases = fields.Dict(metadata={"description": "count, revenue, average (per purchase)"})
    repeat_purchase = fields.Dict(metadata={"description": "buyers, repeat_buyers (2+), rate"})
    lifetime_value = fields.String(allow_none=True, metadata={
        "description": "Average lifetime spend of the cards issued in the period"})


class CohortOut(Schema):
    cohort = fields.String(metadata={"example": "2026-03"})
    cards = fields.Integer()
    active = fields.List(fields.Integer(), metadata={"description": "Cards active in month k after joining"})
    retention = fields.List(fields.Float(), metadata={"description": "active[k] / cards"})
    lifetime_value = fields.String()


class CohortsOut(ReportOut):
    cohorts = fields.List(fields.Nested(CohortOut))


class CampaignFiguresOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    status = fields.String()
    started_at = fields.String()
    targeted = fields.Integer()
    sent = fields.Integer()
    accepted = fields.Integer()
    confirmed = fields.Integer()
    reached = fields.Integer(metadata={"description": "Recipients whose push a vendor took or whose Google "
                                                     "message was sent"})
    buyers_7d = fields.Integer(metadata={"description": "Reached recipients who bought within 7 days of the start"})
    purchases_7d = fields.Integer()
    revenue_7d = fields.String()
    conversion_7d = fields.Float(allow_none=True, metadata={"description": "buyers_7d / reached"})
    holdout_percent = fields.Integer(metadata={"description": "The share kept back (0: no holdout)"})
    holdout = fields.Integer(metadata={"description": "Cards kept back (recorded, sent nothing)"})
    causal = fields.Boolean(metadata={"description": "False without a holdout: the purchases above are "
                                                     "correlation, not what the campaign caused"})
    incremental_revenue = fields.String(allow_none=True, metadata={
        "description": "What the campaign caused, against its holdout (the campaign's report has the detail)"})
    incremental_revenue_low = fields.String(allow_none=True, metadata={"description": "95 % interval, low end"})
    incremental_revenue_high = fields.String(allow_none=True, metadata={"description": "95 % interval, high end"})
    romi = fields.Float(allow_none=True, metadata={"description": "(incremental revenue - cost) / cost"})


class CampaignsOut(ReportOut):
    campaigns = fields.List(fields.Nested(CampaignFiguresOut))


class NpsFiguresOut(Schema):
    answers = fields.Integer()
    promoters = fields.Integer()
    passives = fields.Integer()
    detractors = fields.Integer()
    nps = fields.Integer(allow_none=True, metadata={"description": "% promoters (9-10) - % detractors (0-6)"})


class NpsMonthOut(NpsFiguresOut):
    month = fields.String()


class NpsStoreOut(NpsFiguresOut):
    store_id = fields.Integer(allow_none=True)
    store = fields.String(allow_none=True)


class NpsOut(ReportOut):
    total = fields.Nested(NpsFiguresOut)
    by_month = fields.List(fields.Nested(NpsMonthOut))
    by_store = fields.List(fields.Nested(NpsStoreOut))


# -- CSV -------------------------------------------------------------------------------------


def _wants_csv(query: dict[str, Any]) -> bool:
    if query.get("format"):
        return bool(query["format"] == "csv")
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/csv"]) == "text/csv" and accept["text/csv"] > 0


def _csv(name: str, body: dict[str, Any], header: list[str], rows: Iterable[list[Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    period = body["period"]
    filename = f"passcast-{name}-{period['from']}-{period['to']}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _flatten(prefix: str, value: Any) -> Iterable[list[Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else key, inner)
    else:
        yield [prefix, value]


def _query(args: dict[str, Any]) -> Query:
    return Query(args.get("from_"), args.get("to"), args["days"])


def _count_later(brand_id: int, key: str) -> None:
    from service.analytics.tasks import count_report

    count_report(brand_id, key)


def _report(name: str, args: dict[str, Any]) -> dict[str, Any] | Response:
    """The report; a big brand's uncached one is counted by a job meanwhile: 202 with
    Retry-After, and the same request a few seconds later answers it."""
    try:
        query = _query(args) if name == "summary" else _query({**args, "days": DEFAULT_DAYS})  # days: summary only
        body = answer(db.session(), g.brand.id, name, query, count_later=_count_later)
    except Counting:
        response = jsonify(status="counting", detail="These figures are being counted for your brand; ask again "
                           f"in {RETRY_AFTER_SECONDS} seconds.")
        response.status_code = 202
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return {**body, "currency": brand_currency()}


def brand_currency() -> str | None:
    """The currency of the brand's money figures: its programs' one currency; None when they
    differ (the sums then add up several currencies, so they are shown without one)."""
    currencies = db.session().scalars(select(Program.currency).where(Program.brand_id == g.brand.id)
                                      .distinct().limit(2)).all()
    return currencies[0] if len(currencies) == 1 else None


# -- endpoints -------------------------------------------------------------------------------


@blp.route("/summary", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(AnalyticsQuery, location="query")
@blp.response(200, SummaryOut)
@blp.alt_response(202, schema=CountingOut, **COUNTING)
def summary(args: dict[str, Any]) -> Any:
    """Cards issued, installed (Apple Wallet / Google Wallet), removed, active and lapsed;
    churn, redemption rate, average purchase, repeat purchase rate, lifetime value.

    *Activity* is a purchase, earn or redeem entry (birthday gifts, issues, expiries and
    adjustments are not). The period is `[from, to]`; `end` is the day after `to`.

    - `cards.issued` / `total`: cards issued in the period / before its end.
    - `installed_apple`: cards (not voided) with an active PassKit registration now (Apple
      Wallet, Android apps via the relay or FCM); `installed_google`: cards whose latest
      Google Wallet callback is a save.
    - `removed`: cards unregistered (Apple/PassKit) or deleted (Google) in the period that
      are in no wallet now.
    - `active`: cards with activity in the `days` before `end`; `lapsed`: cards (not voided)
      issued before `end - days` without activity since.
    - `churn_rate`: of the cards active in `[end - 2 days, end - days)`, the share without
      activity in `[end - days, end)`.
    - `redemption.rate`: points redeemed / points issued (purchases, earns) in the period.
    - `purchases.average`: mean purchase amount in the period; `repeat_purchase.rate`:
      cards with 2+ purchases / cards with 1+ in the period.
    - `lifetime_value`: average lifetime spend of the cards issued in the period.
    """
    body = _report("summary", args)
    if isinstance(body, Response):
        return body
    if _wants_csv(args):
        figures = {key: body[key] for key in ("cards", "churn_rate", "redemption", "purchases",
                                              "repeat_purchase", "lifetime_value", "currency")}
        return _csv("summary", body, ["metric", "value"], _flatten("", figures))
    return body


@blp.route("/cohorts", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(AnalyticsQuery, location="query")
@blp.response(200, CohortsOut)
@blp.alt_response(202, schema=CountingOut, **COUNTING)
def cohorts(args: dict[str, Any]) -> Any:
    """Retention by monthly cohort: of the cards issued in a month, the share with activity
    in each calendar month after (month 0 = the month they joined), up to 12 months."""
    body = _report("cohorts", args)
    if isinstance(body, Response):
        return body
    if _wants_csv(args):
        width = max((len(c["retention"]) for c in body["cohorts"]), default=0)
        header = ["cohort", "cards", "lifetime_value", "currency", *(f"month_{k}" for k in range(width))]
        rows = ([c["cohort"], c["cards"], c["lifetime_value"], body["currency"], *c["retention"]]
                for c in body["cohorts"])
        return _csv("cohorts", body, header, rows)
    return body


CAMPAIGN_COLUMNS = ["id", "name", "kind", "status", "started_at", "targeted", "sent", "accepted", "confirmed",
                    "reached", "buyers_7d", "purchases_7d", "revenue_7d", "conversion_7d", "holdout_percent",
                    "holdout", "causal", "incremental_revenue", "incremental_revenue_low",
                    "incremental_revenue_high", "romi"]


@blp.route("/campaigns", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(AnalyticsQuery, location="query")
@blp.response(200, CampaignsOut)
@blp.alt_response(202, schema=CountingOut, **COUNTING)
def campaigns(args: dict[str, Any]) -> Any:
    """Campaigns started in the period (newest first, at most 100): the delivery funnel in
    cards (targeted, sent, accepted, confirmed, reached), the reached recipients' purchases in
    7 days, and against the holdout (if one was kept) the incremental revenue with its 95 %
    interval and ROMI; `causal` false says the purchases are correlation only."""
    body = _report("campaigns", args)
    if isinstance(body, Response):
        return body
    if _wants_csv(args):
        return _csv("campaigns", body, [*CAMPAIGN_COLUMNS, "currency"],
                    ([*(c[column] for column in CAMPAIGN_COLUMNS), body["currency"]] for c in body["campaigns"]))
    return body


NPS_COLUMNS = ["answers", "promoters", "passives", "detractors", "nps"]


@blp.route("/nps", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(AnalyticsQuery, location="query")
@blp.response(200, NpsOut)
@blp.alt_response(202, schema=CountingOut, **COUNTING)
def nps(args: dict[str, Any]) -> Any:
    """Net Promoter Score of the answers given in the period: overall, per month, per store."""
    body = _report("nps", args)
    if isinstance(body, Response):
        return body
    if _wants_csv(args):
        rows: list[list[Any]] = [["total", "", *(body["total"][c] for c in NPS_COLUMNS)]]
        rows += [["month", m["month"], *(m[c] for c in NPS_COLUMNS)] for m in body["by_month"]]
        rows += [["store", s["store"] or "(unknown)", *(s[c] for c in NPS_COLUMNS)] for s in body["by_store"]]
        return _csv("nps", body, ["group", "name", *NPS_COLUMNS], rows)
    return body


# -- what the customers wrote ----------------------------------------------------------------


class NpsCommentsQuery(AnalyticsQuery, PageQuery):
    """The period and format of the reports, and a page (JSON; the CSV holds every comment)."""


class NpsCommentOut(Schema):
    id = fields.Integer()
    survey_id = fields.Integer()
    card_id = fields.Integer()
    score = fields.Integer(metadata={"description": "0..10"})
    comment = fields.String(metadata={"description": "As the customer wrote it (plain text, not HTML)"})
    store_id = fields.Integer(allow_none=True)
    answered_at = fields.DateTime()


COMMENT_COLUMNS = ["answered_at", "score", "comment", "card_id", "survey_id", "store_id", "store"]


def _comments(args: dict[str, Any]) -> Select[Any]:
    period = _query(args).period(dt.datetime.now(dt.UTC).date())
    return select(NpsAnswer).where(
        NpsAnswer.brand_id == g.brand.id, NpsAnswer.answered_at >= period.start,
        NpsAnswer.answered_at < period.end, NpsAnswer.comment.is_not(None), NpsAnswer.comment != "")


def _comments_csv(args: dict[str, Any]) -> Response:
    """Every comment of the period, newest first, streamed (a brand may have many)."""
    period = _period_json(_query(args))
    statement = (_comments(args).add_columns(Store.name).outerjoin(Store, Store.id == NpsAnswer.store_id)
                 .order_by(NpsAnswer.id.desc()).execution_options(yield_per=1000))

    def rows() -> Iterable[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COMMENT_COLUMNS)
        for answer_row, store in db.session().execute(statement):
            writer.writerow([safe_cell(value) for value in (
                answer_row.answered_at.isoformat(), answer_row.score, answer_row.comment, answer_row.card_id,
                answer_row.survey_id, answer_row.store_id, store)])
            if out.tell() > 64_000:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    filename = f"passcast-nps-comments-{period['from']}-{period['to']}.csv"
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _period_json(query: Query) -> dict[str, str]:
    period = query.period(dt.datetime.now(dt.UTC).date())
    return {"from": period.start.date().isoformat(), "to": (period.end - dt.timedelta(days=1)).date().isoformat()}


@blp.route("/nps/comments", methods=["GET"])
@require_brand
@requires("read")
@blp.arguments(NpsCommentsQuery, location="query")
@blp.response(200, NpsCommentOut(many=True), headers=LINK_HEADER)
def nps_comments(args: dict[str, Any]) -> Any:
    """What the customers wrote with their NPS answers given in the period, newest first:
    a page as JSON (`Link: rel="next"`), or all of them as CSV."""
    if _wants_csv(args):
        return _comments_csv(args)
    return page(_comments(args), NpsAnswer.id, args)
