"""What a reversal does to the rewards the reversed entry touched (service/loyalty/rewards.py).

- A stamp or purchase that earned rewards (a ladder rung, a full card), a `reward_buy` or a
  `reward_grant`: those rewards are cancelled (they leave the pass and the till). If one of them
  was redeemed already, the reversal is refused: undo that redemption first.
- A `reward_redeem`: the reward is held again, until its own end date.

Kept apart from reversal.py so that the ledger arithmetic of undo and the rewards' states each
have one place; the points themselves (a bought reward's cost coming back) are the reversal
entry's, as for any other reversal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session

from service.loyalty import rewards
from service.loyalty.engine import ReversalRefused
from service.models import Card, LedgerEntry

#: Entries whose rewards a reversal cancels.
EARNING_KINDS = ("stamp", "purchase", "reward_buy", "reward_grant")


def rewards_earned_by_entry(session: Session, entry: LedgerEntry, reversal: LedgerEntry, now: dt.datetime) -> None:
    """Put the rewards back as they were before `entry`, as part of `reversal`; ReversalRefused
    (nothing changed: the caller rolls back) when a reward it earned was redeemed since."""
    if entry.kind == "reward_redeem":
        rewards.unredeem(session, entry, reversal, now)
        return
    if entry.kind not in EARNING_KINDS:
        return
    try:
        rewards.cancel_rewards_earned_by(session, entry, reversal, now)
    except rewards.RedeemedRewardInTheWay as error:
        raise ReversalRefused(
            "reversal-rewards-earned",
            f"This transaction earned “{error.reward_name}”, which was redeemed since; undo that redemption "
            f"first (newest first). Nothing was changed.", rewards=[error.reward_name],
            held_reward_id=error.held_reward_id) from None


#: (session, locked card, the entry reversed, its reversal entry, now) -> True when what the pass
#: shows changed. May raise ReversalRefused (the caller rolls the whole undo back).
AfterReversal = Callable[[Session, Card, LedgerEntry, LedgerEntry, dt.datetime], bool]
_after_reversal: dict[str, AfterReversal] = {}


def register_after_reversal(name: str, hook: AfterReversal) -> None:
    """Let a concern above the loyalty engine take back what an undone entry gave it (a challenge's
    step: service/journeys/challenges.py registers at app start). The same name again replaces it."""
    _after_reversal[name] = hook


def after_reversal(session: Session, card: Card, entry: LedgerEntry, reversal: LedgerEntry, now: dt.datetime) -> bool:
    """Run the registered hooks; True when one of them changed what the pass shows."""
    changed = False
    for hook in list(_after_reversal.values()):
        changed = hook(session, card, entry, reversal, now) or changed
    return changed
