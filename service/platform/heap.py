"""Keep the cycle collector away from the objects every process builds at start-up.

A worker holds ~180 000 long-lived objects once the app, SQLAlchemy's mappers and the
crypto libraries are loaded. CPython's full (generation 2) collection walks all of them:
measured 60-400 ms per collection in a gunicorn worker, landing in the middle of whichever
cashier request allocated the object that tipped the threshold (bench/scan_earn.py's
p99). `gc.freeze()` moves them to a permanent generation that collections skip; they are
still freed normally by reference counting. Objects made later (requests, caches) are
collected as before.
"""

from __future__ import annotations

import gc

from sqlalchemy.orm import configure_mappers


def freeze_startup_objects() -> None:
    """Call once a process has finished loading, before it serves (and, when forking, before the fork)."""
    configure_mappers()  # otherwise done lazily by the first query, and left out of the freeze
    gc.collect()  # don't freeze garbage
    gc.freeze()
