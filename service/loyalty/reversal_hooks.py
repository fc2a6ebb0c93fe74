"""What a reversal does to the rewards the reversed entry earned: one seam, rewired at merge.

Rewards a stamp card earned are StampReward rows pointing at the entry that earned them
(service/models/cards.py). Putting them back exactly (cancelling a reward not yet used, refusing
when it was redeemed) belongs to the rewards concern (service/loyalty/rewards.py,
`cancel_rewards_earned_by(session, entry, reversal_entry, now)`), built alongside this. Until it is
wired in here, a reversal of an entry that earned a reward is refused with a plain sentence, and
nothing of the reward tables is touched.

`use(handler)` lets that function (or a test's stand-in for it) take over without an import of the
rewards concern from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.loyalty.engine import ReversalRefused
from service.models import LedgerEntry, StampReward

RewardsHandler = Callable[[Session, LedgerEntry, LedgerEntry, dt.datetime], None]
_handler: RewardsHandler | None = None


def use(handler: RewardsHandler | None) -> RewardsHandler | None:
    """Let `handler` put back the rewards a reversed entry earned; returns the one it replaces."""
    global _handler
    previous, _handler = _handler, handler
    return previous


def rewards_earned_by_entry(session: Session, entry: LedgerEntry, reversal: LedgerEntry, now: dt.datetime) -> None:
    """Undo the rewards `entry` earned as part of `reversal`, or refuse (ReversalRefused) when that
    cannot be done yet. Nothing to do for an entry that earned no reward (one indexed read)."""
    names = list(session.scalars(select(StampReward.name).where(StampReward.ledger_entry_id == entry.id)
                                 .order_by(StampReward.id)))
    if not names:
        return
    if _handler is not None:
        _handler(session, entry, reversal, now)
        return
    raise ReversalRefused(
        "reversal-rewards-earned",
        f"This transaction earned {'a reward' if len(names) == 1 else f'{len(names)} rewards'} "
        f"({', '.join(names)}); undoing rewards is not available yet, so it cannot be reversed here. "
        f"Nothing was changed.", rewards=names)
