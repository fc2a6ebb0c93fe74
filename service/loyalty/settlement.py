"""The settlement of a partner program: what each brand issued and redeemed in a period, and who owes whom.

Every ledger entry of the program's cards whose `created_at` falls in the period (whole UTC days,
both ends included) is attributed to one brand: the partner that posted it
(LedgerEntry.partner_brand_id), else the card's own brand, the host (its counters, its API, and the
entries nobody posts: expiry). Per brand:

- points issued: the sum of its entries' positive points (purchases, earns, bonuses);
- points redeemed: the sum of its entries' negative points, expiry excepted, as a positive number;
- points expired: expiry entries (always the host's), as a positive number.

So, over all brands, issued - redeemed - expired is exactly the sum of the period's ledger points.

Who owes whom, the pool rule: a point is worth `Program.settlement_point_value` (cashback points: 0.01
when unset). A brand that issues a point pays its value into the coalition's pool; a brand that
redeems a point (it gave the customer goods for it) is paid its value from the pool. Each brand's
net = (issued - redeemed) x value: positive, it pays that much; negative, it is paid that much. The
host holds the pool: every partner settles with the host alone (a transfer partner -> host for a
positive net, host -> partner for a negative one), and what is left in the pool (the value of the
period's points still on cards, and of expired points) stays with the host against later
redemptions. Money is rounded half up to cents per brand; totals are sums of the rounded figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from service.loyalty import partners
from service.models import Brand, Card, LedgerEntry, Program

CENT = Decimal("0.01")
CASHBACK_POINT = Decimal("0.01")
MAX_DAYS = 366


def point_value(program: Program) -> Decimal | None:
    if program.settlement_point_value is not None:
        return Decimal(program.settlement_point_value)
    return CASHBACK_POINT if program.kind == "cashback" else None


def _money(points: int, value: Decimal | None) -> Decimal | None:
    return (Decimal(points) * value).quantize(CENT, rounding=ROUND_HALF_UP) if value is not None else None


def _text(amount: Decimal | None) -> str | None:
    return format(amount, "f") if amount is not None else None


@dataclass(frozen=True)
class BrandFigures:
    brand_id: int
    name: str
    role: str  # host | partner
    status: str  # host | active | invited | left | none (posted, no longer listed)
    issued: int
    redeemed: int
    expired: int
    value: Decimal | None

    @property
    def net_points(self) -> int:
        return self.issued - self.redeemed

    @property
    def issued_value(self) -> Decimal | None:
        return _money(self.issued, self.value)

    @property
    def redeemed_value(self) -> Decimal | None:
        return _money(self.redeemed, self.value)

    @property
    def net_value(self) -> Decimal | None:
        issued, redeemed = self.issued_value, self.redeemed_value
        return issued - redeemed if issued is not None and redeemed is not None else None

    def as_json(self) -> dict[str, Any]:
        return {"brand_id": self.brand_id, "brand": self.name, "role": self.role, "status": self.status,
                "points_issued": self.issued, "points_redeemed": self.redeemed, "points_expired": self.expired,
                "net_points": self.net_points, "value_issued": _text(self.issued_value),
                "value_redeemed": _text(self.redeemed_value), "net_value": _text(self.net_value)}


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(start, dt.time(), dt.UTC),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC))


def _sums(session: Session, program: Program, since: dt.datetime, until: dt.datetime) -> dict[int, tuple[int, ...]]:
    """brand id -> (issued, redeemed, expired, ledger sum), one grouped query over the period's entries."""
    brand = func.coalesce(LedgerEntry.partner_brand_id, Card.brand_id)
    expire = LedgerEntry.kind == "expire"
    # an undo nets against what it undid (a reversed earn issued nothing, a reversed redemption
    # redeemed nothing), not counted as a new issue or redemption of its own
    undo = LedgerEntry.kind == "reversal"
    statement = (
        select(brand.label("brand_id"),
               func.coalesce(func.sum(case((and_(LedgerEntry.points > 0, ~undo), LedgerEntry.points),
                                           (and_(LedgerEntry.points < 0, undo), LedgerEntry.points), else_=0)), 0),
               func.coalesce(func.sum(case((and_(LedgerEntry.points < 0, ~expire, ~undo), -LedgerEntry.points),
                                           (and_(LedgerEntry.points > 0, undo), -LedgerEntry.points),
                                           else_=0)), 0),
               func.coalesce(func.sum(case((expire, -LedgerEntry.points), else_=0)), 0),
               func.coalesce(func.sum(LedgerEntry.points), 0))
        .join(Card, Card.id == LedgerEntry.card_id)
        .where(Card.program_id == program.id, LedgerEntry.created_at >= since, LedgerEntry.created_at < until)
        .group_by(brand))
    return {int(row[0]): tuple(int(value) for value in row[1:]) for row in session.execute(statement)}


def settlement(session: Session, program: Program, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The settlement of `program` for the days start..end (UTC, inclusive), as the API answers it."""
    since, until = period_bounds(start, end)
    sums = _sums(session, program, since, until)
    value = point_value(program)
    status = {row.brand_id: row.status for row in partners.partners_of(session, program.id)}
    shown = [program.brand_id, *(brand_id for brand_id, state in status.items() if state == "active"),
             *sorted(set(sums) - set(status) - {program.brand_id}),
             *(brand_id for brand_id in status if brand_id in sums and status[brand_id] != "active")]
    names = {row.id: row.name for row in session.execute(select(Brand.id, Brand.name).where(Brand.id.in_(shown)))}
    figures = []
    for brand_id in dict.fromkeys(shown):
        issued, redeemed, expired, _ = sums.get(brand_id, (0, 0, 0, 0))
        host = brand_id == program.brand_id
        figures.append(BrandFigures(brand_id, names.get(brand_id, ""), "host" if host else "partner",
                                    "host" if host else status.get(brand_id, "none"), issued, redeemed, expired,
                                    value))
    host_figures = figures[0]
    transfers = []
    for partner in figures[1:]:
        net = partner.net_value
        if net is None or net == 0:
            continue
        payer, payee = (partner, host_figures) if net > 0 else (host_figures, partner)
        transfers.append({"from_brand_id": payer.brand_id, "from": payer.name, "to_brand_id": payee.brand_id,
                          "to": payee.name, "amount": _text(abs(net))})
    ledger_sum = sum(row[3] for row in sums.values())
    total_issued = sum(row.issued for row in figures)
    total_redeemed = sum(row.redeemed for row in figures)
    total_expired = sum(row.expired for row in figures)
    nets = [row.net_value for row in figures]
    return {
        "program": {"id": program.id, "name": program.name, "host_brand_id": program.brand_id},
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "currency": program.currency,
        "point_value": _text(value),
        "brands": [row.as_json() for row in figures],
        "transfers": transfers,
        "totals": {
            "points_issued": total_issued, "points_redeemed": total_redeemed, "points_expired": total_expired,
            "ledger_points": ledger_sum,
            "pool_value": _text(sum(nets, Decimal(0)) if value is not None else None),  # type: ignore[arg-type]
        },
        "rule": "Each brand's net = (points issued - points redeemed) x point_value; a positive net is paid "
                "to the host (who holds the pool), a negative one is paid by the host. Expired points and "
                "points still on cards stay in the pool.",
    }


CSV_COLUMNS = ["brand_id", "brand", "role", "status", "points_issued", "points_redeemed", "points_expired",
               "net_points", "value_issued", "value_redeemed", "net_value"]


def csv_rows(body: dict[str, Any]) -> list[list[Any]]:
    """The brands' rows, then a total row, then one row per transfer ("transfer", from, to, amount)."""
    rows = [[row[column] for column in CSV_COLUMNS] + [body["currency"]] for row in body["brands"]]
    totals = body["totals"]
    rows.append(["", "total", "", "", totals["points_issued"], totals["points_redeemed"], totals["points_expired"],
                 totals["points_issued"] - totals["points_redeemed"], "", "", totals["pool_value"], body["currency"]])
    rows.extend(["transfer", transfer["from"], transfer["to"], transfer["amount"], body["currency"]]
                for transfer in body["transfers"])
    return rows
