"""Birthday automation: a program may give points, a message and/or a coupon on each customer's birthday.

A daily job finds today's birthdays (people born on 29 February are greeted on the 28th in
other years) and greets each card in its own transaction. "Once a year" is the ledger's
unique (card, idempotency key) with the key "birthday:<card>:<year>": points go through the
loyalty engine as an earn with that key; a message-only greeting (or a discount card, which
has no points) writes a zero-point "adjust" entry with the same key, so a second run, a
retried job or two workers never greet anyone twice. The coupon (a catalogue reward) is granted
under "<that key>:coupon" (service/loyalty/rewards.py).
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.campaigns import optout, pacing
from service.campaigns.segments import BIRTHDAY_KEY_PREFIX, birthday_on
from service.google_wallet.messages import NOTIFY
from service.loyalty import rewards
from service.loyalty.cards import touch
from service.loyalty.engine import TransactionRequest, lock_card, post_transaction
from service.models import Card, Customer, GoogleMessage, Journey, LedgerEntry, Program, utcnow
from service.platform.config import Settings

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class BirthdayRun:
    cards: int = 0
    points: int = 0
    card_ids: list[int] = field(default_factory=list)


def todays_birthdays(today: dt.date) -> list[tuple[int, int]]:
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append((2, 29))
    return days


def idempotency_key(card_id: int, year: int) -> str:
    return f"{BIRTHDAY_KEY_PREFIX}{card_id}:{year}"


def greeting(template: str, customer: Customer) -> str:
    """The program's message; "{name}" becomes the customer's first name."""
    first = (customer.name or "").split(" ")[0]
    return template.replace("{name}", first)


def greet(session: Session, program: Program, card_id: int, now: dt.datetime) -> int | None:
    """Greet one card for this year; returns the points given, None if already greeted. Caller commits."""
    key = idempotency_key(card_id, now.year)
    card = lock_card(session, card_id)
    if card is None or card.voided:
        return None
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.card_id == card_id,
                                                   LedgerEntry.idempotency_key == key)) is not None:
        return None
    points = program.birthday_points or 0
    version = card.version
    if points > 0 and program.kind != "discount":
        post_transaction(session, card_id, TransactionRequest(type="earn", points=points, reason="Happy birthday"),
                         key, now=now)
    else:
        points = 0
        session.add(LedgerEntry(card_id=card_id, kind="adjust", points=0, idempotency_key=key,
                                reason="birthday greeting", created_at=now))
    granted = False
    if program.birthday_reward_id is not None:  # the coupon, under a key of its own (once a year too)
        coupon = rewards.CouponSpec(reward_id=program.birthday_reward_id, origin="birthday", reason="birthday coupon")
        try:
            with session.begin_nested():  # not bumped there: one new version (one push) for the whole greeting
                rewards.grant(session, card_id, coupon, f"{key}:coupon", now=now, bump=False)
            granted = True
        except (rewards.RewardNotFound, rewards.RewardUnavailable):
            log.warning("birthday coupon %s of program %s is gone; card %s greeted without it",
                        program.birthday_reward_id, program.id, card_id)
    # the greeting is a marketing message: not for a holder who turned them off (the points and the
    # coupon still go); it counts against the cap (pacing.py) but, once a year, is not held by it
    greets = bool(program.birthday_message) and not optout.opted_out(session, card_id)
    if (granted or greets) and card.version == version:  # the earn made no new version
        touch(card)
    if greets:
        pacing.record_message(session, card_id, f"birthday:{now.year}", now)
        card.news = greeting(program.birthday_message, card.customer)
        if card.google_synced_version is not None:  # its Google message, queued with the greeting
            session.add(GoogleMessage(card_id=card_id, campaign_id=None, message_id=f"passcast-b{card_id}-{now.year}",
                                      header=program.name[:200], body=card.news, message_type=NOTIFY,
                                      status="queued", created_at=utcnow()))
    session.flush()
    return points


def journey_programs(session: Session) -> set[int]:
    """Programs whose birthday greeting is an enabled birthday journey (service/journeys): the
    journey greets there, this job does not (one greeting, not two)."""
    return set(session.scalars(select(Journey.program_id).where(Journey.enabled.is_(True),
                                                               Journey.trigger == "birthday")))


def run(session: Session, now: dt.datetime, settings: Settings | None = None) -> BirthdayRun:
    """The daily job: greet every card whose customer's birthday is today (UTC), in the programs
    whose birthday is not a journey."""
    result = BirthdayRun()
    replaced = journey_programs(session)
    programs = [program for program in session.scalars(
        select(Program).where(or_(Program.birthday_points > 0, Program.birthday_message.is_not(None),
                                  Program.birthday_reward_id.is_not(None))).order_by(Program.id)).all()
        if program.id not in replaced]
    days = todays_birthdays(now.date())
    for program_id in [program.id for program in programs]:
        last_id = 0
        while True:
            ids = list(session.scalars(
                select(Card.id).join(Customer, Customer.id == Card.customer_id)
                .where(Card.program_id == program_id, Card.voided.is_(False), Card.id > last_id, birthday_on(days))
                .order_by(Card.id).limit(BATCH)))
            if not ids:
                break
            for card_id in ids:
                program = session.get(Program, program_id)
                assert program is not None
                given = greet(session, program, card_id, now)
                session.commit()
                if given is None:
                    continue
                result.cards += 1
                result.points += given
                result.card_ids.append(card_id)
                if settings is not None and program.birthday_message:
                    _google(session, settings, card_id, now.year)
            last_id = ids[-1]
    log.info("birthdays: %d cards, %d points", result.cards, result.points)
    return result


def _google(session: Session, settings: Settings, card_id: int, year: int) -> None:
    """Send the greeting's queued Google message now (the minute sweeper sends it if this dies)."""
    row = session.scalar(select(GoogleMessage).where(GoogleMessage.message_id == f"passcast-b{card_id}-{year}",
                                                     GoogleMessage.status == "queued"))
    card = session.get(Card, card_id)
    if row is None or card is None:
        return
    from service.campaigns.google import deliver_one

    deliver_one(session, settings, row.id)
