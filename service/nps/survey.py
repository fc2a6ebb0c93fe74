"""NPS surveys: "How likely are you to recommend us?" (0-10) through a link on the pass's back.

While a survey of a program runs, every pass of that program carries a back field linking
to ``/nps/<token>``. The token names the card and is signed with the brand's card-code
secret, so nobody can answer for a card they do not hold. One answer per card and survey,
which the customer may change while the survey runs; it is attributed to the customer's
home store, else to the store of the card's last transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from passes.schema import Field
from service.design import card_design
from service.google_wallet.tasks import queue_sync_held
from service.models import Brand, Card, LedgerEntry, NpsAnswer, NpsSurvey, utcnow
from service.platform import build_batch
from service.push.fanout import bump_cards

PROMOTER, DETRACTOR = 9, 6  # 9-10 promote, 0-6 detract, 7-8 are passive
_MAC_LENGTH = 32


def token_for(card: Card, brand: Brand) -> str:
    mac = hmac.new(brand.code_secret, b"nps:" + card.serial_number.encode(), hashlib.sha256)
    return f"{card.serial_number}.{mac.hexdigest()[:_MAC_LENGTH]}"


def card_for_token(session: Session, token: str) -> Card | None:
    """The card a token was made for, or None for anything forged, altered or unknown."""
    serial, _, mac = token.partition(".")
    if not serial or len(mac) != _MAC_LENGTH or len(serial) > 64:
        return None
    card = session.scalar(select(Card).where(Card.serial_number == serial))
    if card is None or not hmac.compare_digest(token_for(card, card.program.brand), token):
        return None
    return card


def active_survey(session: Session, program_id: int, now: dt.datetime | None = None) -> NpsSurvey | None:
    """The running survey of a program (the latest started, if several overlap)."""
    now = now or utcnow()
    return session.scalar(
        select(NpsSurvey).where(NpsSurvey.program_id == program_id, NpsSurvey.starts_at <= now,
                                or_(NpsSurvey.ends_at.is_(None), NpsSurvey.ends_at > now))
        .order_by(NpsSurvey.starts_at.desc(), NpsSurvey.id.desc()).limit(1))


def survey_url(card: Card, public_base_url: str) -> str:
    return f"{public_base_url.rstrip('/')}/nps/{token_for(card, card.program.brand)}"


def back_fields(card: Card, web_service_url: str) -> list[Field]:
    """The pass's back field with the survey link while a survey of its program runs."""
    session = object_session(card)
    if session is None or card.voided:
        return []
    # One indexed query per pass build (per program in a batch of builds): a pass is built once
    # per card version, and a longer-lived cache would have to be cleared in every process when
    # a survey starts.
    built = build_batch.current(session, card.id)
    if built is None:
        survey = active_survey(session, card.program_id)
    else:
        surveys = built.answers.setdefault("nps", {})
        if card.program_id not in surveys:
            surveys[card.program_id] = active_survey(session, card.program_id)
        survey = surveys[card.program_id]
    if survey is None:
        return []
    # webServiceURL is PUBLIC_BASE_URL + "/passkit" (Settings.web_service_url).
    url = survey_url(card, web_service_url.removesuffix("/passkit"))
    return [Field(key="nps", label=survey.question, value=f"Tell us (0-10): {url}",
                  attributed_value=f'<a href="{url}">Tell us (0-10)</a>')]


def attributed_store(session: Session, card: Card) -> int | None:
    """The customer's home store, else the store of the card's last transaction with one."""
    if card.customer.home_store_id is not None:
        return card.customer.home_store_id
    return session.scalar(select(LedgerEntry.store_id).where(
        LedgerEntry.card_id == card.id, LedgerEntry.store_id.is_not(None))
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(1))


def current_answer(session: Session, survey: NpsSurvey, card: Card) -> NpsAnswer | None:
    return session.scalar(select(NpsAnswer).where(NpsAnswer.survey_id == survey.id,
                                                  NpsAnswer.card_id == card.id))


def record_answer(session: Session, survey: NpsSurvey, card: Card, score: int,
                  comment: str | None = None, now: dt.datetime | None = None) -> NpsAnswer:
    """Keep the card's answer to the survey (a second answer replaces the first); the caller commits."""
    if not 0 <= score <= 10:
        raise ValueError("an NPS score is 0..10")
    now = now or utcnow()
    store_id = attributed_store(session, card)
    answer = current_answer(session, survey, card)
    if answer is None:
        answer = NpsAnswer(survey_id=survey.id, brand_id=card.brand_id, card_id=card.id, score=score,
                           comment=comment, store_id=store_id, answered_at=now, created_at=now)
        try:
            with session.begin_nested():
                session.add(answer)
        except IntegrityError:  # the same card answered twice at the same moment: keep the last
            answer = current_answer(session, survey, card)
            assert answer is not None
    answer.score, answer.comment, answer.store_id, answer.answered_at = score, comment, store_id, now
    session.flush()
    return answer


# -- the link appears and goes: every pass of the program gets a new version -------------------


def refresh_passes(session: Session, program_id: int) -> int:
    """Bump every pass of the program (its phones fetch it: the link appears or goes); the
    caller commits. Returns the pushes queued."""
    ids = list(session.scalars(select(Card.id).where(Card.program_id == program_id, Card.voided.is_(False))
                               .order_by(Card.id)))
    queue_sync_held(session, ids)
    return bump_cards(session, ids)


def update_passes(session: Session, now: dt.datetime | None = None) -> int:
    """Surveys that started or ended since their passes were last changed: change them now
    (the minute job). Each survey is one transaction. Returns how many surveys it handled."""
    now = now or utcnow()
    due = session.scalars(select(NpsSurvey).where(or_(
        and_(NpsSurvey.shown_on_passes.is_(False), NpsSurvey.starts_at <= now),
        and_(NpsSurvey.removed_from_passes.is_(False), NpsSurvey.ends_at.is_not(None), NpsSurvey.ends_at <= now)))
        .order_by(NpsSurvey.id)).all()
    for survey in due:
        refresh_passes(session, survey.program_id)
        survey.shown_on_passes = True
        survey.removed_from_passes = survey.ends_at is not None and survey.ends_at <= now
        session.commit()
    return len(due)


def register() -> None:
    """Put the survey link on the back of every pass while a survey runs (called by the app
    factory, so web and worker processes build the same passes)."""
    card_design.register_back_fields("nps", back_fields)
