"""A program's messaging rules as the API and the console show and change them.

Without a row in `messaging_rules` a program has no cap and no quiet hours (only the holder's
opt-out applies); saving the defaults back keeps a row with those values, which decides the same.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from service.campaigns.pacing import OVER_CAP
from service.models import MessagingRules, Program, utcnow

FIELDS = ("cap_count", "cap_days", "quiet_start", "quiet_end", "over_cap")
DEFAULTS: dict[str, Any] = {"cap_count": None, "cap_days": 7, "quiet_start": None, "quiet_end": None,
                            "over_cap": "defer"}
assert DEFAULTS["over_cap"] in OVER_CAP


def view(session: Session, program: Program) -> dict[str, Any]:
    """The program's rules, every field given (the defaults where it set none), and its time zone."""
    row = session.get(MessagingRules, program.id)
    values = DEFAULTS if row is None else {name: getattr(row, name) for name in FIELDS}
    return {"program_id": program.id, **values, "time_zone": program.time_zone}


def save(session: Session, program: Program, values: dict[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """Replace the program's rules with `values` (fields left out: the defaults); the caller commits.
    Returns the old rules (for the audit log)."""
    before = view(session, program)
    row = session.get(MessagingRules, program.id)
    if row is None:
        row = MessagingRules(program_id=program.id)
        session.add(row)
    for name in FIELDS:
        setattr(row, name, values.get(name, DEFAULTS[name]))
    row.updated_at = now or utcnow()
    session.flush()
    return before
