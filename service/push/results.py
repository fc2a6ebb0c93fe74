"""The one result type every push sender returns, plus the retry arithmetic they share.

Senders never raise for a per-token outcome: a batch of 10,000 tokens where 3 are dead and
the vendor throttled 20 must still tell the caller what happened to each of the 10,000.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

PushStatus = Literal["accepted", "failed", "retry", "unregistered", "unreachable"]

#: Reasons that mean "this token will never work again" although the status is "failed"
#: rather than "unregistered" (APNs answers 400 BadDeviceToken for tokens it never issued).
DEAD_TOKEN_REASONS = frozenset({"BadDeviceToken"})

#: Upper bound for any computed back-off, so a long outage does not park a job for hours.
MAX_BACKOFF_SECONDS = 15 * 60.0


@dataclass(frozen=True, slots=True)
class PushResult:
    """What happened to one push token.

    status:
      - "accepted": the vendor took the push (not proof of delivery: no vendor offers that).
      - "unregistered": the vendor says the token is gone; delete the registration (for APNs
        only if it was not re-registered after `unregistered_at`).
      - "failed": permanent for this request (bad token, bad credentials, wrong topic);
        retrying the same request will not help. `reason` says which.
      - "unreachable": no route we have reaches this token, and none will by trying again:
        FCM says it belongs to another sender (SENDER_ID_MISMATCH), its app's relay is not
        configured, or the relay does not know it. The registration is marked with `reason`.
      - "retry": transient (throttling, vendor 5xx, network); try again after `retry_after`
        seconds.
    http_status is None when no HTTP answer arrived (connection errors, local validation).
    vendor_id is APNs' apns-id, FCM's message name, or None.
    unregistered_at is the epoch time (seconds) APNs reports the token was last known
    invalid; a registration stored after that moment belongs to a newer token and must stay.
    """

    token: str
    status: PushStatus
    http_status: int | None = None
    reason: str | None = None
    vendor_id: str | None = None
    retry_after: float | None = None
    unregistered_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "accepted"

    @property
    def drop_registration(self) -> bool:
        """True when the token is dead and its registration should go (410/404, BadDeviceToken)."""
        return self.status == "unregistered" or (self.status == "failed" and self.reason in DEAD_TOKEN_REASONS)


def backoff_delay(
    attempt: int,
    *,
    base: float = 5.0,
    cap: float = MAX_BACKOFF_SECONDS,
    rand: Callable[[], float] = random.random,
) -> float:
    """Exponential back-off with jitter: about base * 2**attempt, capped.

    "Equal jitter" (half fixed, half random) keeps a minimum pause while spreading the
    retries of a large batch so they do not hit the vendor again in one burst.
    """
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return ceiling / 2 + rand() * ceiling / 2


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or garbage."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(int(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after_or_backoff(header: str | None, attempt: int, *, base: float = 5.0) -> float:
    """The vendor's Retry-After when it gave one (never less), else our own back-off."""
    told = parse_retry_after(header)
    return told if told is not None else backoff_delay(attempt, base=base)
