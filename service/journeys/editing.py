"""Creating and changing journeys: one path for the brand API, the console's form and the
ready-made playbooks, so a journey saved by any of them passed the same checks.

`definitions.validate` checks the shape (triggers, conditions, actions); this module adds what
only the program can say: a points action on a stamp card gives nothing (422), a coupon's
`reward_id` must be this program's catalogue reward, `store_ids` the brand's stores, `tiers`
the program's tiers, "points expiring" needs points that expire. Every problem is listed at
once, as `[{"field", "message"}]` (the API's 422 `errors`, the console's notes beside fields).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import audit
from service.campaigns.holdout import DEFAULT_PERCENT, MAX_PERCENT
from service.journeys import definitions
from service.models import CatalogueReward, Journey, JourneyEntry, Program, Store, Tier, utcnow

#: The fields a journey is made of (what the API takes and returns, what the audit log compares).
FIELDS = ("name", "trigger", "trigger_value", "conditions", "actions", "holdout_percent", "enabled",
          "cost_per_entry")
LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")  # en, ru, pt-BR, as campaigns take them
#: Program kinds whose cards hold points (the points action, min/max balance in points).
POINTS_KINDS = ("points", "cashback")
MAX_COST = Decimal("1000000")


class JourneyRefused(ValueError):
    """A journey that cannot be saved; `errors` lists every [{"field", "message"}]."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def _plain_problems(data: dict[str, Any]) -> list[dict[str, str]]:
    """The journey's own fields beside its definition: name, holdout, cost."""
    errors = []
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append({"field": "name", "message": "a name of 1 to 200 characters"})
    holdout = data.get("holdout_percent")
    if not isinstance(holdout, int) or isinstance(holdout, bool) or not 0 <= holdout <= MAX_PERCENT:
        errors.append({"field": "holdout_percent", "message": f"a whole percent from 0 to {MAX_PERCENT}"})
    if not isinstance(data.get("enabled"), bool):
        errors.append({"field": "enabled", "message": "true or false"})
    cost = data.get("cost_per_entry")
    if cost is not None and (not isinstance(cost, Decimal) or not Decimal(0) <= cost <= MAX_COST):
        errors.append({"field": "cost_per_entry", "message": "money from 0 to 1000000, e.g. \"0.50\" (or null)"})
    return errors


def _program_problems(session: Session, program: Program, data: dict[str, Any]) -> list[dict[str, str]]:
    """What the program says about a definition whose shape is already fine."""
    errors: list[dict[str, str]] = []
    kind = program.kind
    trigger = data["trigger"]
    if trigger == "points_expiring" and (kind not in POINTS_KINDS or not program.points_expire_days):
        errors.append({"field": "trigger", "message": "this program's points never expire (set points_expire_days "
                                                      "on the program first)" if kind in POINTS_KINDS
                       else f"a {kind} card has no points to expire"})
    if trigger == "reward_within_reach" and kind == "discount":
        errors.append({"field": "trigger", "message": "a discount card has no balance to come within reach of"})
    if trigger in ("tier_up", "tier_down") and not program.tiers:
        errors.append({"field": "trigger", "message": "this program has no tiers, so no card changes tier"})
    conditions = data["conditions"]
    if conditions.get("tiers"):
        known = [tier.name for tier in program.tiers]
        for name in dict.fromkeys(conditions["tiers"]):
            if name not in known:
                errors.append({"field": "conditions.tiers", "message": f'unknown tier "{name}"; this program\'s '
                                                                       f'tiers are: {", ".join(known) or "none"}'})
    if conditions.get("store_ids"):
        wanted = sorted(set(conditions["store_ids"]))
        found = set(session.scalars(select(Store.id).where(Store.brand_id == program.brand_id,
                                                           Store.id.in_(wanted))))
        missing = [store_id for store_id in wanted if store_id not in found]
        if missing:
            errors.append({"field": "conditions.store_ids",
                           "message": f"no such stores in your brand: {', '.join(map(str, missing))}"})
    if kind == "discount":
        for name in ("min_balance", "max_balance"):
            if name in conditions:
                errors.append({"field": f"conditions.{name}", "message": "a discount card has no balance"})
    for index, action in enumerate(data["actions"]):
        field = f"actions[{index}]"
        if action["type"] == "points" and kind not in POINTS_KINDS:
            errors.append({"field": f"{field}.points",
                           "message": f"a {kind} card holds no points" + ("; give stamps instead" if kind == "stamps"
                                                                         else "")})
        elif action["type"] == "stamps" and kind != "stamps":
            errors.append({"field": f"{field}.stamps", "message": f"a {kind} card has no stamps"})
        elif action["type"] == "coupon" and action.get("reward_id") is not None:
            reward = session.get(CatalogueReward, action["reward_id"])
            if reward is None or reward.program_id != program.id or not reward.active:
                errors.append({"field": f"{field}.reward_id",
                               "message": "no such reward in this program's catalogue (or it is retired)"})
        elif action["type"] == "message":
            bad = [code for code in action.get("variants", {}) if not LANGUAGE.fullmatch(code)]
            if bad:
                errors.append({"field": f"{field}.variants", "message": f"not language codes: {', '.join(bad)}"})
    return errors


def check(session: Session, program: Program, data: dict[str, Any]) -> dict[str, Any]:
    """`data` (every field of FIELDS) checked whole; JourneyRefused with every problem otherwise.
    Returns the values to store (the definition as `definitions.validate` returns it)."""
    errors = _plain_problems(data)
    try:
        definition = definitions.validate(data.get("trigger"), data.get("trigger_value"), data.get("conditions"),
                                          data.get("actions"))
    except definitions.JourneyInvalid as invalid:
        errors.extend({"field": field, "message": message} for field, message in invalid.problems)
        raise JourneyRefused(errors) from None
    stored = {**data, "trigger": definition.trigger, "trigger_value": definition.trigger_value,
              "conditions": definition.conditions, "actions": definition.actions}
    errors.extend(_program_problems(session, program, stored))
    if errors:
        raise JourneyRefused(errors)
    stored["name"] = stored["name"].strip()
    return stored


def defaults() -> dict[str, Any]:
    """What a new journey has when a field is not given."""
    return {"trigger_value": None, "conditions": {}, "holdout_percent": DEFAULT_PERCENT, "enabled": False,
            "cost_per_entry": None}


def money(value: Any) -> Any:
    """A cost as sent (a string or a number) as Decimal; what cannot be one is left for `check` to refuse."""
    if value is None or isinstance(value, Decimal) or isinstance(value, bool):
        return value
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return value


def create(session: Session, program: Program, data: dict[str, Any], *, playbook: str | None = None) -> Journey:
    """A new journey of `program` (checked; flushed; audited as journey.created). Caller commits."""
    values = check(session, program, {**defaults(), **data, "cost_per_entry": money(data.get("cost_per_entry"))})
    journey = Journey(brand_id=program.brand_id, program_id=program.id, playbook=playbook,
                      **{name: values[name] for name in FIELDS})
    session.add(journey)
    session.flush()
    audit.record(session, program.brand_id, "journey.created", "journey", journey.id,
                 {**audit.snapshot(journey, FIELDS), "program_id": program.id, "playbook": playbook})
    return journey


def update(session: Session, journey: Journey, changes: dict[str, Any]) -> Journey:
    """`changes` (any of FIELDS) applied, the whole journey checked again; audited as
    journey.updated with what changed. Caller commits."""
    program = session.get(Program, journey.program_id)
    assert program is not None
    before = audit.snapshot(journey, FIELDS)
    merged = {**before, **changes}
    if "cost_per_entry" in changes:
        merged["cost_per_entry"] = money(changes["cost_per_entry"])
    values = check(session, program, merged)
    for name in FIELDS:
        setattr(journey, name, values[name])
    if changed := audit.diff(before, audit.snapshot(journey, FIELDS)):
        journey.updated_at = utcnow()
        audit.record(session, journey.brand_id, "journey.updated", "journey", journey.id, changed)
    return journey


def set_enabled(session: Session, journey: Journey, enabled: bool) -> Journey:
    """Switch a journey on or off (audited only when it changes). Switching on re-checks it: a
    coupon whose reward was retired since, or a tier renamed, refuses rather than runs half."""
    if journey.enabled == enabled:
        return journey
    if enabled:
        return update(session, journey, {"enabled": True})
    journey.enabled, journey.updated_at = False, utcnow()
    audit.record(session, journey.brand_id, "journey.updated", "journey", journey.id,
                 {"enabled": {"before": True, "after": False}})
    return journey


def entered(session: Session, journey_id: int) -> int:
    """How many times cards entered the journey (the history a delete would lose)."""
    return int(session.scalar(select(func.count()).select_from(JourneyEntry)
                              .where(JourneyEntry.journey_id == journey_id)) or 0)


def delete(session: Session, journey: Journey) -> bool:
    """Delete a journey no card has entered; False (nothing done) when one has: its entries, tasks
    and report are history, so it can only be switched off."""
    if entered(session, journey.id):
        return False
    audit.record(session, journey.brand_id, "journey.deleted", "journey", journey.id,
                 audit.snapshot(journey, FIELDS))
    session.delete(journey)
    return True


def view(journey: Journey) -> dict[str, Any]:
    """The journey as the API returns it."""
    return {"id": journey.id, "program_id": journey.program_id, "playbook": journey.playbook,
            "created_at": journey.created_at, "updated_at": journey.updated_at,
            **{name: getattr(journey, name) for name in FIELDS}}


def program_tiers(session: Session, program: Program) -> list[str]:
    """The program's tier names, lowest first (what `conditions.tiers` may name)."""
    return list(session.scalars(select(Tier.name).where(Tier.program_id == program.id).order_by(Tier.threshold)))
