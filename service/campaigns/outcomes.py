"""What a campaign's cards bought afterwards: the conversions and the two groups of the lift.

Two rules, both about counting only what the campaign could have caused:

- The campaign's own conversions (buyers, purchases, revenue in the 7 days after its start)
  count only the recipients it *reached*: a phone's vendor took the push (APNs, FCM, a wallet
  app's relay accepted it, or the phone fetched the new pass) or Google Wallet took the
  message. A card without a phone was told nothing it would have noticed, so its purchases are
  not the campaign's: a campaign that reached no phone shows no conversions.
- The lift compares the treated cards with the holdout's over the cards each side could have
  reached *when the campaign came to them* (`campaign_recipients.reachable`, recorded at send
  time for both sides): that is decided before anything is sent, so the split stays random on
  both sides. (Recipients recorded before reachability was kept fall back to "reached".)

The attribution window is the same for both groups: from the campaign's start for `WINDOW`.
A purchase undone since (a `reversal` points at it) is no purchase on either side.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, distinct, func, or_, select, union
from sqlalchemy.orm import Session

from service.campaigns.lift import Group
from service.loyalty.engine import points_to_money
from service.models import CampaignRecipient, GoogleMessage, LedgerEntry, Program, PushDelivery, not_reversed
from service.models.campaigns import ATTRIBUTION_WINDOW

WINDOW = ATTRIBUTION_WINDOW
#: Push statuses that mean a phone's vendor took the push (or the phone then fetched the pass).
TAKEN = ("accepted", "confirmed")


def reached_cards(campaign_id: int) -> Select[Any]:
    """The card ids the campaign reached: a push taken by its vendor, or a Google message sent."""
    return union(
        select(PushDelivery.card_id).where(PushDelivery.campaign_id == campaign_id, PushDelivery.status.in_(TAKEN)),
        select(GoogleMessage.card_id).where(GoogleMessage.campaign_id == campaign_id, GoogleMessage.status == "sent"),
    )  # type: ignore[return-value]


def reached_count(session: Session, campaign_id: int) -> int:
    reached = reached_cards(campaign_id).subquery()
    return int(session.scalar(select(func.count()).select_from(reached)) or 0)


def purchases(session: Session, campaign_id: int, started_at: dt.datetime) -> tuple[int, int, Decimal]:
    """(buyers, purchases, revenue) of the recipients the campaign reached, in the window."""
    reached = reached_cards(campaign_id).subquery()
    bought = session.execute(
        select(func.count(distinct(LedgerEntry.card_id)), func.count(), func.sum(LedgerEntry.amount))
        .select_from(reached.join(LedgerEntry.__table__, LedgerEntry.card_id == reached.c.card_id))
        .where(LedgerEntry.kind == "purchase", not_reversed(), LedgerEntry.created_at >= started_at,
               LedgerEntry.created_at < started_at + WINDOW)).one()
    return int(bought[0] or 0), int(bought[1] or 0), Decimal(bought[2] or 0).quantize(Decimal("0.01"))


def group_sizes(session: Session, campaign_id: int) -> dict[bool, dict[str, int]]:
    """Per side (holdout True/False): recipients recorded, and how many were reachable at send time."""
    sizes = {side: {"cards": 0, "reachable": 0} for side in (False, True)}
    for side, cards, reachable in session.execute(
            select(CampaignRecipient.holdout, func.count(),
                   func.sum(case((CampaignRecipient.reachable.is_(True), 1), else_=0)))
            .where(CampaignRecipient.campaign_id == campaign_id).group_by(CampaignRecipient.holdout)):
        sizes[bool(side)] = {"cards": int(cards), "reachable": int(reachable or 0)}
    return sizes


def compared(campaign_id: int) -> Select[Any]:
    """(card_id, holdout) of the cards the lift compares: reachable when the campaign came to
    them (older rows without that record: reached by it)."""
    return select(CampaignRecipient.card_id, CampaignRecipient.holdout).where(
        CampaignRecipient.campaign_id == campaign_id,
        or_(CampaignRecipient.reachable.is_(True),
            and_(CampaignRecipient.reachable.is_(None), CampaignRecipient.holdout.is_(False),
                 CampaignRecipient.card_id.in_(reached_cards(campaign_id)))))


def groups(session: Session, members: Select[Any], start: dt.datetime,
           end: dt.datetime) -> dict[bool, Group]:
    """The two groups' figures: `members` selects (card_id, holdout); each card's purchases in
    [start, end) are summed per card first, so that the revenue's sum of squares (for Welch's
    interval) is per card. One query; usable for journeys as well as campaigns."""
    people = members.subquery()
    per_card = (select(people.c.card_id, people.c.holdout, func.count(LedgerEntry.id).label("purchases"),
                       func.coalesce(func.sum(LedgerEntry.amount), 0).label("revenue"))
                .select_from(people.outerjoin(LedgerEntry.__table__, and_(
                    LedgerEntry.card_id == people.c.card_id, LedgerEntry.kind == "purchase", not_reversed(),
                    LedgerEntry.created_at >= start, LedgerEntry.created_at < end)))
                .group_by(people.c.card_id, people.c.holdout).subquery())
    found = {side: Group(cards=0) for side in (False, True)}
    for side, cards, buyers, bought, revenue, squares in session.execute(
            select(per_card.c.holdout, func.count(), func.sum(case((per_card.c.purchases > 0, 1), else_=0)),
                   func.sum(per_card.c.purchases), func.sum(per_card.c.revenue),
                   func.sum(per_card.c.revenue * per_card.c.revenue))
            .group_by(per_card.c.holdout)):
        found[bool(side)] = Group(cards=int(cards), buyers=int(buyers or 0), purchases=int(bought or 0),
                                  revenue=Decimal(str(revenue or 0)), revenue_squares=Decimal(str(squares or 0)))
    return found


def campaign_groups(session: Session, campaign_id: int, started_at: dt.datetime) -> dict[bool, Group]:
    """The treated (False) and holdout (True) groups of a campaign over its attribution window."""
    return groups(session, compared(campaign_id), started_at, started_at + WINDOW)


def points_money(program: Program, points: int) -> Decimal | None:
    """What `points` given away cost the brand: cashback points are money (minor units); a
    points program's point is worth its `point_value` (None while the brand has not said, and
    for kinds whose points are not money: discount, stamps)."""
    if program.kind == "cashback":
        return points_to_money(points)
    if program.kind == "points" and program.point_value is not None:
        return (Decimal(points) * program.point_value).quantize(Decimal("0.01"))
    return None


def cost(campaign_cost: Decimal | None, points_given: Decimal | None = Decimal(0)) -> Decimal | None:
    """The cost the lift's ROMI divides by: what the brand counts against the send plus the money
    value of the points it gave (`points_money`; a message campaign gives none). None when the
    brand said neither, or when points were given whose value is unknown (ROMI would flatter)."""
    if points_given is None:
        return None
    if campaign_cost is None and not points_given:
        return None
    return (campaign_cost or Decimal(0)) + points_given
