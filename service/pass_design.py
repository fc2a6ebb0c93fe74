"""How a card looks in Apple Wallet: the storeCard layout, labels, locations and images.

Labels and change messages in pass.json are localisation keys; Wallet resolves them from
en.lproj / ru.lproj pass.strings on the phone, so one signed pass speaks both languages.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from decimal import Decimal

from passes.images import image_set
from passes.localization import lproj_files
from passes.schema import Barcode, Field, Location, Pass, StoreCard
from service.cards import barcode_message, display_number
from service.models import Card, Program, Store

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
}
STRINGS: dict[str, dict[str, str]] = {"en": {key: key for key in RUSSIAN}, "ru": RUSSIAN}


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


def _locations(card: Card) -> tuple[Location, ...]:
    stores = card.program.brand.stores
    return tuple(
        Location(latitude=store.latitude, longitude=store.longitude,
                 relevant_text=store.relevant_text or f"{store.name}: show your card at the counter.")
        for store in nearest_stores(stores, card.customer.home_store)
    )


def _value_field(program: Program, card: Card) -> Field:
    if program.kind == "discount":
        return Field(key="discount", label="Discount", value=f"{_percent(program.discount_percent)}%",
                     change_message="Your discount is now %@")
    label = "Cashback" if program.kind == "cashback" else "Points"
    return Field(key="balance", label=label, value=card.balance, change_message="Balance: %@")


def _percent(value: Decimal) -> str:
    return format(value.normalize(), "f")


def build_pass(card: Card, web_service_url: str) -> Pass:
    program, brand = card.program, card.program.brand
    header = [_value_field(program, card)]
    secondary = [Field(key="holder", label="Member", value=card.customer.name)]
    if card.tier:
        secondary.append(Field(key="tier", label="Tier", value=card.tier, change_message="Your tier is now %@"))
    auxiliary = [Field(key="number", label="Card", value=display_number(card))]
    if program.kind == "discount":
        auxiliary.append(Field(key="points", label="Points", value=card.balance,
                               change_message="Balance: %@"))
    back = [
        Field(key="news", label="News", value=card.news or "No news yet.", change_message="%@"),
        Field(key="terms", label="Terms and conditions", value=program.terms or program.description),
    ]
    return Pass(
        pass_type_identifier=program.pass_type_identifier,
        team_identifier=program.team_identifier,
        serial_number=card.serial_number,
        organization_name=brand.name,
        description=program.description,
        logo_text=program.name,
        store_card=StoreCard(header_fields=tuple(header), primary_fields=(),
                             secondary_fields=tuple(secondary), auxiliary_fields=tuple(auxiliary),
                             back_fields=tuple(back)),
        barcodes=(Barcode(message=barcode_message(card, brand), alt_text=display_number(card)),),
        locations=_locations(card),
        web_service_url=web_service_url,
        authentication_token=card.authentication_token,
        background_color=program.background_color,
        foreground_color=program.foreground_color,
        label_color=program.label_color,
        voided=card.voided,
        allow_http=web_service_url.startswith("http://"),
    )


def _digest(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data else None


_program_files_cache: dict[tuple[str | None, ...], dict[str, bytes]] = {}


def program_files(program: Program) -> dict[str, bytes]:
    """Images and localisations shared by every card of a program, made once per process."""
    key = (_digest(program.logo_png), _digest(program.icon_png), _digest(program.strip_png),
           program.background_color, program.foreground_color, program.name)
    files = _program_files_cache.get(key)
    if files is None:
        files = {}
        sources = {"icon": program.icon_png, "logo": program.logo_png, "strip": program.strip_png}
        for kind, source in sources.items():
            files.update(image_set(kind, source, background=program.background_color,
                                   foreground=program.foreground_color, text=program.name))
        files.update(lproj_files(STRINGS))
        if len(_program_files_cache) >= 256:
            _program_files_cache.clear()
        _program_files_cache[key] = files
    return files
