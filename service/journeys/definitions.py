"""The one schema of a journey: which triggers exist, what each trigger's value means, which
conditions and actions a journey may carry. The API, the console, the ready-made playbooks and
the evaluator all go through `validate`, so a journey that is stored is a journey that can run.

Invalid input raises `JourneyInvalid` with every problem found (field, message), never a
silently dropped part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# trigger -> what its value is (None: it takes none); "event" triggers fire from a change
# (a ledger entry, an NPS answer), "daily" ones from the date (evaluated once a day, by index)
TRIGGERS: dict[str, tuple[str | None, str]] = {
    "joined": (None, "event"),
    "first_purchase": (None, "event"),
    "nth_visit": ("visits", "event"),  # the card's Nth visit (a purchase or a stamp), N >= 1
    "reward_within_reach": ("points", "event"),  # balance came within N points (or stamps) of a reward
    "points_expiring": ("days", "daily"),  # the card's points expire in N days
    "lapsed": ("days", "daily"),  # no visit for N days
    "tier_up": (None, "event"),
    "tier_down": (None, "event"),
    "birthday": (None, "daily"),
    "nps_at_or_below": ("score", "event"),  # an NPS answer at or below N (0..10)
}

ACTIONS = ("message", "points", "stamps", "coupon", "webhook", "task")

# conditions a card must meet when its trigger fires (all optional, all must hold)
CONDITIONS = ("tiers", "min_balance", "max_balance", "store_ids")

MAX_ACTIONS = 10
MAX_MESSAGE = 500


class JourneyInvalid(ValueError):
    """A journey that cannot run; `problems` lists every (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {text}" for name, text in problems))
        self.problems = problems


@dataclass(frozen=True)
class Definition:
    """A journey's trigger, value, conditions and actions, checked."""

    trigger: str
    trigger_value: int | None
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_trigger(trigger: Any, value: Any, problems: list[tuple[str, str]]) -> None:
    if trigger not in TRIGGERS:
        problems.append(("trigger", f"must be one of {', '.join(TRIGGERS)}"))
        return
    unit, _kind = TRIGGERS[trigger]
    if unit is None:
        if value is not None:
            problems.append(("trigger_value", f"{trigger} takes no value"))
        return
    number = _int(value)
    low, high = (0, 10) if unit == "score" else (1, 3650)
    if number is None or not low <= number <= high:
        problems.append(("trigger_value", f"{trigger} needs a whole number of {unit} from {low} to {high}"))


def _check_conditions(conditions: Any, problems: list[tuple[str, str]]) -> None:
    if not isinstance(conditions, dict):
        problems.append(("conditions", "must be an object"))
        return
    for name, value in conditions.items():
        field = f"conditions.{name}"
        if name not in CONDITIONS:
            problems.append((field, f"unknown condition; known: {', '.join(CONDITIONS)}"))
        elif name == "tiers" and not (isinstance(value, list) and value
                                      and all(isinstance(tier, str) and tier for tier in value)):
            problems.append((field, "must be a non-empty list of tier names"))
        elif name == "store_ids" and not (isinstance(value, list) and value
                                          and all(_int(store) is not None for store in value)):
            problems.append((field, "must be a non-empty list of store ids"))
        elif name in ("min_balance", "max_balance") and (_int(value) is None or value < 0):
            problems.append((field, "must be a whole number, 0 or more"))


def _check_message(action: dict[str, Any], field: str, problems: list[tuple[str, str]]) -> None:
    text = action.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
        problems.append((f"{field}.text", f"a message needs text of 1 to {MAX_MESSAGE} characters"))
    variants = action.get("variants", {})
    if not isinstance(variants, dict) or not all(
            isinstance(lang, str) and isinstance(body, str) and 0 < len(body) <= MAX_MESSAGE
            for lang, body in variants.items()):
        problems.append((f"{field}.variants", "must map language codes to texts"))


def _check_action(index: int, action: Any, problems: list[tuple[str, str]]) -> None:
    field = f"actions[{index}]"
    if not isinstance(action, dict) or action.get("type") not in ACTIONS:
        problems.append((f"{field}.type", f"must be one of {', '.join(ACTIONS)}"))
        return
    kind = action["type"]
    allowed = {"message": {"type", "text", "variants"}, "points": {"type", "points"},
               "stamps": {"type", "stamps"}, "coupon": {"type", "reward_id", "name", "description", "valid_days"},
               "webhook": {"type"}, "task": {"type", "text"}}[kind]
    for extra in sorted(set(action) - allowed):
        problems.append((f"{field}.{extra}", f"not a field of a {kind} action"))
    if kind == "message":
        _check_message(action, field, problems)
    elif kind in ("points", "stamps"):
        number = _int(action.get(kind))
        if number is None or not 1 <= number <= 1_000_000:
            problems.append((f"{field}.{kind}", f"a whole number of {kind} from 1 to 1000000"))
    elif kind == "coupon":
        if action.get("reward_id") is None and not isinstance(action.get("name"), str):
            problems.append((field, "a coupon needs a catalogue reward_id or a name"))
        if action.get("reward_id") is not None and _int(action.get("reward_id")) is None:
            problems.append((f"{field}.reward_id", "must be a reward id"))
        if action.get("valid_days") is not None and (_int(action.get("valid_days")) is None
                                                     or action["valid_days"] < 1):
            problems.append((f"{field}.valid_days", "must be a whole number of days, 1 or more"))
    elif kind == "task":
        text = action.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
            problems.append((f"{field}.text", f"a task needs text of 1 to {MAX_MESSAGE} characters"))


def validate(trigger: Any, trigger_value: Any = None, conditions: Any = None,
             actions: Any = None) -> Definition:
    """The checked definition, or JourneyInvalid listing every problem."""
    problems: list[tuple[str, str]] = []
    conditions = {} if conditions is None else conditions
    _check_trigger(trigger, trigger_value, problems)
    _check_conditions(conditions, problems)
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        problems.append(("actions", f"a journey needs 1 to {MAX_ACTIONS} actions"))
    else:
        for index, action in enumerate(actions):
            _check_action(index, action, problems)
        if sum(1 for action in actions if isinstance(action, dict) and action.get("type") == "message") > 1:
            problems.append(("actions", "one message per journey (a second would only replace the first)"))
    if problems:
        raise JourneyInvalid(problems)
    return Definition(trigger=trigger, trigger_value=trigger_value, conditions=dict(conditions),
                      actions=[dict(action) for action in actions])


def kind_of(trigger: str) -> str:
    """"event" or "daily": how the evaluator finds the cards a trigger fires for."""
    return TRIGGERS[trigger][1]
