"""What a program's card looks like, for the designer and the API: a sample card's real pass,
drawn by passes/preview.py.

The pass is built by the code that builds every card's pass (card_design.build_pass and
program_files for Apple, google_wallet.sync's class and object for Google), for a sample card
that is never stored: a preview cannot show anything the phone would not get. A draft (the
fields a PATCH would change, not saved) is applied to a detached copy of the program, so
nothing the session holds changes and nothing is flushed, bumped or pushed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm.attributes import set_committed_value

from passes import preview as draw
from passes.cardcode import short_number
from service.design.card_design import build_pass, card_files
from service.google_wallet import sync as google
from service.loyalty.engine import tier_for, tier_measure
from service.models import Card, Customer, Program, Tier
from service.platform.config import Settings

PLATFORMS = ("apple", "google")
SIDES = ("front", "back")
LANGUAGES = ("en", "ru")
#: The sample customer, in the language previewed (names are shown as the customer typed them).
SAMPLE_NAMES = {"en": "Anna Smith", "ru": "Анна Смирнова"}
SAMPLE_BALANCE = 135
SAMPLE_SPEND = Decimal("13.50")
SAMPLE_NUMBER = 1_234_567
SAMPLE_SERIAL = "passcast-preview-sample"
#: The plastic card number the sample card of a program with a legacy barcode format carries, per
#: format (the GS1 example EAN-13 number), so the designer shows the brand its own symbology.
SAMPLE_LEGACY_NUMBERS = {"code128": "CARD-00123456", "ean13": "4006381333931", "pdf417": "CARD-00123456",
                         "aztec": "CARD-00123456"}
#: What the lock screen writes for a notification that has just come, per language.
NOW = {"en": "now", "ru": "сейчас"}
#: The change messages a preview can show, by pass field key.
MESSAGE_KEYS = ("balance", "discount", "tier", "spend", "expiry", "news")


class PreviewError(ValueError):
    """A preview that cannot be drawn as asked (unknown tier, a field the card does not have)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Request:
    """What to draw."""

    platform: str = "apple"
    side: str = "front"
    language: str = "en"
    tier: str | None = None
    message: str | None = None
    news: str | None = None


def draft_program(program: Program, changes: Mapping[str, Any]) -> Program:
    """A detached copy of `program` with `changes` applied: never in the session, so a draft cannot
    be flushed; relationships are set without backref events (the brand's collection is untouched)."""
    copy = Program()
    for attribute in inspect(Program).column_attrs:
        setattr(copy, attribute.key, getattr(program, attribute.key))
    for key, value in changes.items():
        setattr(copy, key, value)
    set_committed_value(copy, "brand", program.brand)
    set_committed_value(copy, "certificate", program.certificate)
    set_committed_value(copy, "tiers", list(program.tiers))
    return copy


def _tier(program: Program, name: str | None) -> Tier | None:
    if name is None:
        return None
    for tier in program.tiers:
        if tier.name.casefold() == name.casefold():
            return tier
    known = ", ".join(tier.name for tier in program.tiers) or "none"
    raise PreviewError("tier", f"The program has no tier {name!r} (its tiers: {known}).")


def _expiry(program: Program, balance: int) -> dt.datetime | None:
    """Points earned today would expire after the program's days, as a real card's back says."""
    if not program.points_expire_days or balance <= 0:
        return None
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=program.points_expire_days)


def sample_card(program: Program, language: str = "en", tier_name: str | None = None,
                news: str | None = None) -> Card:
    """A card of `program` that is never stored: a typical balance and the tier it reaches (as the
    engine derives it), or a card just at the threshold of the tier asked for."""
    asked = _tier(program, tier_name)
    if program.kind == "stamps":  # a card a little over half full (and never a full one)
        required = program.stamps_required or 1
        balance, spend = max(program.starter_stamps or 0, min(required - 1, (required + 1) // 2)), SAMPLE_SPEND
    elif asked is None:
        balance, spend = SAMPLE_BALANCE, SAMPLE_SPEND
    else:
        balance, spend = int(asked.threshold), max(Decimal(asked.threshold), Decimal("0.00"))
    customer = Customer(name=SAMPLE_NAMES.get(language, SAMPLE_NAMES["en"]), language=language,
                        brand_id=program.brand_id)
    set_committed_value(customer, "home_store", None)
    card = Card(program_id=program.id, brand_id=program.brand_id, number=SAMPLE_NUMBER,
                serial_number=SAMPLE_SERIAL, authentication_token="preview-" + "0" * 32,
                balance=balance, lifetime_points=balance, lifetime_spend=spend, news=news, voided=False,
                version=1, points_expire_at=_expiry(program, balance),
                legacy_number=SAMPLE_LEGACY_NUMBERS.get(program.barcode_format or "qr"),
                updated_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    set_committed_value(card, "program", program)
    set_committed_value(card, "customer", customer)
    tier = asked if asked is not None else tier_for(program, tier_measure(program, card))
    card.tier = tier.name if tier is not None else None
    set_committed_value(card, "current_tier", tier)
    return card


def apple_pass(settings: Settings, program: Program, card: Card) -> tuple[dict[str, Any], dict[str, bytes]]:
    """pass.json and the package files (images, pass.strings) the real pass of `card` would carry."""
    pass_ = build_pass(card, settings.web_service_url)
    return pass_.to_json_dict(), card_files(card)


def render(settings: Settings, program: Program, asked: Request) -> bytes:
    """The PNG asked for, of `program` (saved or a draft)."""
    card = sample_card(program, asked.language, asked.tier, asked.news)
    if asked.message is not None:
        return _lock_screen(settings, program, card, asked)
    if asked.platform == "google":
        tier = card.current_tier
        return draw.render_google(google.class_resource(settings, program, tier),
                                  google.object_resource(settings, card), asked.language, google.logo_png(program))
    pass_json, files = apple_pass(settings, program, card)
    if asked.side == "back":
        return draw.render_back(pass_json, files, asked.language)
    return draw.render_front(pass_json, files, asked.language)


def _lock_screen(settings: Settings, program: Program, card: Card, asked: Request) -> bytes:
    """The notification a change of field `asked.message` shows: on an iPhone its changeMessage,
    on Android (Google Wallet) the changed field's label and value."""
    if asked.message == "news" and not card.news:
        card.news = "Double points this weekend!" if asked.language == "en" else "Двойные баллы в выходные!"
    if asked.platform == "google":
        return _google_lock_screen(settings, program, card, asked)
    pass_json, files = apple_pass(settings, program, card)
    field = draw.fields_of(pass_json).get(asked.message or "")
    strings = draw.strings_for(files, asked.language)
    text = draw.change_message(field, strings, asked.language) if field is not None else None
    if text is None:
        shown = [key for key, item in draw.fields_of(pass_json).items() if item.get("changeMessage")]
        raise PreviewError("message", f"This card has no changing field {asked.message!r} "
                                      f"(it has: {', '.join(shown)}).")
    icon = files.get("icon@2x.png") or files.get("icon.png")
    return draw.render_lock_screen(text, pass_json.get("organizationName", ""), icon, NOW[asked.language])


#: The fields whose change a Google Wallet notification shows (passes/preview.google_change_message).
GOOGLE_MESSAGE_KEYS = ("balance", "discount", "tier", "news")


def _google_lock_screen(settings: Settings, program: Program, card: Card, asked: Request) -> bytes:
    card.customer.language = asked.language  # the object's texts default to the customer's language
    body = google.object_resource(settings, card, notify=True)
    key = asked.message or ""
    main_key = "discount" if program.kind == "discount" else "balance"
    text = None
    if key in GOOGLE_MESSAGE_KEYS and (key not in ("balance", "discount") or key == main_key):
        text = draw.google_change_message(body, key, asked.language)
    if text is None:
        shown = [name for name in GOOGLE_MESSAGE_KEYS
                 if (name not in ("balance", "discount") or name == main_key)
                 and draw.google_change_message(body, name, asked.language) is not None]
        raise PreviewError("message", f"A Google Wallet card of this program shows no change of {key!r} "
                                      f"(it shows: {', '.join(shown)}).")
    program_name = draw.google_texts(google.class_resource(settings, program, card.current_tier), body,
                                     asked.language)["program"]
    return draw.render_google_lock_screen(text, program_name, google.logo_png(program), NOW[asked.language])


def sample_number() -> str:
    return short_number(SAMPLE_NUMBER)
