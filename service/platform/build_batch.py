"""Lookups shared by a batch of pass builds (a campaign signing its passes ahead, issue 18).

A pass's back asks the database a question or two of its own (the rewards the card holds, the
program's running survey). Built one at a time that is right; built a hundred at a time by
`service.apple.pass_files.store_many` it was two queries per card, a third of the build. Inside
`batch`, a concern answers for every card of the batch with one query and keeps the answer
here until the batch ends, so nothing outlives the batch that could go stale.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

_KEY = "passcast_build_batch"


@dataclass
class BuildBatch:
    """The cards being built together and what concerns have looked up for all of them."""

    card_ids: frozenset[int]
    answers: dict[str, Any] = field(default_factory=dict)


@contextmanager
def batch(session: Session, card_ids: Sequence[int]) -> Iterator[BuildBatch]:
    """Builds of these cards in `session` share their lookups until the block ends."""
    built = BuildBatch(frozenset(card_ids))
    session.info[_KEY] = built
    try:
        yield built
    finally:
        session.info.pop(_KEY, None)


def current(session: Session, card_id: int | None) -> BuildBatch | None:
    """The batch `card_id` is built in, or None (a single build asks for itself)."""
    built: BuildBatch | None = session.info.get(_KEY)
    if built is None or card_id is None or card_id not in built.card_ids:
        return None
    return built
