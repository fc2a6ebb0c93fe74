"""Program -> LoyaltyClass, Card -> LoyaltyObject, and keeping Google's copy current.

When is Google called?
- Dev mode (GOOGLE_ISSUER_ID unset): never. Ids use DEV_ISSUER_ID, save links are still
  signed with the (dev) service account so the whole flow can be looked at, and the card API
  marks them `"dev": true`: Google would refuse them.
- Configured: the first time a card's link is asked for (issue / GET card) its class and
  object are inserted in that request, with GOOGLE_TIMEOUT_SECONDS per call; if Google does
  not answer, the API gives `save_url: null, status: "pending"` and the next request tries
  again. A link is never handed out for an object Google does not hold.
- After that, every committed change to the card (its `version`) queues a patch (tasks.py);
  `google_synced_version` records what Google has, and a sweeper re-syncs any card behind.

Colours: Google takes a background colour on the class only (LoyaltyObject has no
hexBackgroundColor), so a program has one class for its own design and one per tier that
sets its own colour; a card's object names the class of its tier's design, and moves to
another class (a patch of classId) when its tier changes. Every class of a program is sent
together whenever any of them changes (`program.google_class_digest` covers them all).

Languages: labels and headers go as LocalizedStrings carrying every language of
`pass_design.STRINGS` (English and Russian), with the customer's language as the default;
texts we hold in one language only (news, messages) are tagged with the customer's language.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from passes.errors import PassValidationError
from passes.google import (
    LOGO_SIZE,
    Link,
    LoyaltyClassSpec,
    LoyaltyObjectSpec,
    MerchantLocation,
    Text,
    TextModule,
    loyalty_class,
    loyalty_object,
    make_id,
    program_logo,
    save_jwt,
    save_url,
)
from service.design.card_design import STRINGS, design, label_translations, nearest_stores, stamp_count
from service.google_wallet.client import AlreadyExists, GoogleWalletError, NotFound, WalletClient, client_for
from service.google_wallet.dev_account import ensure_google_service_account
from service.loyalty import rewards as held_rewards
from service.loyalty import terms as program_terms
from service.loyalty.cards import card_barcode, printed_number
from service.loyalty.engine import balance_money, effective_discount
from service.models import Card, GoogleWalletEvent, Program, Tier, utcnow
from service.platform.config import Settings

log = logging.getLogger(__name__)

DEV_ISSUER_ID = "3388000000000000000"


def enabled(settings: Settings) -> bool:
    return bool(settings.google_issuer_id)


def issuer_id(settings: Settings) -> str:
    return settings.google_issuer_id or DEV_ISSUER_ID


def service_account_file(settings: Settings) -> Path:
    if settings.google_service_account_file:
        return Path(settings.google_service_account_file)
    return ensure_google_service_account(settings.certs_dir / "dev" / "google-service-account.json")


def client(settings: Settings) -> WalletClient:
    return client_for(service_account_file(settings), settings.google_wallet_api, settings.google_token_uri,
                      settings.google_timeout_seconds)


def _own_colour(program: Program, tier: Tier | None) -> Tier | None:
    """The tier, when it dresses the card in a colour other than the program's (so needs its own class)."""
    if tier is None or not tier.background_color:
        return None
    return tier if tier.background_color.lower() != (program.background_color or "").lower() else None


def class_id(settings: Settings, program: Program, tier: Tier | None = None) -> str:
    """The program's class, or the class of a tier with a colour of its own."""
    own = _own_colour(program, tier)
    suffix = f"passcast-program-{program.id}" + (f"-tier-{own.id}" if own is not None else "")
    return make_id(issuer_id(settings), suffix)


def language_of(card: Card | None) -> str:
    """The customer's language when we speak it (pass_design.STRINGS), else English."""
    wanted = ((card.customer.language if card is not None else None) or "en").replace("_", "-").lower()
    for candidate in (wanted, wanted.split("-")[0]):  # "pt-BR", else "pt"
        if candidate in STRINGS:
            return candidate
    return "en"


def words(key: str, language: str = "en") -> Text:
    """One of our fixed texts, in `language` with every translation we have."""
    translations = {lang: table.get(key, key) for lang, table in STRINGS.items()}
    return Text(translations.get(language, key), language, translations)


def label_words(program: Program, key: str, default: str, language: str = "en") -> Text:
    """A field's label: the brand's own (program.labels) where it set one, else ours, in every language."""
    translations = label_translations(program, key, default)
    return Text(translations.get(language, translations["en"]), language, translations)


def as_spoken(value: str, language: str) -> Text:
    """A text we hold in one language (the customer's): news, campaign messages."""
    return Text(value, language)


def object_id(settings: Settings, card: Card) -> str:
    return make_id(issuer_id(settings), f"passcast-card-{card.serial_number}")


def _or(value: str | None, fallback: str) -> str:
    """Google refuses blank texts (the API accepts a name of spaces): a blank never fails a card."""
    return value if value and value.strip() else fallback


def _terms(program: Program, language: str = "en") -> Text:
    """The current rules and the brand's own text (service/loyalty/terms.py), in `language`
    with every language we speak: never the rules as they were when the class was first sent."""
    fallback = _or(program.description, _or(program.name, "Loyalty card"))
    translations = {lang: _or(text, fallback) for lang, text in program_terms.translations(program).items()}
    return Text(translations.get(language, translations["en"]), language, translations)


def _base(settings: Settings) -> str:
    return settings.public_base_url.rstrip("/")


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _locations(program: Program, card: Card | None = None) -> list[MerchantLocation]:
    home = card.customer.home_store if card is not None else None
    return [MerchantLocation(store.latitude, store.longitude) for store in nearest_stores(program.brand.stores, home)]


def _terms_link(settings: Settings, program: Program, language: str | None = None) -> Link:
    """The terms page; a card's link asks for its customer's language (the class's is the reader's)."""
    query = f"?lang={language}" if language else ""
    return Link(id="terms", uri=f"{_base(settings)}/google/programs/{program.id}/terms{query}",
                description=words("Terms and conditions", language or "en"))


def _logo_inputs(program: Program) -> tuple[bytes | None, str, str, str]:
    """What the Google logo is drawn from: the uploaded logo (else icon) and the program's colours."""
    look = design(program, None)
    return program.logo_png or program.icon_png, look.background_color, look.foreground_color, program.name


def logo_png(program: Program) -> bytes:
    """The 660 x 660 programLogo Google fetches (rendered once per image and colours per process)."""
    source, background, foreground, name = _logo_inputs(program)
    try:
        return program_logo(source, background=background, foreground=foreground, text=name)
    except PassValidationError:  # an upload Pillow cannot read: the generated logo, not a 500 to Google
        log.warning("program %s: uploaded image unreadable, Google gets the generated logo", program.id)
        return program_logo(None, background=background, foreground=foreground, text=name)


def logo_version(program: Program) -> str:
    """Changes whenever the logo would: part of the logo URL, so Google fetches the new one."""
    source, background, foreground, name = _logo_inputs(program)
    digest = hashlib.sha256(source or b"")
    digest.update(f"|{background}|{foreground}|{name}|{LOGO_SIZE}".encode())
    return digest.hexdigest()[:12]


def class_resource(settings: Settings, program: Program, tier: Tier | None = None) -> dict[str, Any]:
    """The class of the program's design, or of a tier's own colour (`tier` with one)."""
    logo_version_ = logo_version(program)
    return loyalty_class(LoyaltyClassSpec(
        class_id=class_id(settings, program, tier),
        issuer_name=_or(program.brand.name, "Loyalty card"),
        program_name=_or(program.name, "Loyalty card"),
        logo_uri=f"{_base(settings)}/google/programs/{program.id}/logo.png?v={logo_version_}",
        background_color=design(program, _own_colour(program, tier)).background_color,
        text_modules=[TextModule("terms", label_words(program, "terms", "Terms and conditions"), _terms(program))],
        links=[_terms_link(settings, program)],
        merchant_locations=_locations(program),
        callback_url=f"{_base(settings)}/google/callbacks",
    ))


def _points(card: Card) -> tuple[str, str, int | str]:
    """(field key, our label, value) of the card's main figure."""
    if card.program.kind == "stamps":
        return "stamps", "Stamps", stamp_count(card)  # "3/10": fits Google's 7 recommended characters up to 40 slots
    discount = effective_discount(card)
    if discount is not None:
        return "discount", "Discount", f"{format(discount.normalize(), 'f')}%"
    money = balance_money(card)
    if money is not None:
        return "balance", "Cashback", f"{money:.2f} {card.program.currency}"
    return "balance", "Points", int(card.balance)


#: (settings, card, language) -> links a concern adds to the object's links module, after the terms
LinkContributor = Callable[[Settings, Card, str], Sequence[Link]]
_link_contributors: dict[str, LinkContributor] = {}


def register_links(name: str, contributor: LinkContributor) -> None:
    """Let a concern add links to every card's object (the messages opt-out page registers at app
    start), as card_design.register_back_fields does for the Apple pass's back: this module never
    imports the concerns above it. Registering the same name again replaces it."""
    _link_contributors[name] = contributor


def contributed_links(settings: Settings, card: Card, language: str) -> list[Link]:
    return [link for contributor in _link_contributors.values() for link in contributor(settings, card, language)]


#: (card, language) -> text modules a concern adds to the object, before the news (a challenge's progress)
TextModuleContributor = Callable[[Card, str], Sequence[TextModule]]
_text_module_contributors: dict[str, TextModuleContributor] = {}


def register_text_modules(name: str, contributor: TextModuleContributor) -> None:
    """Let a concern add text modules to every card's object (challenges register at app start), as
    register_links does for links. Registering the same name again replaces it."""
    _text_module_contributors[name] = contributor


def contributed_text_modules(card: Card, language: str) -> list[TextModule]:
    return [module for contributor in _text_module_contributors.values() for module in contributor(card, language)]


def _rewards_module(card: Card, language: str) -> list[TextModule]:
    """The rewards the card can redeem, as the pass's back lists them (none: no module)."""
    held = held_rewards.on_the_pass(card)
    if not held:
        return []
    return [TextModule("rewards", words("Your rewards (valid until)", language), held_rewards.pass_lines(card, held))]


def object_resource(settings: Settings, card: Card, *, notify: bool = False) -> dict[str, Any]:
    program, brand = card.program, card.program.brand
    key, label, balance = _points(card)
    language = language_of(card)
    news = as_spoken(card.news, language) if card.news and card.news.strip() else words("No news yet.", language)
    barcode = card_barcode(card, brand)
    return loyalty_object(LoyaltyObjectSpec(
        object_id=object_id(settings, card),
        class_id=class_id(settings, program, card.current_tier),
        account_id=printed_number(card),
        account_name=_or(card.customer.name, printed_number(card)),
        barcode_value=barcode.message,
        barcode_type=barcode.google_type,
        alternate_text=barcode.alt_text,
        points_label=label_words(program, key, label, language),
        balance=balance,
        tier=card.tier,
        tier_label=label_words(program, "tier", "Tier", language),
        text_modules=[*_rewards_module(card, language), *contributed_text_modules(card, language),
                      TextModule("news", label_words(program, "news", "News", language), news),
                      TextModule("terms", label_words(program, "terms", "Terms and conditions", language),
                                 _terms(program, language))],
        links=[_terms_link(settings, program, language), *contributed_links(settings, card, language)],
        merchant_locations=_locations(program, card),
        active=not card.voided,
        notify_on_update=notify,
        hero_image_uri=stamps_image_url(settings, card),
        hero_image_description=f"{stamp_count(card)} stamps",
    ))


def stamps_version(program: Program, tier: Tier | None = None) -> str:
    """Changes whenever a stamp picture would (stamp image, colours, N): part of its URL."""
    look = design(program, tier)
    digest = hashlib.sha256(program.stamp_png or b"")
    digest.update(f"|{look.background_color}|{look.foreground_color}|{program.stamps_required}".encode())
    return digest.hexdigest()[:12]


def stamps_image_url(settings: Settings, card: Card) -> str | None:
    """The same stamp strip the Apple pass shows, as the object's heroImage (None: not a stamp card).
    The URL names the program, the filled count and the design version, nothing of the customer."""
    program = card.program
    if program.kind != "stamps":
        return None
    tier = card.current_tier
    query = f"v={stamps_version(program, tier)}" + (f"&tier={tier.id}" if tier is not None else "")
    return f"{_base(settings)}/google/programs/{program.id}/stamps/{card.balance}.png?{query}"


def class_resources(settings: Settings, program: Program) -> list[dict[str, Any]]:
    """Every class of the program: its own design's, then one per tier with a colour of its own."""
    bodies = {None: class_resource(settings, program)}
    for tier in program.tiers:
        if _own_colour(program, tier) is not None:
            bodies[tier.id] = class_resource(settings, program, tier)
    return list(bodies.values())


def _push_class(settings: Settings, program: Program, wallet: WalletClient) -> str | None:
    """Insert the program's classes, or patch them when what we would send changed since last time.

    Returns the digest to record (the caller writes it with the sync's outcome), None when
    Google already has these classes.
    """
    bodies = class_resources(settings, program)
    digest = _digest(bodies)
    if program.google_class_digest == digest:
        return None
    for body in bodies:
        try:
            wallet.insert_class(body)
        except AlreadyExists:
            wallet.patch_class(body["id"], body)
    return digest


def _lease_length(settings: Settings) -> dt.timedelta:
    """Longer than the calls one sync may make (class insert + patch, object patch + insert)."""
    return dt.timedelta(seconds=4 * settings.google_timeout_seconds + 30)


def _claim(session: Session, settings: Settings, card_id: int) -> dt.datetime | None:
    """Take the card's sync lease (committed, so other workers see it); None when another job holds it."""
    now = utcnow()
    until = now + _lease_length(settings)
    result = session.execute(
        update(Card).where(Card.id == card_id,
                           or_(Card.google_sync_lease.is_(None), Card.google_sync_lease < now))
        .values(google_sync_lease=until).execution_options(synchronize_session=False))
    session.commit()
    return until if result.rowcount else None  # type: ignore[attr-defined]


def _release(session: Session, card: Card, lease: dt.datetime, synced: tuple[int, int] | None,
             class_digest: str | None) -> None:
    """Give the lease back, recording what Google now holds (the version actually sent).

    Only while we still hold the lease: a worker whose lease ran out records nothing (the
    next holder sends the card again), and the recorded version never goes backwards.
    """
    values: dict[str, Any] = {"google_sync_lease": None}
    condition = [Card.id == card.id, Card.google_sync_lease == lease]
    if synced is not None:
        values.update(google_synced_version=synced[0], google_synced_balance=synced[1])
        condition.append(or_(Card.google_synced_version.is_(None), Card.google_synced_version <= synced[0]))
    session.execute(update(Card).where(*condition).values(**values).execution_options(synchronize_session=False))
    if class_digest is not None:
        session.execute(update(Program).where(Program.id == card.program_id)
                        .values(google_class_digest=class_digest).execution_options(synchronize_session=False))
    session.commit()
    if class_digest is not None:  # the next card of this program in this session skips the class
        set_committed_value(card.program, "google_class_digest", class_digest)


def _send_object(settings: Settings, card: Card, wallet: WalletClient) -> str | None:
    """Send the card as it is now: insert or patch its object (class first if needed)."""
    class_digest = _push_class(settings, card.program, wallet)
    notify = card.google_synced_balance is not None and card.google_synced_balance != card.balance
    body = object_resource(settings, card, notify=notify)
    if card.google_synced_version is None:
        try:
            wallet.insert_object(body)
        except AlreadyExists:
            wallet.patch_object(body["id"], body)
    else:
        try:
            wallet.patch_object(body["id"], body)
        except NotFound:  # removed on Google's side (or another issuer account): put it back
            wallet.insert_object(body)
    return class_digest


def sync_card(session: Session, settings: Settings, card: Card, *, rounds: int = 3) -> bool:
    """Make Google's object match the card now; True when something was sent.

    Syncs of one card never overlap: the job takes the card's lease (a committed UPDATE, so
    it holds across processes without keeping the card row locked during the HTTP call),
    reads the card, sends it and records the version it sent. A job that finds the lease
    taken does nothing: the holder reads the card's version again after releasing and sends
    once more when the card moved on meanwhile. So Google never ends older than the version
    the database says it has. COMMITS the session (the lease must be visible to other
    workers). Raises GoogleWalletError when Google refuses or cannot be reached; nothing is
    recorded then and the sweeper tries again.
    """
    if not enabled(settings):
        return False
    sent = False
    for _ in range(rounds):
        if card.google_synced_version is not None and card.google_synced_version >= card.version:
            return sent
        lease = _claim(session, settings, card.id)
        if lease is None:
            return sent  # another job is sending this card; it re-checks the version when done
        try:
            session.refresh(card)  # read after taking the lease: what we send is at least this new
            version, balance = card.version, card.balance
            if card.google_synced_version is not None and card.google_synced_version >= version:
                _release(session, card, lease, None, None)
                return sent
            class_digest = _send_object(settings, card, client(settings))
        except BaseException:
            session.rollback()
            _release(session, card, lease, None, None)
            raise
        _release(session, card, lease, (version, balance), class_digest)
        sent = True
        session.refresh(card)  # changed while we were sending? then once more
    return sent


@functools.lru_cache(maxsize=8)
def _signing_account(path: str, _mtime: float) -> dict[str, Any]:
    """The key file, with its key parsed once (cards are viewed far more often than keys rotate)."""
    info = json.loads(Path(path).read_text())
    return {**info, "private_key": serialization.load_pem_private_key(info["private_key"].encode(), None)}


def link(settings: Settings, card: Card) -> str:
    """The "Save to Google Wallet" link: a JWT naming the (inserted) object by id."""
    path = service_account_file(settings)
    origins = settings.google_origins or (_base(settings),)
    return save_url(save_jwt(_signing_account(str(path), path.stat().st_mtime), [object_id(settings, card)], origins))


def _events(session: Session, card: Card) -> dict[str, Any]:
    rows = session.execute(
        select(GoogleWalletEvent.event_type, func.count(), func.max(GoogleWalletEvent.id))
        .where(GoogleWalletEvent.card_id == card.id).group_by(GoogleWalletEvent.event_type)).all()
    counts = {event: count for event, count, _ in rows}
    latest = max(rows, key=lambda row: row[2])[0] if rows else None
    return {"saves": counts.get("save", 0), "removals": counts.get("del", 0),
            "saved": None if latest is None else latest == "save"}


def card_google_view(session: Session, settings: Settings, card: Card, *, ensure: bool = False) -> dict[str, Any]:
    """What the card API shows under `google_wallet`; `ensure` inserts the object first if needed."""
    view: dict[str, Any] = {"object_id": object_id(settings, card), "dev": not enabled(settings)}
    if not enabled(settings):
        view.update(status="dev", save_url=link(settings, card))
    else:
        if card.google_synced_version is None and ensure:
            try:
                sync_card(session, settings, card)
                session.commit()
            except (GoogleWalletError, PassValidationError) as exc:
                session.rollback()
                log.warning("Google Wallet insert for card %s failed: %s", card.id, exc)
        inserted = card.google_synced_version is not None
        view.update(status="inserted" if inserted else "pending", save_url=link(settings, card) if inserted else None)
    view.update(_events(session, card))
    return view
