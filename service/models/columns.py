"""Many columns of one row at once, at the cost of a dict lookup each.

The pass build reads the same few dozen columns of a program, its tiers and a card for every
pass; through SQLAlchemy's instrumented attributes each read is a Python call (274 of them a
pass were a sixth of a build, bench/pass_build.py). A loaded row keeps its columns in its
``__dict__``, so they are taken from there; anything that is not (a deferred or expired
column, which must be loaded) goes through ``getattr``, as a plain read would.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

Reader = Callable[[object], tuple[Any, ...]]


def column_reader(names: tuple[str, ...]) -> Reader:
    """A function giving ``tuple(getattr(row, name) for name in names)`` without the per-read cost."""
    if not names:
        raise ValueError("column_reader needs at least one name")
    wanted = frozenset(names)
    pick: Callable[[dict[str, Any]], tuple[Any, ...]] = (
        itemgetter(*names) if len(names) > 1 else lambda loaded: (loaded[names[0]],))

    def read(row: object) -> tuple[Any, ...]:
        loaded = getattr(row, "__dict__", None)
        if loaded is None:
            return tuple(getattr(row, name) for name in names)
        if loaded.keys() >= wanted:
            return pick(loaded)
        state = loaded.get("_sa_instance_state")
        if state is not None and state.key is None:
            # Transient or pending: nothing to load, and a column never set reads as None (as
            # getattr does: column defaults are applied by the INSERT, not on reading).
            return tuple(map(loaded.get, names))
        return tuple(getattr(row, name) for name in names)  # loads what is deferred or expired

    return read


_readers: dict[tuple[str, ...], Reader] = {}


def column_values(row: object, names: tuple[str, ...]) -> tuple[Any, ...]:
    """``column_reader(names)(row)``, with the reader made once per tuple of names (for module constants)."""
    read = _readers.get(names)
    if read is None:
        read = _readers[names] = column_reader(names)
    return read(row)
