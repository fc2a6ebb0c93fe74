"""The `passesUpdatedSince` tag: which passes a device still has to fetch.

A bare timestamp tag loses updates: a transaction that stamped a card at 10:00:00 but
commits a moment later is invisible to a device that listed at 10:00:00.5 and was told
"lastUpdated = 10:00:00". So the tag carries a watermark kept SETTLE seconds behind the
clock (every transaction has committed by then) plus the (card, version) pairs above the
watermark already reported, which are therefore not reported again. The tag is opaque to
the phone; anything we cannot parse means "since the beginning".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from service.models import utcnow

SETTLE = dt.timedelta(seconds=30)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TAG = re.compile(r"^2\.(\d{1,12})(?:\.((?:\d+-\d+)(?:_\d+-\d+)*))?$")


@dataclass(frozen=True)
class Since:
    watermark: dt.datetime = _EPOCH
    reported: frozenset[tuple[int, int]] = field(default_factory=frozenset)


def parse_tag(tag: str | None) -> Since:
    match = _TAG.match(tag or "")
    if match is None:
        return Since()
    watermark = _EPOCH + dt.timedelta(seconds=int(match.group(1)))
    pairs = match.group(2)
    reported = frozenset(
        (int(card), int(version)) for card, version in (pair.split("-") for pair in pairs.split("_"))
    ) if pairs else frozenset()
    return Since(watermark, reported)


def next_tag(since: Since, rows: Iterable[tuple[int, int, dt.datetime]], now: dt.datetime | None = None) -> str:
    """The tag after reporting `rows` (card id, version, updated_at: all above the old watermark)."""
    watermark = max(since.watermark, ((now or utcnow()) - SETTLE).replace(microsecond=0))
    above = sorted((card, version) for card, version, updated_at in rows if updated_at > watermark)
    tag = f"2.{int((watermark - _EPOCH).total_seconds())}"
    if above:
        tag += "." + "_".join(f"{card}-{version}" for card, version in above)
    return tag
