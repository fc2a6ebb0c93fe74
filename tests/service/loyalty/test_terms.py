"""Rules written as sentences (service/loyalty/terms.py): every kind, both languages."""

from __future__ import annotations

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
