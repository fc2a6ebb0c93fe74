"""Challenges: N qualifying visits or purchases within a period earn a bonus, with the progress on
the pass (Apple: a back field with a changeMessage; Google: a text module).

What counts: `visits` are purchases and stamps (what the till posts when a customer comes by);
`purchases` are purchases of at least `min_amount` (None: any). Manual earns, redemptions, rewards
and a challenge's own bonus never count.

The window: a fixed period starts_at..ends_at ("5 visits in December"; ends_at excluded), and/or a
rolling window of `rolling_days` from the card's first counted transaction ("3 visits within 7
days"), cut at ends_at when both are set. A fixed-only challenge completes at most once per card;
a rolling one can complete again: after a completion, or once a window has run out, the card's
next counted transaction opens a new window. Each window completes at most once (the unique
(challenge, card, window start) and the card lock the engine holds make it so).

The bonus is posted through the loyalty engine in the same transaction as the qualifying one,
under the idempotency key ``challenge-bonus:<progress id>:<completion>``: a retried request is
answered from the ledger before any hook runs, and a rerun of the hook finds the key taken, so a
bonus is never given twice. A bonus the rules refuse (a retired catalogue reward) is logged and
skipped: the customer's purchase itself is never refused because of a challenge.

Undo (service/loyalty/reversal.py, through reversal_hooks): reversing a transaction that counted
takes its step back. If that leaves a completed window below its target, the bonus is reversed in
the same undo; when the bonus can no longer be reversed (the points were spent, the coupon was
redeemed, later stamps built on it) the whole undo is refused with a problem that says so, as undo
refuses elsewhere ("undo what used it first"). Reversing the bonus entry itself by hand is allowed
and leaves the window completed (the brand took that bonus back on purpose).

Cost on the scan path: nothing at all while `Program.challenges_version` is 0 (loaded with the card
anyway); else the program's enabled challenges come from a per-process cache keyed by (program,
version), and a transaction that one of them counts costs one indexed SELECT of the card's open
windows plus the row's INSERT or UPDATE.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from passes.google import Text, TextModule
from passes.schema import Field
from service.design import card_design
from service.google_wallet import sync
from service.loyalty import engine, reversal, reversal_hooks, rewards
from service.loyalty.engine import (
    BONUS_KEY_PREFIXES,
    CHALLENGE_KEY_PREFIX,
    HookResult,
    LoyaltyError,
    Posted,
    ReversalRefused,
    TransactionRequest,
)
from service.models import Card, Challenge, ChallengeProgress, LedgerEntry, Program, utcnow

log = logging.getLogger(__name__)

COUNTS = ("visits", "purchases")
BONUSES = ("points", "stamps", "coupon")
#: The ledger kinds a visit is; a purchase challenge counts only `purchase`.
VISIT_KINDS = ("purchase", "stamp")
MAX_TARGET = 100
MAX_ROLLING_DAYS = 366
BONUS_KEY_PREFIX = CHALLENGE_KEY_PREFIX
CACHE_SIZE = 1024

WORDS: dict[str, dict[str, str]] = {
    "en": {"visits": "{count} / {target} visits", "purchases": "{count} / {target} purchases",
           "done": "Done! {text}"},
    "ru": {"visits": "Визиты: {count} из {target}", "purchases": "Покупки: {count} из {target}",
           "done": "Выполнено! {text}"},
}


@dataclass(frozen=True)
class Rule:
    """A challenge as the hot path needs it: a plain copy, safe to keep between requests."""

    id: int
    name: str
    counts: str
    min_amount: Decimal | None
    target: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    rolling_days: int | None
    bonus: str
    bonus_amount: int | None
    coupon_reward_id: int | None
    coupon_name: str | None
    coupon_valid_days: int | None

    @classmethod
    def of(cls, challenge: Challenge) -> Rule:
        return cls(challenge.id, challenge.name, challenge.counts, challenge.min_amount, challenge.target,
                   challenge.starts_at, challenge.ends_at, challenge.rolling_days, challenge.bonus,
                   challenge.bonus_amount, challenge.coupon_reward_id, challenge.coupon_name,
                   challenge.coupon_valid_days)

    def running(self, at: dt.datetime) -> bool:
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)

    def counts_entry(self, kind: str, amount: Decimal | None, at: dt.datetime) -> bool:
        """Whether a transaction of `kind` (and `amount`) at `at` is a step of this challenge."""
        if not self.running(at):
            return False
        if self.counts == "visits":
            return kind in VISIT_KINDS
        return kind == "purchase" and amount is not None and (self.min_amount is None or amount >= self.min_amount)

    def window_for(self, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The window a card's first counted transaction at `at` opens."""
        if self.rolling_days is None:
            assert self.ends_at is not None  # the API never saves a challenge without an end
            return self.starts_at, self.ends_at
        end = at + dt.timedelta(days=self.rolling_days)
        return at, min(end, self.ends_at) if self.ends_at is not None else end


# --- the program's challenges, cached --------------------------------------------------------------

#: (program id, challenges_version, program created_at) -> its enabled challenges. The creation time
#: tells apart a program of the same id in a database made again (tests, a restored backup).
_cache: dict[tuple[int, int, dt.datetime | None], tuple[Rule, ...]] = {}


def rules_of(session: Session, program: Program) -> tuple[Rule, ...]:
    """The program's enabled challenges; no query while its challenges_version is unchanged."""
    version = program.challenges_version or 0
    if not version:
        return ()
    key = (program.id, version, program.created_at)
    rules = _cache.get(key)
    if rules is None:
        rules = tuple(Rule.of(challenge) for challenge in session.scalars(
            select(Challenge).where(Challenge.program_id == program.id, Challenge.enabled.is_(True))
            .order_by(Challenge.id)))
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        _cache[key] = rules
    return rules


def changed(session: Session, program: Program) -> None:
    """Call in the transaction that makes, changes or removes one of the program's challenges:
    every process then reads them again (the version comes with the card on each transaction)."""
    session.execute(update(Program).where(Program.id == program.id)
                    .values(challenges_version=Program.challenges_version + 1))
    session.expire(program, ["challenges_version"])


# --- counting, as transactions are posted ----------------------------------------------------------


def _open_windows(session: Session, card_id: int, challenge_ids: Sequence[int],
                  at: dt.datetime) -> dict[int, ChallengeProgress]:
    """The card's newest window of each challenge that has not run out at `at` (one indexed query)."""
    rows = session.scalars(select(ChallengeProgress).where(
        ChallengeProgress.card_id == card_id, ChallengeProgress.window_ends_at > at,
        ChallengeProgress.challenge_id.in_(challenge_ids)).order_by(ChallengeProgress.window_starts_at))
    return {row.challenge_id: row for row in rows}  # the newest start wins


def bonus_key(row: ChallengeProgress) -> str:
    return f"{BONUS_KEY_PREFIX}{row.id}:{row.completions}"


def _give_bonus(session: Session, card: Card, rule: Rule, row: ChallengeProgress, now: dt.datetime) -> dict[str, Any]:
    """Post the bonus of a window just completed (the card is locked); what the answer says of it."""
    key, reason = bonus_key(row), f"challenge: {rule.name}"[:300]
    try:
        with session.begin_nested():
            if rule.bonus == "coupon":
                coupon = rewards.CouponSpec(reward_id=rule.coupon_reward_id, name=rule.coupon_name,
                                            valid_days=rule.coupon_valid_days, origin="journey", reason=reason)
                outcome = rewards.grant(session, card.id, coupon, key, now=now)
                row.bonus_entry_id = outcome.response["transaction"]["id"]
                bonus: dict[str, Any] = {"type": "coupon", "reward": outcome.response["reward"]}
            else:
                request = (TransactionRequest(type="stamp", stamps=rule.bonus_amount, reason=reason)
                           if rule.bonus == "stamps" else
                           TransactionRequest(type="earn", points=rule.bonus_amount, reason=reason))
                outcome = engine.post_transaction(session, card.id, request, key, now=now, limits=False)
                row.bonus_entry_id = outcome.response["id"]
                bonus = {"type": rule.bonus, "amount": rule.bonus_amount}
            session.flush()
    except LoyaltyError as error:
        log.warning("challenge %s: no bonus for card %s (%s)", rule.id, card.id, error)
        return {"type": rule.bonus, "given": False, "detail": str(error)}
    return {**bonus, "given": True, "transaction_id": row.bonus_entry_id}


def on_posted(session: Session, card: Card, posted: Posted) -> HookResult | None:
    """The engine's after-posting hook: count the transaction towards each challenge it is a step of."""
    program = card.program
    if not program.challenges_version or posted.idempotency_key.startswith(BONUS_KEY_PREFIXES):
        return None  # a bonus (this challenge's, another's, a journey's) is no step of a challenge
    at = posted.created_at
    rules = [rule for rule in rules_of(session, program) if rule.counts_entry(posted.kind, posted.amount, at)]
    if not rules:
        return None
    windows = _open_windows(session, card.id, [rule.id for rule in rules], at)
    completed = []
    for rule in rules:
        row = windows.get(rule.id)
        if row is not None and row.completed_at is not None:
            if rule.rolling_days is None:
                continue  # a fixed period completes once per card
            row = None  # a rolling challenge: this transaction opens the next window
        if row is None:
            start, end = rule.window_for(at)
            row = ChallengeProgress(challenge_id=rule.id, card_id=card.id, window_starts_at=start,
                                    window_ends_at=end, count=0, entry_ids=[], completions=0)
            session.add(row)
        if posted.entry_id in (row.entry_ids or ()):
            continue  # the hook run again for the same entry: it already counted
        row.entry_ids = [*(row.entry_ids or ()), posted.entry_id]
        row.count = len(row.entry_ids)
        row.updated_at = at
        if row.count >= rule.target:
            row.completed_at = at
            row.completions = (row.completions or 0) + 1
            session.flush()  # the row's id names the bonus's idempotency key
            completed.append({"challenge_id": rule.id, "name": rule.name, "target": rule.target,
                              "bonus": _give_bonus(session, card, rule, row, at)})
    session.flush()
    return HookResult(pass_changed=True, answer={"challenges_completed": completed} if completed else None)


# --- undo --------------------------------------------------------------------------------------------


def _take_back_bonus(session: Session, card: Card, challenge: Challenge, row: ChallengeProgress,
                     undo: LedgerEntry, now: dt.datetime) -> None:
    bonus_id = row.bonus_entry_id
    row.completed_at, row.bonus_entry_id = None, None
    if bonus_id is None or reversal.reversal_of(session, bonus_id) is not None:
        return  # no bonus was given, or the brand already took it back by hand
    try:
        reversal.reverse(session, bonus_id, f"challenge-bonus-undo:{bonus_id}", brand_id=card.brand_id,
                         reason=f"challenge “{challenge.name}” no longer completed (undo of {undo.reversed_entry_id})",
                         now=now)
    except ReversalRefused as error:
        raise ReversalRefused(
            "reversal-challenge-bonus",
            f"This transaction counted towards the challenge “{challenge.name}”, whose bonus (transaction "
            f"{bonus_id}) undoing it would take back, and that is refused: {error}",
            challenge_id=challenge.id, bonus_transaction_id=bonus_id) from None


def on_reversed(session: Session, card: Card, entry: LedgerEntry, undo: LedgerEntry, now: dt.datetime) -> bool:
    """The undo hook: take the reversed entry's step back from each window it counted in."""
    if not card.program.challenges_version or entry.kind not in VISIT_KINDS:
        return False
    rows = session.scalars(select(ChallengeProgress).where(
        ChallengeProgress.card_id == card.id, ChallengeProgress.window_starts_at <= entry.created_at,
        ChallengeProgress.window_ends_at > entry.created_at))
    moved = False
    for row in rows:
        if entry.id not in (row.entry_ids or ()):
            continue
        row.entry_ids = [entry_id for entry_id in row.entry_ids if entry_id != entry.id]
        row.count, row.updated_at, moved = len(row.entry_ids), now, True
        challenge = session.get(Challenge, row.challenge_id)
        if row.completed_at is not None and challenge is not None and row.count < challenge.target:
            session.flush()
            _take_back_bonus(session, card, challenge, row, undo, now)
    session.flush()
    return moved


# --- what the pass and the card view show -------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """One running challenge on one card."""

    rule: Rule
    count: int
    completed: bool
    window_ends_at: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"challenge_id": self.rule.id, "name": self.rule.name, "counts": self.rule.counts,
                "count": self.count, "target": self.rule.target, "completed": self.completed,
                "window_ends_at": self.window_ends_at}


def progress(session: Session, card: Card, now: dt.datetime | None = None) -> list[Shown]:
    """The card's progress in each challenge running now (0 of N where it has not started one);
    no query while the program has never had a challenge."""
    now = now or utcnow()
    rules = [rule for rule in rules_of(session, card.program) if rule.running(now)]
    if not rules:
        return []
    windows = _open_windows(session, card.id, [rule.id for rule in rules], now)
    shown = []
    for rule in rules:
        row = windows.get(rule.id)
        if row is None:
            shown.append(Shown(rule, 0, False, None))
        else:
            shown.append(Shown(rule, row.count, row.completed_at is not None, row.window_ends_at))
    return shown


def progress_text(item: Shown, language: str) -> str:
    table = WORDS.get(language, WORDS["en"])
    text = table[item.rule.counts].format(count=item.count, target=item.rule.target)
    return table["done"].format(text=text) if item.completed else text


def change_message(rule: Rule) -> str:
    """"December challenge: %@" (a % in the brand's name would read as a format directive)."""
    return f"{rule.name.replace('%', '')}: %@"


def _language(card: Card) -> str:
    return sync.language_of(card)


def _shown_on(card: Card) -> list[Shown]:
    session = object_session(card)
    if card.voided or session is None or not card.program.challenges_version:
        return []
    return progress(session, card)


def back_fields(card: Card, web_service_url: str) -> list[Field]:
    """A back field per running challenge: "December challenge: 3 / 5 visits", announced as it moves."""
    shown = _shown_on(card)
    language = _language(card) if shown else "en"
    return [Field(key=f"challenge_{item.rule.id}", label=item.rule.name, value=progress_text(item, language),
                  change_message=change_message(item.rule)) for item in shown]


def text_modules(card: Card, language: str) -> list[TextModule]:
    """The same on the Google object: a text module per running challenge."""
    return [TextModule(f"challenge_{item.rule.id}", Text(item.rule.name, language),
                       Text(progress_text(item, language), language,
                            {lang: progress_text(item, lang) for lang in WORDS}))
            for item in _shown_on(card)]


def card_view(session: Session, card: Card) -> list[dict[str, Any]]:
    """The card's progress as the brand API's card answer carries it."""
    if not card.program.challenges_version:
        return []
    return [item.as_json() for item in progress(session, card)]


def register() -> None:
    """Count transactions, take undone steps back, and show progress on both wallets (called by the
    app factory, so web and worker processes do the same)."""
    engine.register_after_posted("challenges", on_posted)
    reversal_hooks.register_after_reversal("challenges", on_reversed)
    card_design.register_back_fields("challenges", back_fields)
    sync.register_text_modules("challenges", text_modules)
