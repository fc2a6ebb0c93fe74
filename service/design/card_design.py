"""How a card looks in Apple Wallet: the storeCard layout, labels, locations and images.

Labels and change messages in pass.json are localisation keys; Wallet resolves them from
en.lproj / ru.lproj pass.strings on the phone, so one signed pass speaks both languages.

A card's tier may bring its own colours and strip image; whatever the tier leaves unset
comes from the program. Every field a transaction can change carries a changeMessage, as
that is the only way an update shows anything on the lock screen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from passes.barcodes import ShownBarcode
from passes.errors import PassValidationError
from passes.images import image_set
from passes.localization import lproj_files
from passes.schema import Barcode, Beacon, Field, Location, Pass, StoreCard
from passes.stamps import stamp_strip
from service.loyalty import rewards as held_rewards
from service.loyalty import stamps as stamp_rules
from service.loyalty import terms as program_terms
from service.loyalty.cards import pass_numbers
from service.loyalty.engine import balance_money, effective_discount
from service.models import Card, Program, Store, Tier
from service.models.columns import column_reader

log = logging.getLogger(__name__)

MAX_LOCATIONS = 10

# English text is the key (Apple's convention: pass.json values are looked up in
# pass.strings); each language maps it to its own words.
RUSSIAN: dict[str, str] = {
    "Points": "Баллы",
    "Balance: %@": "Баланс: %@",
    "Cashback": "Кешбэк",
    "Discount": "Скидка",
    "Your discount is now %@": "Ваша скидка теперь %@",
    "Member": "Участник",
    "Tier": "Уровень",
    "Your tier is now %@": "Ваш уровень теперь %@",
    "Card": "Карта",
    "News": "Новости",
    "No news yet.": "Пока новостей нет.",
    "Terms and conditions": "Условия программы",
    "Purchases": "Покупки",
    "Purchases: %@": "Покупки: %@",
    "Points expire on": "Баллы сгорают",
    "Points expire on %@": "Баллы сгорают %@",
    "Stamps": "Штампы",
    "Stamps: %@": "Штампы: %@",
    "Next reward": "Следующая награда",
    "Cards filled": "Заполнено карт",
    "Messages from us: turn off or on": "Наши сообщения: выключить или включить",  # service/campaigns/optout.py
    "Rewards": "Награды",
    "Rewards: %@": "Награды: %@",
    "Your rewards (valid until)": "Ваши награды (действуют до)",
}
STRINGS: dict[str, dict[str, str]] = {"en": {key: key for key in RUSSIAN}, "ru": RUSSIAN}

#: The pass fields whose label a brand may change (program.labels), with Passcast's English label.
#: "balance" is the primary field of a points or cashback card (its label follows the kind).
LABEL_KEYS: dict[str, str] = {"balance": "Points", "discount": "Discount", "tier": "Tier", "holder": "Member",
                              "number": "Card", "spend": "Purchases", "news": "News",
                              "expiry": "Points expire on", "terms": "Terms and conditions"}


def own_label(program: Program, key: str, language: str) -> str | None:
    """The brand's label for field `key` in `language`, if it set one (blank counts as unset)."""
    return _own_label(program.labels, key, language)


def _own_label(labels: dict[str, Any] | None, key: str, language: str) -> str | None:
    text = ((labels or {}).get(key) or {}).get(language)
    return text.strip() if isinstance(text, str) and text.strip() else None


def label(program: Program, key: str, default: str) -> str:
    """The label pass.json carries: the brand's English label, else ours (both are pass.strings keys)."""
    return _own_label(program.labels, key, "en") or default


def _label(labels: dict[str, Any] | None, key: str, default: str) -> str:
    """`label` from the program's labels read once (build_pass asks for up to ten)."""
    return (_own_label(labels, key, "en") if labels else None) or default


def label_translations(program: Program, key: str, default: str) -> dict[str, str]:
    """Field `key`'s label in every language we speak: the brand's where it set one, else ours."""
    return {language: own_label(program, key, language) or table.get(default, default)
            for language, table in STRINGS.items()}


def _distance_km(a: Store, b: Store) -> float:
    """Great-circle distance; good enough to rank a brand's stores."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def nearest_stores(stores: Sequence[Store], home: Store | None) -> list[Store]:
    """Apple honours at most 10 locations: keep those nearest the customer's home store."""
    if home is None:
        return list(stores[:MAX_LOCATIONS])
    return sorted(stores, key=lambda store: (_distance_km(home, store), store.id))[:MAX_LOCATIONS]


_relevance_cache: dict[tuple[object, ...], tuple[tuple[Location, ...], tuple[Beacon, ...]]] = {}


def store_text(store: Store, marketing: bool = True) -> str:
    """What the lock screen says near a store: a running geo campaign's text (not for a holder who
    turned marketing off), the store's own, or a default."""
    campaign_text = store.geo_relevant_text if marketing else None
    return campaign_text or store.relevant_text or f"{store.name}: show your card at the counter."


def _beacon(store: Store, marketing: bool = True) -> Beacon | None:
    """The store's iBeacon, if it has a valid one (a bad one is left out, never breaks the pass)."""
    if not store.beacon_uuid:
        return None
    try:
        return Beacon(proximity_uuid=store.beacon_uuid, major=store.beacon_major, minor=store.beacon_minor,
                      relevant_text=store_text(store, marketing))
    except PassValidationError:
        return None


#: (card) -> whether its holder takes marketing (registered by service/campaigns/optout.py): a
#: running geo campaign's text is marketing, so a holder who turned messages off sees the store's own.
MarketingCheck = Callable[[Card], bool]
_marketing_check: list[MarketingCheck] = []


def register_marketing_check(check: MarketingCheck) -> None:
    """The opt-out's say on geo campaign texts (a hook: the design never imports the campaigns)."""
    _marketing_check[:] = [check]


def _takes_marketing(card: Card, stores: Sequence[Store]) -> bool:
    """Asked only while a geo campaign runs at one of the brand's stores (no query otherwise)."""
    if not _marketing_check or not any(store.geo_relevant_text for store in stores):
        return True
    return _marketing_check[0](card)


#: What a store's location and beacon are made of (the relevance cache's key), read at once.
_store_values = column_reader(("id", "latitude", "longitude", "name", "relevant_text", "geo_relevant_text",
                               "beacon_uuid", "beacon_major", "beacon_minor"))
_GEO_TEXT = 5
_home_values = column_reader(("id", "latitude", "longitude"))


def _relevance(card: Card) -> tuple[tuple[Location, ...], tuple[Beacon, ...]]:
    """Locations and beacons of the 10 stores nearest the home store, made once per brand's
    stores and home store: ranking and checking them was ~20 % of a build."""
    stores, home = card.program.brand.stores, card.customer.home_store
    marketing = _takes_marketing(card, stores)
    shown = tuple(map(_store_values, stores))
    if not marketing:  # the campaign's text is not shown to this holder: not part of the key either
        shown = tuple((*values[:_GEO_TEXT], None, *values[_GEO_TEXT + 1:]) for values in shown)
    key = (shown, None if home is None else _home_values(home))
    relevance = _relevance_cache.get(key)
    if relevance is None:
        nearest = nearest_stores(stores, home)
        locations = tuple(Location(latitude=store.latitude, longitude=store.longitude,
                                   relevant_text=store_text(store, marketing))
                          for store in nearest)
        beacons = tuple(beacon for beacon in (_beacon(store, marketing) for store in nearest)
                        if beacon is not None)[:MAX_LOCATIONS]
        relevance = (locations, beacons)
        if len(_relevance_cache) >= 1024:
            _relevance_cache.clear()
        _relevance_cache[key] = relevance
    return relevance


# -- back fields other concerns add (a hook, so the design never imports them) ----------------

#: (card, web service URL) -> the fields it adds to the pass's back, before the terms
BackFields = Callable[[Card, str], Sequence[Field]]
_back_field_contributors: dict[str, BackFields] = {}


def register_back_fields(name: str, contributor: BackFields) -> None:
    """Let a concern add fields to every pass's back (the NPS survey link registers at app start).

    The design is below the concerns that show something on the pass: they come to it, it never
    imports them (importing NPS from here closed the circle google_wallet.sync -> design ->
    nps -> google_wallet.tasks -> sync). Registering the same name again replaces it."""
    _back_field_contributors[name] = contributor


def contributed_back_fields(card: Card, web_service_url: str) -> list[Field]:
    """The registered contributors' back fields, in the order they registered."""
    return [field for contributor in _back_field_contributors.values() for field in contributor(card, web_service_url)]


@dataclass(frozen=True)
class Design:
    """Colours and strip of a pass: the tier's where it sets them, else the program's."""

    background_color: str
    foreground_color: str
    label_color: str
    strip_png: bytes | None


#: A program's or tier's colours and strip, read at once (a pass build asks twice).
_look_values = column_reader(("background_color", "foreground_color", "label_color", "strip_png"))


def design(program: Program, tier: Tier | None) -> Design:
    background, foreground, label_color, strip = _look_values(program)
    if tier is None:
        return Design(background, foreground, label_color, strip)
    own_background, own_foreground, own_label_color, own_strip = _look_values(tier)
    return Design(own_background or background, own_foreground or foreground, own_label_color or label_color,
                  own_strip or strip)


def _value_field(program: Program, card: Card, labels: dict[str, Any] | None, kind: str, balance: int) -> Field:
    """The primary field, drawn large over the strip (Apple's storeCard layout): the discount on
    a discount card; else the balance (as money for cashback)."""
    discount = effective_discount(card) if kind == "discount" else None
    if discount is not None:
        return Field(key="discount", label=_label(labels, "discount", "Discount"), value=f"{_percent(discount)}%",
                     change_message="Your discount is now %@")
    money = balance_money(card) if kind == "cashback" else None
    if money is not None:
        return Field(key="balance", label=_label(labels, "balance", "Cashback"), value=money,
                     currency_code=program.currency,
                     change_message="Balance: %@")
    return Field(key="balance", label=_label(labels, "balance", "Points"), value=balance,
                 change_message="Balance: %@")


def _expiry_field(labels: dict[str, Any] | None, balance: int, expire_at: dt.datetime | None) -> list[Field]:
    """"Points expire on <date>" on the back while points are due to expire."""
    if expire_at is None or balance <= 0:
        return []
    return [Field(key="expiry", label=_label(labels, "expiry", "Points expire on"), value=expire_at,
                  date_style="PKDateStyleMedium", change_message="Points expire on %@")]


def _percent(value: Decimal) -> str:
    return format(value.normalize(), "f")


def logo_text(program: Program) -> str | None:
    """The program's name is written once. Without an uploaded logo, Wallet writes it (logoText,
    crisp at any size and in the pass's colours) beside the generated monogram; an uploaded logo
    is the brand's own mark, which as a rule carries the name, so no logoText repeats it."""
    return None if program.logo_png else program.name


def terms_text(program: Program) -> str:
    """The back's terms: the current rules (service/loyalty/terms.py) and the brand's own text,
    in English; Wallet shows the Russian from ru.lproj (see program_strings)."""
    return program_terms.terms(program, "en").text() or program.description


def _balance_default(program: Program) -> str:
    return "Cashback" if program.kind == "cashback" else "Points"


def program_strings(program: Program) -> dict[str, dict[str, str]]:
    """STRINGS plus this program's terms and own labels: pass.json holds the English text, each
    language maps it (a brand's Russian label without an English one maps our English key)."""
    english = terms_text(program)
    tables = {language: dict(table) for language, table in STRINGS.items()}
    for language, table in tables.items():
        table[english] = program_terms.terms(program, language).text() or english
    for key in (program.labels or {}):
        if key not in LABEL_KEYS:
            continue
        default = _balance_default(program) if key == "balance" else LABEL_KEYS[key]
        shown = label(program, key, default)
        for language, text in label_translations(program, key, default).items():
            tables[language][shown] = text
    return tables


def stamp_count(card: Card) -> str:
    """"3/10": the stamps on the current card of the stamps that fill it."""
    return f"{card.balance}/{card.program.stamps_required or 0}"


def _stamp_back(card: Card) -> list[Field]:
    """A stamp card's back: the next reward and how many cards were filled."""
    program = card.program
    fields = []
    upcoming = stamp_rules.next_reward(program, card.balance)
    if upcoming is not None:
        fields.append(Field(key="next_reward", label="Next reward", value=f"{upcoming[1]} ({upcoming[0]})"))
    fields.append(Field(key="cards_filled", label="Cards filled", value=card.stamp_cards_completed or 0))
    return fields


_shared_fields: dict[tuple[str, str, object, str | None], Field] = {}


def _shared_field(key: str, label: str, value: object, change_message: str | None) -> Field:
    """A field many cards show alike (the terms, the tier, a campaign's news), made, checked and
    written as JSON once: Field is frozen and a function of exactly these arguments, which are the key."""
    cache_key = (key, label, value, change_message)
    found = _shared_fields.get(cache_key)
    if found is None or type(found.value) is not type(value):  # 1 == 1.0 == True: never mix them
        found = Field(key=key, label=label, value=value, change_message=change_message)  # type: ignore[arg-type]
        if len(_shared_fields) >= 4096:
            _shared_fields.clear()
        _shared_fields[cache_key] = found
    return found


#: The columns of a card and of its program that build_pass reads, each read once.
_card_values = column_reader(("serial_number", "authentication_token", "tier", "news", "voided", "balance",
                              "points_expire_at"))
_program_values = column_reader(("kind", "labels", "pass_type_identifier", "team_identifier", "description"))


def build_pass(card: Card, web_service_url: str) -> Pass:
    program = card.program
    brand = program.brand
    serial_number, authentication_token, tier, news, voided, balance, expire_at = _card_values(card)
    kind, labels, pass_type_identifier, team_identifier, description = _program_values(program)
    stamp_card = kind == "stamps"
    # A stamp card has no primary field: the strip is the stamps, and nothing is drawn over them.
    primary = [] if stamp_card else [_value_field(program, card, labels, kind, balance)]
    # The tier sits in the header, which stays visible when passes are stacked: it marks the
    # tier even when the tier keeps the brand's colours (as it does unless the brand sets its own).
    header = [_shared_field("tier", _label(labels, "tier", "Tier"), tier, "Your tier is now %@")] if tier else []
    if stamp_card:  # the count in the header: visible when stacked, and on the lock screen when it changes
        header.insert(0, Field(key="stamps", label=_label(labels, "stamps", "Stamps"), value=stamp_count(card),
                               change_message="Stamps: %@"))
    secondary = [Field(key="holder", label=_label(labels, "holder", "Member"), value=card.customer.name)]
    shown_barcode, number = pass_numbers(card, brand)
    auxiliary = [Field(key="number", label=_label(labels, "number", "Card"), value=number)]
    if kind == "discount":  # a discount card keeps no points; it totals purchases
        auxiliary.append(Field(key="spend", label=_label(labels, "spend", "Purchases"),
                               value=card.lifetime_spend or Decimal(0), currency_code=program.currency,
                               change_message="Purchases: %@"))
    rewards = held_rewards.on_the_pass(card)
    if rewards:  # what the till can redeem; a new one shows on the lock screen
        auxiliary.append(Field(key="rewards", label="Rewards", value=held_rewards.pass_summary(rewards),
                               change_message="Rewards: %@"))
    back = [
        *([Field(key="reward_list", label="Your rewards (valid until)",
                 value=held_rewards.pass_lines(card, rewards))] if rewards else []),
        _shared_field("news", _label(labels, "news", "News"), news or "No news yet.", "%@"),
        *_expiry_field(labels, balance, expire_at),
        *(_stamp_back(card) if stamp_card else ()),
        *contributed_back_fields(card, web_service_url),  # e.g. the NPS survey link while a survey runs
        _shared_field("terms", _label(labels, "terms", "Terms and conditions"), terms_text(program), None),
    ]
    colours = design(program, card.current_tier)
    locations, beacons = _relevance(card)
    return Pass(
        pass_type_identifier=pass_type_identifier,
        team_identifier=team_identifier,
        serial_number=serial_number,
        organization_name=brand.name,
        description=description,
        logo_text=logo_text(program),
        store_card=StoreCard(header_fields=tuple(header), primary_fields=tuple(primary),
                             secondary_fields=tuple(secondary), auxiliary_fields=tuple(auxiliary),
                             back_fields=tuple(back)),
        barcodes=_barcodes(shown_barcode),
        locations=locations,
        beacons=beacons,
        web_service_url=web_service_url,
        authentication_token=authentication_token,
        background_color=colours.background_color,
        foreground_color=colours.foreground_color,
        label_color=colours.label_color,
        voided=voided,
        allow_http=web_service_url.startswith("http://"),
    )


def _barcodes(shown: ShownBarcode) -> tuple[Barcode, ...]:
    """One pass.json entry per Apple format of the symbology, in order: EAN-13 (iOS 27) comes with
    its Code 128 fallback of the same digits (passes/barcodes.py)."""
    return tuple(Barcode(message=shown.message, format=apple, alt_text=shown.alt_text)
                 for apple in shown.apple_formats)


def _digest(data: bytes | None) -> str | None:
    """The image's SHA-256 (a key part), worked out once per bytes object: a loaded row hands the same
    object to every pass of the program, and hashing an uploaded logo for each pass cost more than the
    rest of the key. The memo holds the object, so its id cannot be reused while it is there."""
    if not data:
        return None
    memo = _digests.get(id(data))
    if memo is not None and memo[0] is data:
        return memo[1]
    digest = hashlib.sha256(data).hexdigest()
    if type(data) is bytes:  # immutable: its digest cannot change under the memo
        if len(_digests) >= 64:
            _digests.clear()
        _digests[id(data)] = (data, digest)
    return digest


_digests: dict[int, tuple[bytes, str]] = {}


_program_files_cache: dict[tuple[object, ...], dict[str, bytes]] = {}


def _images(program: Program, kind: str, source: bytes | None, look: Design) -> dict[str, bytes]:
    """The uploaded image, or the generated default if it cannot be used: an image stored before
    uploads were checked (or by hand) must not make every pass of the program fail."""
    colours = {"background": look.background_color, "foreground": look.foreground_color, "text": program.name}
    if source is not None:
        try:
            return image_set(kind, source, **colours)
        except PassValidationError as error:
            log.warning("program %s: stored %s image unusable (%s: %r); passes get the default one",
                        program.id, kind, error, error.__cause__)
    return image_set(kind, None, **colours)


def _labels_key(labels: dict[str, Any] | None) -> str | None:
    """The brand's labels as a cache key: sorted JSON text (a dict cannot be a key), None for none."""
    return json.dumps(labels, sort_keys=True) if labels else None


def program_files(program: Program, tier: Tier | None = None) -> dict[str, bytes]:
    """Images and localisations shared by every card of a program (and tier), made once per process."""
    look = design(program, tier)
    # program_strings depends on the terms (their state), the description they fall back to and the
    # labels; the images on the rest. The strings are written only on a miss: they were a fifth of a build.
    key = (program_terms.state(program), program.description, _digest(program.logo_png), _digest(program.icon_png),
           _digest(look.strip_png), look.background_color, look.foreground_color, program.name,
           _labels_key(program.labels))
    files = _program_files_cache.get(key)
    if files is None:
        strings = program_strings(program)
        files = {}
        sources = {"icon": program.icon_png, "logo": program.logo_png, "strip": look.strip_png}
        for kind, source in sources.items():
            files.update(_images(program, kind, source, look))
        files.update(lproj_files(strings))
        if len(_program_files_cache) >= 256:
            _program_files_cache.clear()
        _program_files_cache[key] = files
    return files


def stamp_strip_files(program: Program, look: Design, filled: int) -> dict[str, bytes]:
    """The stamp card's strip (strip.png @1x/@2x/@3x) with `filled` slots stamped: drawn from the
    brand's stamp image, or the default stamp if there is none or it cannot be read. Cached in
    passes.stamps by (filled, N, colours, stamp), so each look is drawn once per process."""
    required = program.stamps_required or 1
    colours = {"background": look.background_color, "foreground": look.foreground_color}
    if program.stamp_png is not None:
        try:
            return stamp_strip(filled, required, stamp=program.stamp_png, **colours)
        except PassValidationError as error:
            log.warning("program %s: stored stamp image unusable (%s); passes get the default stamp", program.id, error)
    return stamp_strip(filled, required, **colours)


def card_files(card: Card) -> dict[str, bytes]:
    """Everything but pass.json of this card's pass: the program's files, and on a stamp card its
    own strip, showing the card's stamps (the uploaded strip is not used on a stamp card)."""
    program = card.program
    files = program_files(program, card.current_tier)
    if program.kind != "stamps":
        return files
    return {**files, **stamp_strip_files(program, design(program, card.current_tier), card.balance)}
