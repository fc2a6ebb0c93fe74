"""The audit log: who changed what, when. `record(...)` adds an entry to the session of the change,
so it commits (or rolls back) with it; `snapshot` and `diff` turn a row's fields into before/after."""

from service.audit.log import SYSTEM, Actor, current_actor, diff, record, safe_url, snapshot

__all__ = ["SYSTEM", "Actor", "current_actor", "diff", "record", "safe_url", "snapshot"]
