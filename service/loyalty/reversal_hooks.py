"""What a reversal does to the rewards the reversed entry touched (service/loyalty/rewards.py).

- A stamp or purchase that earned rewards (a ladder rung, a full card), a `reward_buy` or a
  `reward_grant`: those rewards are cancelled (they leave the pass and the till). If one of them
  was redeemed already, the reversal is refused: undo that redemption first.
- A `reward_redeem`: the reward is held again, until its own end date.
- A purchase that was a referred card's first: both referral bonuses are taken back
  (service/loyalty/referrals.py `undo_bonuses`), or the reversal is refused when one was spent.
- A purchase: the 7-day figures stored on the finished campaigns whose window it fell in are
  cleared, so the next report counts them again without it (analytics leave undone entries out;
  the daily roll-ups correct themselves: service/analytics/rollups.py).

Kept apart from reversal.py so that the ledger arithmetic of undo and the rewards' states each
have one place; the points themselves (a bought reward's cost coming back) are the reversal
entry's, as for any other reversal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import exists, update
from sqlalchemy.orm import Session

from service.loyalty import referrals, rewards
from service.loyalty.engine import ReversalRefused
from service.models import Campaign, CampaignRecipient, Card, LedgerEntry
from service.models.campaigns import ATTRIBUTION_WINDOW

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


def campaign_figures_of_entry(session: Session, entry: LedgerEntry) -> int:
    """Clear the stored 7-day purchases of the campaigns that counted `entry` (a purchase now undone):
    campaigns that reached its card and started at most ATTRIBUTION_WINDOW before it. A few more
    than strictly needed may be cleared (a holdout recipient); clearing only makes the next report
    count them from the ledger again. Returns the campaigns cleared."""
    if entry.kind != "purchase":
        return 0
    recipient = exists().where(CampaignRecipient.campaign_id == Campaign.id, CampaignRecipient.card_id == entry.card_id)
    cleared = session.execute(
        update(Campaign)
        .where(Campaign.buyers_7d.is_not(None), Campaign.started_at <= entry.created_at,
               Campaign.started_at > entry.created_at - ATTRIBUTION_WINDOW, recipient)
        .values(buyers_7d=None, purchases_7d=None, revenue_7d=None)
        .execution_options(synchronize_session=False))
    return int(cleared.rowcount or 0)  # type: ignore[attr-defined]


def referral_bonuses_of_entry(session: Session, entry: LedgerEntry, reversal: LedgerEntry) -> list[int]:
    """The referral bonuses `entry` brought, taken back (their entry ids); ReversalRefused when spent."""
    return referrals.undo_bonuses(session, entry, reversal)
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
