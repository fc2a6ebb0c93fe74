"""Writing audit entries: in the change's own transaction, with who did it, and never a secret.

The actor is whoever signed the request in: `g.actor`, set by the sign-in (service/api/auth.py for
API keys and cashiers; the console sets it for staff accounts). Outside a request (a CLI command, a
job) it is the system.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from flask import g, has_app_context
from sqlalchemy.orm import Session

from service.models import AuditEntry, utcnow

#: Field names that hold, or derive from, a secret: never written to the log, whatever a caller passes.
SECRET = re.compile(r"(secret|_hash$|^hash$|password|^token$|^pin$|private_key|_pem$|^key$|totp)", re.IGNORECASE)
MAX_TEXT = 500  # a long text (terms, a message) is cut: the log says what changed, not a copy of it


@dataclasses.dataclass(frozen=True)
class Actor:
    kind: str  # api_key | staff | cashier | system
    id: int | None
    label: str  # "api key a1b2c3 (POS sync)", "staff anna@example.com"


SYSTEM = Actor("system", None, "system")


def current_actor() -> Actor:
    if has_app_context():
        actor = g.get("actor")
        if isinstance(actor, Actor):
            return actor
    return SYSTEM


def _plain(value: Any) -> Any:
    """A JSON-safe form of a column value (bytes as their size: an image, never its content)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + "…"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if not SECRET.search(str(k))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def safe_url(url: str | None) -> str | None:
    """A URL without what may carry a credential (`user:password@`, the query, the fragment)."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def snapshot(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The row's `fields` (secrets left out), to compare after the change (`record` makes them JSON-safe)."""
    return {name: getattr(row, name) for name in fields if not SECRET.search(name)}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`{"field": {"before": b, "after": a}}` for each field whose value changed (`Decimal("3")` and
    `Decimal("3.0000")` are the same value)."""
    return {name: {"before": before.get(name), "after": after.get(name)}
            for name in sorted(set(before) | set(after))
            if not SECRET.search(name) and before.get(name) != after.get(name)}


def record(session: Session, brand_id: int, action: str, target_type: str, target_id: int | None,
           changes: Mapping[str, Any] | None = None, *, actor: Actor | None = None) -> AuditEntry:
    """Add an entry to `session` (the caller commits it with the change). Secret fields are dropped."""
    who = actor or current_actor()
    entry = AuditEntry(brand_id=brand_id, created_at=utcnow(), actor_kind=who.kind, actor_id=who.id,
                       actor_label=who.label[:300], action=action, target_type=target_type,
                       target_id=target_id, changes=_plain(dict(changes or {})))
    session.add(entry)
    return entry
