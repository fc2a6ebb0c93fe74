"""Where rate-limit counters live so that every web process (and machine) counts into one budget.

Fixed windows that start with their first hit: a counter per (limit, caller) holds the hits so
far and the moment its window ends. Both stores answer "count this hit" in one round trip and
return the window's end with the count, so the X-RateLimit-* headers cost nothing more:

* `DatabaseCounters`: the `rate_limit_counters` table, one `INSERT ... ON CONFLICT DO UPDATE ...
  RETURNING` (SQLite >= 3.35 and PostgreSQL) on an autocommit connection of its own, so a count
  is never rolled back with the request and never waits for the request's transaction. Expired
  rows are deleted by the process that notices a minute has passed.
* `RedisCounters`: limits' Redis storage plus one Lua script (INCRBY, PEXPIRE on the first hit, PTTL).

Both are `limits` storages (DatabaseCounters registers the `sqlalchemy+<database url>` scheme),
so limits' own strategies can use them too.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from limits.storage import RedisStorage, Storage
from sqlalchemy import Engine, TextClause, delete, event, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from service.models import RateLimitCounter
from service.platform.db import make_engine

SWEEP_EVERY_SECONDS = 60.0
_COUNTERS = RateLimitCounter.__table__


@functools.lru_cache(maxsize=8)
def _upsert(windows: int) -> TextClause:
    """Count a hit in `windows` counters at once; an ended window starts again. The same SQL on SQLite
    (>= 3.35) and PostgreSQL, written out rather than built per request: this runs on every request."""
    rows = ", ".join(f"(:key{n}, :amount, :ends{n})" for n in range(windows))
    return text(
        f"INSERT INTO rate_limit_counters (key, hits, expires_at) VALUES {rows} "
        "ON CONFLICT (key) DO UPDATE SET "
        "hits = CASE WHEN rate_limit_counters.expires_at <= :now THEN excluded.hits "
        "ELSE rate_limit_counters.hits + excluded.hits END, "
        "expires_at = CASE WHEN rate_limit_counters.expires_at <= :now THEN excluded.expires_at "
        "ELSE rate_limit_counters.expires_at END "
        "RETURNING key, hits, expires_at")


class WindowCounters(Protocol):
    def hit(self, windows: Sequence[tuple[str, int]], amount: int = 1) -> list[tuple[int, float]]:
        """Count `amount` in each (key, window seconds); per window: (hits so far, epoch second it ends)."""


class DatabaseCounters(Storage):
    STORAGE_SCHEME = ["sqlalchemy+sqlite", "sqlalchemy+postgresql", "sqlalchemy+postgresql+psycopg"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *, engine: Engine | None = None,
                 **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        if engine is None:
            if uri is None:
                raise ValueError("DatabaseCounters needs a sqlalchemy+<database url> or an engine")
            engine = make_engine(uri.removeprefix("sqlalchemy+"), autocommit=True)
        self.engine = engine
        self._next_sweep = 0.0
        self._sweep_lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def _run(self, statement: Any, parameters: dict[str, Any] | None = None) -> Any:
        """Execute on an autocommit connection; once more if the pooled connection had died (no pre-ping)."""
        for attempt in (1, 2):
            try:
                with self.engine.connect() as connection:
                    result = connection.execute(statement, parameters or {})
                    return result.all() if result.returns_rows else result.rowcount
            except DBAPIError as error:
                if attempt == 2 or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def hit(self, windows: Sequence[tuple[str, int]], amount: int = 1) -> list[tuple[int, float]]:
        now = time.time()
        parameters: dict[str, Any] = {"amount": amount, "now": now}
        for number, (key, seconds) in enumerate(windows):
            parameters[f"key{number}"], parameters[f"ends{number}"] = key, now + seconds
        rows = {row.key: (int(row.hits), float(row.expires_at))
                for row in self._run(_upsert(len(windows)), parameters)}
        self._sweep_if_due(now)
        return [rows[key] for key, _seconds in windows]

    def _sweep_if_due(self, now: float) -> None:
        """Delete windows that ended; at most once a minute per process, by whichever hit comes first."""
        if now < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + SWEEP_EVERY_SECONDS
            self._run(delete(_COUNTERS).where(_COUNTERS.c.expires_at <= now))
        finally:
            self._sweep_lock.release()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.hit([(key, expiry)], amount)[0][0]

    def get(self, key: str) -> int:
        rows = self._run(select(_COUNTERS.c.hits).where(_COUNTERS.c.key == key,
                                                        _COUNTERS.c.expires_at > time.time()))
        return int(rows[0].hits) if rows else 0

    def get_expiry(self, key: str) -> float:
        rows = self._run(select(_COUNTERS.c.expires_at).where(_COUNTERS.c.key == key))
        return max(float(rows[0].expires_at), time.time()) if rows else time.time()

    def check(self) -> bool:
        try:
            self._run(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        return int(self._run(delete(_COUNTERS)))

    def clear(self, key: str) -> None:
        self._run(delete(_COUNTERS).where(_COUNTERS.c.key == key))


_HIT_WINDOWS = """
local amount = tonumber(ARGV[1])
local answers = {}
for i, key in ipairs(KEYS) do
    local hits = redis.call('INCRBY', key, amount)
    local left = redis.call('PTTL', key)
    if hits == amount or left < 0 then
        left = tonumber(ARGV[i + 1])
        redis.call('PEXPIRE', key, left)
    end
    answers[i] = {hits, left}
end
return answers
"""


class RedisCounters(RedisStorage):
    """limits' Redis storage (connection handling, key prefix) with the one-round-trip `hit`."""

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_hit_windows = self.get_connection().register_script(_HIT_WINDOWS)

    def hit(self, windows: Sequence[tuple[str, int]], amount: int = 1) -> list[tuple[int, float]]:
        now = time.time()
        answers = self.lua_hit_windows([self.prefixed_key(key) for key, _ in windows],
                                       [amount, *(seconds * 1000 for _, seconds in windows)])
        return [(int(hits), now + int(left_ms) / 1000) for hits, left_ms in answers]


def counters_for(database_engine: Engine, database_url: str, redis_url: str | None) -> WindowCounters:
    """Redis when REDIS_URL is set, else the database; the database store is disposed with the app's engine."""
    if redis_url:
        return RedisCounters(redis_url, key_prefix="passcast-rate")
    counters = DatabaseCounters(engine=make_engine(database_url, autocommit=True))
    event.listen(database_engine, "engine_disposed", lambda _engine: counters.engine.dispose())
    return counters
