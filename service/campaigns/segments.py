"""Audiences: who a campaign is for, as one SQL condition over cards joined to customers.

An audience is JSON, one key per node, so that brands can combine rules freely:

    {"all_cards": true}
    {"card_ids": [1, 2, 3]}
    {"program_id": 4}
    {"new": {"days": 30}}        joined in the last N days
    {"active": {"days": 30}}     a purchase, earn or redeem in the last N days
    {"lapsed": {"days": 90}}     none in the last N days (and the card is older than that)
    {"tier": ["Gold", "Platinum"]}
    {"birthday": "week" | "month"}   this calendar week (Monday-Sunday) or month, UTC
    {"all": [node, ...]}  {"any": [node, ...]}  {"not": node}

Every rule is evaluated against a fixed `now` (the moment a campaign starts sending), so a
campaign resumed after a crash sees the same audience. Voided cards are never included.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, extract, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from service.models import Card, Customer, LedgerEntry, not_reversed

MAX_DEPTH = 6
MAX_CARD_IDS = 10_000
MAX_CHILDREN = 50
MAX_ID = 2**31 - 1
ACTIVITY_KINDS = ("purchase", "earn", "redeem", "stamp")  # a stamp is a visit
BIRTHDAY_KEY_PREFIX = "birthday:"  # birthday gifts are not customer activity


class AudienceError(ValueError):
    """An audience that cannot be evaluated; `errors` lists [{"field", "message"}]."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _positive_days(value: Any, path: str, errors: list[dict[str, str]]) -> None:
    days = value.get("days") if isinstance(value, dict) else None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        errors.append({"field": path, "message": 'expected {"days": N} with N from 1 to 3650'})


def _listed_values(audience: Any) -> int:
    """How many ids and tier names the whole audience lists: each becomes one bound parameter."""
    if isinstance(audience, list):
        return sum(_listed_values(item) for item in audience)
    if not isinstance(audience, dict):
        return 0
    return sum(len(value) if key in ("card_ids", "tier") and isinstance(value, list) else _listed_values(value)
               for key, value in audience.items())


def validate(audience: Any, path: str = "audience", depth: int = 0) -> list[dict[str, str]]:
    """Every problem of an audience, with the JSON path of each; empty when it is valid."""
    errors: list[dict[str, str]] = []
    if depth == 0 and _listed_values(audience) > MAX_CARD_IDS:
        # Every listed id is one query parameter: PostgreSQL's driver stops at 65 535 and SQLite at
        # 32 766, after the campaign was committed. Bounding the whole tree keeps far below both.
        return [{"field": path, "message": f"lists more than {MAX_CARD_IDS} card ids and tier names in all its "
                                           "rules; split it into several campaigns or use a segment rule"}]
    if depth > MAX_DEPTH:
        return [{"field": path, "message": f"nested more than {MAX_DEPTH} levels"}]
    if not isinstance(audience, dict) or len(audience) != 1:
        return [{"field": path, "message": "must be an object with exactly one rule, e.g. {\"all_cards\": true}"}]
    (rule, value), = audience.items()
    where = f"{path}.{rule}"
    if rule == "all_cards":
        if value is not True:
            errors.append({"field": where, "message": "must be true"})
    elif rule == "card_ids":
        if (not isinstance(value, list) or not value or len(value) > MAX_CARD_IDS
                or not all(_is_id(i) for i in value)):
            errors.append({"field": where, "message": f"must be a list of 1 to {MAX_CARD_IDS} card ids"})
    elif rule == "program_id":
        if not _is_id(value):
            errors.append({"field": where, "message": "must be a program id"})
    elif rule in ("new", "active", "lapsed"):
        _positive_days(value, where, errors)
    elif rule == "tier":
        if (not isinstance(value, list) or not value or len(value) > 100
                or not all(isinstance(t, str) and 0 < len(t) <= 50 for t in value)):
            errors.append({"field": where, "message": "must be a non-empty list of tier names"})
    elif rule == "birthday":
        if value not in ("week", "month"):
            errors.append({"field": where, "message": 'must be "week" or "month"'})
    elif rule in ("all", "any"):
        if not isinstance(value, list) or not value or len(value) > MAX_CHILDREN:
            errors.append({"field": where, "message": f"must be a list of 1 to {MAX_CHILDREN} rules"})
        else:
            for index, child in enumerate(value):
                errors.extend(validate(child, f"{where}[{index}]", depth + 1))
    elif rule == "not":
        errors.extend(validate(value, where, depth + 1))
    else:
        errors.append({"field": where, "message": "unknown rule; use all_cards, card_ids, program_id, new, active, "
                                                  "lapsed, tier, birthday, all, any or not"})
    return errors


def _activity_since(cutoff: dt.datetime) -> ColumnElement[bool]:
    return exists().where(
        LedgerEntry.card_id == Card.id,
        LedgerEntry.kind.in_(ACTIVITY_KINDS), not_reversed(),  # an undone transaction was no visit
        LedgerEntry.created_at >= cutoff,
        or_(LedgerEntry.idempotency_key.is_(None), not_(LedgerEntry.idempotency_key.startswith(BIRTHDAY_KEY_PREFIX))),
    )


def birthday_days(today: dt.date, span: str) -> list[tuple[int, int]]:
    """(month, day) pairs of the calendar week or month containing `today`.

    People born on 29 February celebrate on the 28th in other years.
    """
    if span == "month":
        last = calendar.monthrange(today.year, today.month)[1]
        days = [(today.month, day) for day in range(1, last + 1)]
    else:
        monday = today - dt.timedelta(days=today.weekday())
        days = [((monday + dt.timedelta(days=n)).month, (monday + dt.timedelta(days=n)).day) for n in range(7)]
    if (2, 28) in days and (2, 29) not in days:
        days.append((2, 29))
    return days


def birthday_on(days: list[tuple[int, int]]) -> ColumnElement[bool]:
    month, day = extract("month", Customer.birthday), extract("day", Customer.birthday)
    by_month: dict[int, list[int]] = {}
    for m, d in days:
        by_month.setdefault(m, []).append(d)
    return and_(Customer.birthday.is_not(None),
                or_(*(and_(month == m, day.in_(ds)) for m, ds in sorted(by_month.items()))))


def condition(audience: dict[str, Any], now: dt.datetime) -> ColumnElement[bool]:
    """The audience as a WHERE clause over Card joined to Customer (validate first)."""
    (rule, value), = audience.items()
    if rule == "all_cards":
        return true()
    if rule == "card_ids":
        return Card.id.in_(value)
    if rule == "program_id":
        return Card.program_id == value
    if rule == "new":
        return Card.created_at >= now - dt.timedelta(days=value["days"])
    if rule == "active":
        return _activity_since(now - dt.timedelta(days=value["days"]))
    if rule == "lapsed":
        cutoff = now - dt.timedelta(days=value["days"])
        return and_(Card.created_at < cutoff, not_(_activity_since(cutoff)))
    if rule == "tier":  # null-safe, so that {"not": {"tier": [...]}} includes cards without a tier
        return and_(Card.tier.is_not(None), Card.tier.in_(value))
    if rule == "birthday":
        return birthday_on(birthday_days(now.date(), value))
    if rule == "all":
        return and_(*(condition(child, now) for child in value))
    if rule == "any":
        return or_(*(condition(child, now) for child in value))
    if rule == "not":
        return not_(condition(value, now))
    return false()


def card_ids(brand_id: int, audience: dict[str, Any], now: dt.datetime) -> Select[tuple[int]]:
    """SELECT card ids of the brand's audience (not voided), ordered by id for keyset paging."""
    return (select(Card.id).join(Customer, Customer.id == Card.customer_id)
            .where(Card.brand_id == brand_id, Card.voided.is_(False), condition(audience, now))
            .order_by(Card.id))


def count(session: Session, brand_id: int, audience: dict[str, Any], now: dt.datetime) -> int:
    """How many cards the audience holds right now (the preview before sending)."""
    inner = card_ids(brand_id, audience, now).order_by(None).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)

