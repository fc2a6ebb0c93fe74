"""What the pass build caches (issue 18) never serves a pass that is out of date.

The terms, the program's files, the packed resource block and the columns read at once are
all made once and reused; every test here changes one thing after a build and checks the next
pass is byte for byte what a process with empty caches builds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select, update

from passes import package
from passes.package import build_pkpass, read_pkpass
from service.design import card_design
from service.loyalty import terms as program_terms
from service.models import Brand, Card, Customer, Program, Store, Tier
from service.models.columns import column_reader
from service.platform import db

URL = "https://passcast.example.com/passkit"
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


class FakeSigner:
    """A signature that depends only on the manifest, so two builds can be compared byte for byte."""

    def sign(self, data: bytes) -> bytes:
        return b"SIGNED:" + hashlib.sha256(data).digest()


def _png(size: tuple[int, int], colour: tuple[int, int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def _program() -> Program:
    brand = Brand(id=1, name="Cache Coffee", slug="cache-coffee", code_ref="CACHE1",
                  code_secret=b"cache-secret-0123456789abcdef0123")
    brand.stores = [Store(id=1, brand_id=1, name="Centre", address="1 Main St", latitude=52.52, longitude=13.40),
                    Store(id=2, brand_id=1, name="Park", address="2 Park Ave", latitude=52.48, longitude=13.42,
                          relevant_text="Park: coffee to go.")]
    program = Program(id=1, brand_id=1, name="Cache Rewards", kind="points", description="Cache loyalty card",
                      terms="Our own words.", currency="EUR", points_per_unit=Decimal(10), rounding="down",
                      cashback_percent=Decimal(0), discount_percent=Decimal(0), tier_basis="lifetime_points",
                      background_color="#3b2417", foreground_color="#ffffff", label_color="#e8c9a0",
                      pass_type_identifier="pass.dev.passcast.loyalty", team_identifier="PASSCASTDV")
    program.brand = brand
    program.tiers = [Tier(id=1, program_id=1, name="Gold", threshold=Decimal(1000), earn_multiplier=Decimal("1.5"),
                          background_color="#8a6d1d")]
    return program


def _card(program: Program, i: int = 1, gold: bool = False) -> Card:
    customer = Customer(id=i, brand_id=1, name=f"Holder {i}", language="en")
    customer.home_store = program.brand.stores[i % 2]
    card = Card(id=i, program_id=1, customer_id=i, brand_id=1, number=100_000_000 + i * 7919,
                serial_number=str(uuid.UUID(int=i)), authentication_token=f"cache-token-{i:020d}",
                balance=120 + i, lifetime_points=500, tier="Gold" if gold else None, voided=False, version=1,
                points_expire_at=NOW + dt.timedelta(days=30), news=None, updated_at=NOW, created_at=NOW)
    card.program, card.customer, card.current_tier = program, customer, program.tiers[0] if gold else None
    return card


def _build(card: Card) -> bytes:
    return build_pkpass(card_design.build_pass(card, URL), card_design.card_files(card), FakeSigner())


def _fresh(card: Card) -> bytes:
    """The same build in a process that has cached nothing yet."""
    card_design._program_files_cache.clear()  # noqa: SLF001
    card_design._relevance_cache.clear()  # noqa: SLF001
    program_terms._terms_cache.clear()  # noqa: SLF001
    package._cached_resources.cache_clear()  # noqa: SLF001
    card_design._shared_fields.clear()  # noqa: SLF001
    card_design._digests.clear()  # noqa: SLF001
    return _build(card)


CHANGES: dict[str, Callable[[Card], None]] = {
    "earn rate (terms)": lambda card: setattr(card.program, "points_per_unit", Decimal(3)),
    "daily cap (terms)": lambda card: setattr(card.program, "daily_cap", 200),
    "brand's own text": lambda card: setattr(card.program, "terms", "New words."),
    "description": lambda card: setattr(card.program, "description", "Another description"),
    "program name (logo text, images)": lambda card: setattr(card.program, "name", "Renamed Rewards"),
    "background colour": lambda card: setattr(card.program, "background_color", "#112233"),
    "label colour": lambda card: setattr(card.program, "label_color", "#445566"),
    "labels": lambda card: setattr(card.program, "labels", {"news": {"en": "Updates", "ru": "Новое"}}),
    "labels changed in place": lambda card: card.program.labels.update({"holder": {"en": "Name"}}),
    "logo uploaded": lambda card: setattr(card.program, "logo_png", _png((300, 100), (200, 10, 10, 255))),
    "strip uploaded": lambda card: setattr(card.program, "strip_png", _png((750, 246), (10, 10, 200, 255))),
    "tier threshold (terms)": lambda card: setattr(card.program.tiers[0], "threshold", Decimal(700)),
    "tier added (terms)": lambda card: card.program.tiers.append(
        Tier(id=2, program_id=1, name="Silver", threshold=Decimal(100), earn_multiplier=Decimal(1))),
    "tier colour": lambda card: setattr(card.program.tiers[0], "background_color", "#000000"),
    "tier strip": lambda card: setattr(card.program.tiers[0], "strip_png", _png((750, 246), (0, 90, 0, 255))),
    "brand name": lambda card: setattr(card.program.brand, "name", "Renamed Coffee"),
    "store text": lambda card: setattr(card.program.brand.stores[1], "relevant_text", "Park: now open late."),
    "barcode format": lambda card: setattr(card.program, "barcode_format", "code128"),
    "balance": lambda card: setattr(card, "balance", 9999),
    "news": lambda card: setattr(card, "news", "Double points today"),
    "holder's name": lambda card: setattr(card.customer, "name", "Renamed Holder"),
    "home store": lambda card: setattr(card.customer, "home_store", None),
    "tier reached": lambda card: (setattr(card, "tier", "Gold"), setattr(card, "current_tier", card.program.tiers[0])),
    "voided": lambda card: setattr(card, "voided", True),
    "news for every card": lambda card: (setattr(card, "news", "Campaign: free cake"),
                                         setattr(card.program.tiers[0], "name", "Gold")),
    "terms label": lambda card: setattr(card.program, "labels", {"terms": {"en": "Rules"}}),
    "tier label": lambda card: setattr(card.program, "labels", {"tier": {"en": "Level"}}),
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_a_change_after_a_build_is_in_the_next_pass(change: str) -> None:
    card = _card(_program(), 1)
    other = _card(card.program, 2, gold=True)  # a Gold card of the same program
    if change == "labels changed in place":
        card.program.labels = {"news": {"en": "Updates"}}
    before, before_other = _build(card), _build(other)
    assert _build(card) == before  # cached: the same pass again
    CHANGES[change](card)
    after, after_other = _build(card), _build(other)
    assert (after, after_other) != (before, before_other)  # a tier's look shows on its cards only
    assert after == _fresh(card)
    assert after_other == _fresh(other)  # the program's other cards follow too (or stay as they were)
    if change in ("balance", "news", "holder's name", "home store", "tier reached", "voided"):
        assert after_other == before_other  # a card's own change is its own


def test_the_terms_on_the_back_and_in_both_languages_follow_a_change() -> None:
    card = _card(_program())
    files = read_pkpass(_build(card))
    assert "earns 10 points" in json.loads(files["pass.json"])["storeCard"]["backFields"][-1]["value"]
    card.program.points_per_unit = Decimal(2)
    files = read_pkpass(_build(card))
    english = json.loads(files["pass.json"])["storeCard"]["backFields"][-1]["value"]
    assert "earns 2 points" in english and "10 points" not in english
    russian = files["ru.lproj/pass.strings"].decode("utf-16")
    assert "2 балла" in russian and "10 баллов" not in russian


def test_the_caches_are_bounded() -> None:
    """None grows with the number of cards or programs seen."""
    program = _program()
    for rate in range(300):
        program.points_per_unit = Decimal(rate + 1)
        _build(_card(program, rate + 1))
    assert len(card_design._program_files_cache) <= 256  # noqa: SLF001
    assert len(program_terms._terms_cache) <= program_terms._CACHE_SIZE  # noqa: SLF001
    info = package._cached_resources.cache_info()  # noqa: SLF001
    assert info.maxsize is not None and info.currsize <= info.maxsize


def test_the_archive_keeps_its_layout() -> None:
    """pass.json first, the resources by name, then manifest and signature (as before the cache)."""
    with zipfile.ZipFile(io.BytesIO(_build(_card(_program())))) as archive:
        names = [info.filename for info in archive.infolist()]
    assert names[0] == "pass.json" and names[-2:] == ["manifest.json", "signature"]
    assert names[1:-2] == sorted(names[1:-2])


# --- column_reader: a loaded row's columns at once, the rest as getattr reads them -----------------


_read = column_reader(("name", "kind", "labels", "referral_points"))


def test_column_reader_on_transient_rows_reads_as_getattr() -> None:
    program = Program(name="Club", kind="points")
    assert _read(program) == ("Club", "points", None, None) == (program.name, program.kind, program.labels,
                                                                program.referral_points)
    program.labels = {"news": {"en": "Updates"}}
    assert _read(program)[2] == {"news": {"en": "Updates"}}


def test_column_reader_loads_expired_and_deferred_columns(app: Flask, seeded: dict[str, Any]) -> None:
    reader = column_reader(("name", "description", "logo_png"))  # logo_png is deferred
    with app.app_context():
        session = db.session()
        program = session.scalars(select(Program).where(Program.id == seeded["program_id"])).one()
        assert reader(program) == (program.name, program.description, program.logo_png)
        session.execute(update(Program).where(Program.id == program.id).values(description="Changed in the database"))
        session.expire(program)  # what a commit does with expire_on_commit: the next read must load them
        assert "description" not in program.__dict__
        assert reader(program)[1] == "Changed in the database"
        assert reader(program) == (program.name, program.description, program.logo_png)


# --- the shared fields and the image digests (issue 18) -------------------------------------------


@pytest.mark.parametrize("part", ["key", "label", "value", "change_message"])
def test_a_shared_field_is_keyed_on_each_of_its_arguments(part: str) -> None:
    """_shared_field's key is the Field's arguments: leaving one out would hand a card another's field."""
    arguments: dict[str, Any] = {"key": "news", "label": "News", "value": "Hello", "change_message": "%@"}
    first = card_design._shared_field(**arguments)  # noqa: SLF001
    assert card_design._shared_field(**arguments) is first  # noqa: SLF001
    other = {**arguments, part: {"key": "tier", "label": "Updates", "value": "Bye", "change_message": "Now %@"}[part]}
    changed = card_design._shared_field(**other)  # noqa: SLF001
    assert changed == card_design.Field(**other) != first


def test_a_shared_field_never_mixes_equal_values_of_another_type() -> None:
    assert card_design._shared_field("x", "X", 1, None).value == 1  # noqa: SLF001
    assert type(card_design._shared_field("x", "X", 1.0, None).value) is float  # noqa: SLF001


def test_a_replaced_image_is_a_new_digest() -> None:
    card = _card(_program())
    card.program.logo_png = _png((300, 100), (200, 10, 10, 255))
    first = _build(card)
    card.program.logo_png = _png((300, 100), (10, 200, 10, 255))  # same size, other content
    second = _build(card)
    assert second != first and second == _fresh(card)
    assert card_design._digest(bytes(card.program.logo_png)) == card_design._digest(card.program.logo_png)  # noqa: SLF001
