"""Rules written as sentences (service/loyalty/terms.py): every kind, both languages."""

from __future__ import annotations

import ast
import inspect
from decimal import Decimal

import pytest

from service.loyalty import terms as program_terms
from service.models import Program, Tier


def _program(**rules: object) -> Program:
    values: dict[str, object] = {"name": "Club", "kind": "points", "currency": "EUR", "points_per_unit": Decimal(1),
                                 "rounding": "down", "cashback_percent": Decimal(0), "discount_percent": Decimal(0),
                                 "tier_basis": "lifetime_points", "points_expire_days": None, "referral_points": 0,
                                 "terms": ""}
    values.update(rules)
    return Program(**values)


@pytest.mark.parametrize(("rate", "english", "russian"), [
    ("1", "earns 1 point.", "— 1 балл."),
    ("2", "earns 2 points.", "— 2 балла."),
    ("5", "earns 5 points.", "— 5 баллов."),
    ("11", "earns 11 points.", "— 11 баллов."),
    ("21", "earns 21 points.", "— 21 балл."),
    ("0.5", "earns 0.5 points.", "— 0,5 балла."),
])
def test_the_earn_rate_in_both_languages(rate: str, english: str, russian: str) -> None:
    program = _program(points_per_unit=Decimal(rate))
    assert program_terms.rules(program, "en")[0] == f"Every 1 EUR spent {english}"
    assert program_terms.rules(program, "ru")[0] == f"За каждый потраченный 1 EUR {russian}"


def test_cashback_discount_and_no_expiry() -> None:
    cashback = program_terms.rules(_program(kind="cashback", cashback_percent=Decimal("5.00"), rounding="up"))
    assert cashback == ("Every purchase earns 5% of its amount back as cashback.", "Cashback is rounded up to 0.01.",
                        "Cashback does not expire.")
    discount = _program(kind="discount", discount_percent=Decimal("10.00"), referral_points=50)
    discount.tiers = [Tier(name="VIP", threshold=Decimal(1000), earn_multiplier=Decimal(1),
                           discount_percent=Decimal("15.00"))]
    discount.tier_basis = "lifetime_spend"
    assert program_terms.rules(discount) == ("Members get a 10% discount.",
                                             "Tiers: VIP: from 1000 EUR spent in total (15% discount).")
    assert program_terms.rules(discount, "ru") == ("Скидка участника — 10%.",
                                                   "Уровни: VIP — от 1000 EUR покупок за всё время (скидка 15%).")


def test_tiers_expiry_referral_and_the_brands_own_text() -> None:
    program = _program(points_expire_days=1, referral_points=3, terms="  Free coffee at 100 points.  ",
                       tier_basis="points")
    program.tiers = [Tier(name="Gold", threshold=Decimal(500), earn_multiplier=Decimal("1.250")),
                     Tier(name="Silver", threshold=Decimal(100), earn_multiplier=Decimal(1))]
    terms = program_terms.terms(program)
    assert terms.rules[2:] == ("Tiers: Silver: from 100 points on the card; Gold: from 500 points on the card "
                               "(earning ×1.25).", "Points expire 1 day after they are earned.",
                               "When a friend you invite makes a first purchase, you both get 3 points.")
    assert terms.text().endswith("\n\nFree coffee at 100 points.")
    russian = program_terms.terms(program, "ru").rules
    assert russian[2].startswith("Уровни: Silver — от 100 баллов на карте; Gold — от 500 баллов на карте")
    assert russian[3:] == ("Баллы сгорают через 1 день после начисления.",
                           "Когда приглашённый вами друг совершит первую покупку, вы оба получите 3 балла.")
    assert program_terms.rules(program, "de") == program_terms.rules(program, "en")  # English when we do not speak it


# --- the cache: keyed on exactly what the terms are written from -------------------------------


class _Recording:
    """Stands in for a Program or Tier and notes every attribute compose() reads of it."""

    def __init__(self, row: object, reads: set[str], tier_reads: set[str]) -> None:
        self._row, self._reads, self._tier_reads = row, reads, tier_reads

    def __getattr__(self, name: str) -> object:
        self._reads.add(name)
        value = getattr(self._row, name)
        if name == "tiers":
            return [_Recording(tier, self._tier_reads, self._tier_reads) for tier in value]
        return value


def _every_branch() -> list[Program]:
    """Programs of every kind with every rule set, so every sentence's fields are read."""
    limits = {"earn_once_per_hours": 2, "daily_cap": 300, "per_transaction_cap": 100}
    programs = [_program(kind=kind, points_expire_days=30, referral_points=5, terms="Our own text.", **limits)
                for kind in ("points", "cashback", "discount")]
    programs += [_program(tier_basis=basis, **limits) for basis in ("lifetime_spend", "points", "lifetime_points")]
    programs += [_program(kind="stamps", stamps_required=10, stamp_rule=rule, stamp_rule_amount=Decimal(5),
                          starter_stamps=2, time_zone="Europe/Berlin", stamp_ladder=[{"at": 5, "reward": "Pastry"}],
                          happy_hours=[{"weekdays": [1, 5], "from": "15:00", "to": "17:00", "multiplier": 2,
                                        "stores": None}], **limits)
                 for rule in ("visit", "purchase_over", "per_amount")]
    for program in programs:  # each its own tiers: a Tier belongs to one program
        program.tiers = [Tier(name="Gold", threshold=Decimal(500), earn_multiplier=Decimal("1.5"),
                              discount_percent=Decimal(5)),
                         Tier(name="Silver", threshold=Decimal(100), earn_multiplier=Decimal(1))]
    return programs


def test_the_key_covers_every_field_the_terms_read() -> None:
    """A field compose() reads that is not in PROGRAM_FIELDS / TIER_FIELDS would let the cache
    serve terms written before it changed: record what is read, for every kind and rule."""
    reads: set[str] = set()
    tier_reads: set[str] = set()
    for program in _every_branch():
        for language in program_terms.LANGUAGES:
            recording = _Recording(program, reads, tier_reads)
            assert program_terms.compose(recording, language) == program_terms.compose(program, language)  # type: ignore[arg-type]
    assert reads - {"tiers"} == set(program_terms.PROGRAM_FIELDS)
    assert tier_reads == set(program_terms.TIER_FIELDS)


def test_the_key_covers_every_field_named_in_the_source() -> None:
    """The same from the source, for a branch the programs above might not reach."""
    source = ast.parse(inspect.getsource(program_terms))
    named = {(node.value.id, node.attr) for node in ast.walk(source)
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
             and node.value.id in ("program", "tier") and isinstance(node.ctx, ast.Load)}
    assert {attr for name, attr in named if name == "program"} - {"tiers"} <= set(program_terms.PROGRAM_FIELDS)
    assert {attr for name, attr in named if name == "tier"} <= set(program_terms.TIER_FIELDS)
    assert ("program", "earn_once_per_hours") in named  # the scan itself works


_OTHER_VALUES: dict[str, object] = {
    "kind": "cashback", "currency": "USD", "points_per_unit": Decimal(3), "rounding": "up",
    "cashback_percent": Decimal(7), "discount_percent": Decimal(9), "tier_basis": "points",
    "points_expire_days": 99, "referral_points": 77, "terms": "Changed.", "stamps_required": 12,
    "stamp_rule": "purchase_over", "stamp_rule_amount": Decimal(8), "stamp_ladder": [{"at": 3, "reward": "Tea"}],
    "starter_stamps": 4, "time_zone": "Asia/Tokyo",
    "happy_hours": [{"weekdays": [2], "from": "10:00", "to": "11:00", "multiplier": 3, "stores": None}],
    "earn_once_per_hours": 5, "daily_cap": 55, "per_transaction_cap": 44,
}
_OTHER_TIER_VALUES: dict[str, object] = {"name": "Platinum", "threshold": Decimal(900),
                                         "earn_multiplier": Decimal(2), "discount_percent": Decimal(12)}


@pytest.mark.parametrize("field", program_terms.PROGRAM_FIELDS)
def test_a_change_to_any_program_field_is_a_new_key(field: str) -> None:
    program = _every_branch()[-1]
    before = program_terms.state(program)
    assert getattr(program, field) != _OTHER_VALUES[field]
    setattr(program, field, _OTHER_VALUES[field])
    assert program_terms.state(program) != before


@pytest.mark.parametrize("field", program_terms.TIER_FIELDS)
def test_a_change_to_any_tier_field_is_a_new_key(field: str) -> None:
    program = _every_branch()[0]
    before = program_terms.state(program)
    assert getattr(program.tiers[1], field) != _OTHER_TIER_VALUES[field]
    setattr(program.tiers[1], field, _OTHER_TIER_VALUES[field])
    assert program_terms.state(program) != before


def test_a_change_makes_new_terms() -> None:
    program = _every_branch()[0]
    program.tiers = [Tier(name="Gold", threshold=Decimal(500), earn_multiplier=Decimal("1.5"))]
    first = program_terms.terms(program, "ru")
    assert program_terms.terms(program, "ru") is first  # cached
    program.points_per_unit = Decimal(4)
    assert "4 балла" in program_terms.terms(program, "ru").rules[0]
    program.tiers[0].threshold = Decimal(700)
    assert "от 700 баллов" in program_terms.terms(program, "ru").text()
    program.tiers.append(Tier(name="Bronze", threshold=Decimal(10), earn_multiplier=Decimal(1)))
    assert "Bronze — от 10 баллов" in program_terms.terms(program, "ru").text()
    stamps = _every_branch()[-1]
    assert "×2" in program_terms.terms(stamps).text()
    stamps.happy_hours[0]["multiplier"] = 4  # changed in place, as a JSON column can be
    assert "×4" in program_terms.terms(stamps).text() and "×2" not in program_terms.terms(stamps).text()
    assert program_terms.terms(stamps) == program_terms.compose(stamps)


def test_the_cache_is_bounded() -> None:
    program = _program()
    for rate in range(program_terms._CACHE_SIZE + 10):
        program.points_per_unit = Decimal(rate + 1)
        assert program_terms.terms(program).rules[0] == program_terms.compose(program).rules[0]
    assert len(program_terms._terms_cache) <= program_terms._CACHE_SIZE
