"""A program's rules as sentences, in English and Russian: one place, so no surface goes stale.

The join page, the Apple pass's back, Google's class and object and Google's terms page all
used to show `Program.terms`, free text the brand typed once; after
`PATCH /api/v1/programs/{id}` changed the earn rate it still said the old one. What can be
read off the rules (earn rate, rounding, tiers and their thresholds, expiry, the referral
bonus) is now written from them here on every build; the brand's own text follows, unchanged
(it is theirs: we do not translate or second-guess it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from service.loyalty import stamps as stamp_rules
from service.models import Program, Tier
from service.models.columns import column_reader

LANGUAGES = ("en", "ru")

#: Every program column the terms are written from (tests/service/loyalty/test_terms.py records what
#: compose() reads and fails on one missing here): together with TIER_FIELDS, the cache key.
PROGRAM_FIELDS = ("kind", "currency", "points_per_unit", "rounding", "cashback_percent", "discount_percent",
                  "tier_basis", "points_expire_days", "referral_points", "terms", "stamps_required", "stamp_rule",
                  "stamp_rule_amount", "stamp_ladder", "starter_stamps", "time_zone", "happy_hours",
                  "earn_once_per_hours", "daily_cap", "per_transaction_cap")
#: Every tier column the terms read (each of the program's tiers, in the program's order).
TIER_FIELDS = ("name", "threshold", "earn_multiplier", "discount_percent")
_JSON_FIELDS = frozenset(("stamp_ladder", "happy_hours"))
_JSON_POSITIONS = tuple(index for index, name in enumerate(PROGRAM_FIELDS) if name in _JSON_FIELDS)
_CACHE_SIZE = 1024
_program_values = column_reader(PROGRAM_FIELDS)
_tier_values = column_reader(TIER_FIELDS)


@dataclass(frozen=True)
class Terms:
    """What a customer reads about the program: the derived rules, then the brand's own text."""

    rules: tuple[str, ...]
    free_text: str

    def text(self) -> str:
        """One block for a single text field (pass back, Google module): rules, blank line, free text.

        Written once per Terms (frozen, and cached per program state): every pass build asks."""
        text: str | None = self.__dict__.get("_text")
        if text is None:
            parts = [" ".join(self.rules)] if self.rules else []
            if self.free_text:
                parts.append(self.free_text)
            text = self.__dict__["_text"] = "\n\n".join(parts)
        return text


def _number(value: Decimal | int, language: str) -> str:
    """1, 1.5, 12 (no trailing zeros, no exponent); Russian writes a decimal comma."""
    text = format(Decimal(value).normalize(), "f")
    return text.replace(".", ",") if language == "ru" else text


def _russian_plural(value: Decimal | int, one: str, few: str, many: str) -> str:
    """1 балл, 2 балла, 5 баллов; a fraction takes the genitive singular (1,5 балла)."""
    number = Decimal(value)
    if number != number.to_integral_value():
        return few
    whole = int(number)
    if whole % 10 == 1 and whole % 100 != 11:
        return one
    if 2 <= whole % 10 <= 4 and not 12 <= whole % 100 <= 14:
        return few
    return many


def _points(value: Decimal | int, language: str) -> str:
    if language == "ru":
        return f"{_number(value, language)} {_russian_plural(value, 'балл', 'балла', 'баллов')}"
    return f"{_number(value, language)} {'point' if Decimal(value) == 1 else 'points'}"


def _days(value: int, language: str) -> str:
    if language == "ru":
        return f"{value} {_russian_plural(value, 'день', 'дня', 'дней')}"
    return f"{value} {'day' if value == 1 else 'days'}"


_ROUNDING = {
    "en": {"down": "Points are rounded down to whole points.",
           "nearest": "Points are rounded to the nearest whole point.",
           "up": "Points are rounded up to whole points."},
    "ru": {"down": "Баллы округляются вниз до целых.",
           "nearest": "Баллы округляются до ближайшего целого.",
           "up": "Баллы округляются вверх до целых."},
}
_CASHBACK_ROUNDING = {
    "en": {"down": "Cashback is rounded down to 0.01.", "nearest": "Cashback is rounded to the nearest 0.01.",
           "up": "Cashback is rounded up to 0.01."},
    "ru": {"down": "Кешбэк округляется вниз до 0,01.", "nearest": "Кешбэк округляется до ближайших 0,01.",
           "up": "Кешбэк округляется вверх до 0,01."},
}


def _stamps(value: int, language: str) -> str:
    if language == "ru":
        return f"{value} {_russian_plural(value, 'штамп', 'штампа', 'штампов')}"
    return f"{value} {'stamp' if value == 1 else 'stamps'}"


_WEEKDAYS = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
             "ru": ("пн", "вт", "ср", "чт", "пт", "сб", "вс")}


def _stamp_earning(program: Program, language: str) -> list[str]:
    """A stamp card: what earns a stamp, the rewards along the way, starter stamps, happy hours."""
    ru = language == "ru"
    required = program.stamps_required or 0
    amount = f"{_number(program.stamp_rule_amount or 0, language)} {program.currency}"
    rule = program.stamp_rule or "visit"
    if rule == "purchase_over":
        earn = (f"Штамп за каждую покупку от {amount}." if ru else f"Every purchase of {amount} or more earns a stamp.")
    elif rule == "per_amount":
        earn = f"Штамп за каждые потраченные {amount}." if ru else f"Every {amount} spent earns a stamp."
    else:
        earn = "Штамп за каждый визит." if ru else "Every visit earns a stamp."
    sentences = [earn, (f"{_stamps(required, language).capitalize()} заполняют карту; остаток переходит на следующую."
                        if ru else f"{_stamps(required, language).capitalize()} fill a card; stamps beyond start "
                                   f"the next one.")]
    rungs = stamp_rules.ladder(program)
    if rungs:
        listed = "; ".join(f"{_stamps(at, language)}: {name}" if not ru else f"{_stamps(at, language)} — {name}"
                           for at, name in rungs)
        sentences.append(f"Награды: {listed}." if ru else f"Rewards: {listed}.")
    if program.starter_stamps:
        sentences.append(f"На новой карте сразу {_stamps(program.starter_stamps, language)}." if ru
                         else f"A new card starts with {_stamps(program.starter_stamps, language)}.")
    zone = program.time_zone or "UTC"
    for hour in program.happy_hours or ():
        days = ", ".join(_WEEKDAYS[language][day - 1] for day in sorted(hour["weekdays"]))
        where = ("во всех магазинах" if ru else "at every store") if hour.get("stores") is None else (
            "в некоторых магазинах" if ru else "at selected stores")
        sentences.append(f"Счастливые часы: ×{hour['multiplier']} штампов, {days}, {hour['from']}–{hour['to']} "
                         f"({zone}), {where}." if ru else
                         f"Happy hours: stamps ×{hour['multiplier']}, {days}, {hour['from']}–{hour['to']} "
                         f"({zone}), {where}.")
    return sentences


def _earning(program: Program, language: str) -> list[str]:
    ru = language == "ru"
    if program.kind == "stamps":
        return _stamp_earning(program, language)
    if program.kind == "discount":
        percent = _number(program.discount_percent or 0, language)
        return [f"Скидка участника — {percent}%." if ru else f"Members get a {percent}% discount."]
    if program.kind == "cashback":
        percent = _number(program.cashback_percent or 0, language)
        earn = (f"С каждой покупки возвращается {percent}% суммы кешбэком." if ru
                else f"Every purchase earns {percent}% of its amount back as cashback.")
        return [earn, _CASHBACK_ROUNDING[language].get(program.rounding, "")]
    rate = _points(program.points_per_unit or 0, language)
    earn = (f"За каждый потраченный 1 {program.currency} — {rate}." if ru
            else f"Every 1 {program.currency} spent earns {rate}.")
    return [earn, _ROUNDING[language].get(program.rounding, "")]


def _threshold(program: Program, tier: Tier, language: str) -> str:
    ru = language == "ru"
    if program.tier_basis == "lifetime_spend":
        amount = f"{_number(tier.threshold, language)} {program.currency}"
        return f"от {amount} покупок за всё время" if ru else f"from {amount} spent in total"
    if program.tier_basis == "points":
        points = _points(tier.threshold, language)
        return f"от {points} на карте" if ru else f"from {points} on the card"
    points = _points(tier.threshold, language)
    return f"от {points}, набранных за всё время" if ru else f"from {points} earned in total"


def _tier(program: Program, tier: Tier, language: str) -> str:
    ru = language == "ru"
    extras = []
    if program.kind != "discount" and tier.earn_multiplier is not None and tier.earn_multiplier != 1:
        factor = _number(tier.earn_multiplier, language)
        extras.append(f"начисление ×{factor}" if ru else f"earning ×{factor}")
    if program.kind == "discount" and tier.discount_percent is not None:
        percent = _number(tier.discount_percent, language)
        extras.append(f"скидка {percent}%" if ru else f"{percent}% discount")
    text = f"{tier.name}{' —' if ru else ':'} {_threshold(program, tier, language)}"
    return text + (f" ({', '.join(extras)})" if extras else "")


def _tiers(program: Program, language: str) -> list[str]:
    tiers = sorted(program.tiers, key=lambda tier: tier.threshold)
    if not tiers:
        return []
    listed = "; ".join(_tier(program, tier, language) for tier in tiers)
    return [f"Уровни: {listed}." if language == "ru" else f"Tiers: {listed}."]


def _expiry(program: Program, language: str) -> list[str]:
    if program.kind in ("discount", "stamps"):
        return []
    ru = language == "ru"
    what = ("Кешбэк сгорает" if program.kind == "cashback" else "Баллы сгорают") if ru else (
        "Cashback expires" if program.kind == "cashback" else "Points expire")
    days = program.points_expire_days
    if not days:
        if ru:
            return ["Кешбэк не сгорает." if program.kind == "cashback" else "Баллы не сгорают."]
        return ["Cashback does not expire." if program.kind == "cashback" else "Points do not expire."]
    after = f"через {_days(days, language)} после начисления" if ru else f"{_days(days, language)} after it is earned"
    if not ru and program.kind != "cashback":
        after = f"{_days(days, language)} after they are earned"
    return [f"{what} {after}."]


def _referral(program: Program, language: str) -> list[str]:
    points = program.referral_points or 0
    if points <= 0 or program.kind in ("discount", "stamps"):
        return []
    if language == "ru":
        return [f"Когда приглашённый вами друг совершит первую покупку, вы оба получите {_points(points, language)}."]
    return [f"When a friend you invite makes a first purchase, you both get {_points(points, language)}."]


def _amount(program: Program, value: int, language: str) -> str:
    """A limit's figure as the customer reads it: stamps, points, or a cashback card's money."""
    if program.kind == "stamps":
        return _stamps(value, language)
    if program.kind == "cashback":
        return f"{_number(Decimal(value) / 100, language)} {program.currency}"
    return _points(value, language)


def _limits(program: Program, language: str) -> list[str]:
    """The till's safeguards (service/loyalty/limits.py), so a customer refused at the till was told."""
    if program.kind == "discount":
        return []
    ru = language == "ru"
    what = ("Штампы" if program.kind == "stamps" else "Кешбэк" if program.kind == "cashback" else "Баллы") if ru \
        else ("Stamps" if program.kind == "stamps" else "Cashback" if program.kind == "cashback" else "Points")
    sentences = []
    hours = program.earn_once_per_hours
    if hours:
        if ru:
            every = "одного раза в день" if hours == 24 else \
                f"одного раза в {hours} {_russian_plural(hours, 'час', 'часа', 'часов')}"
            verb = "начисляется" if program.kind == "cashback" else "начисляются"
            sentences.append(f"{what} {verb} не чаще {every}.")
        else:
            every = "once a day" if hours == 24 else f"once every {hours} {'hour' if hours == 1 else 'hours'}"
            verb = "is" if program.kind == "cashback" else "are"
            sentences.append(f"{what} {verb} given at most {every}.")
    if program.daily_cap:
        amount = _amount(program, program.daily_cap, language)
        sentences.append(f"Лимит в день: {amount}." if ru else f"At most {amount} a day.")
    if program.per_transaction_cap:
        amount = _amount(program, program.per_transaction_cap, language)
        sentences.append(f"Лимит за одну операцию: {amount}." if ru else f"At most {amount} per transaction.")
    return sentences


def rules(program: Program, language: str = "en") -> tuple[str, ...]:
    """The program's current rules as sentences in `language` (English when we do not speak it)."""
    language = language if language in LANGUAGES else "en"
    sentences = [*_earning(program, language), *_limits(program, language), *_tiers(program, language),
                 *_expiry(program, language), *_referral(program, language)]
    return tuple(sentence for sentence in sentences if sentence)


def compose(program: Program, language: str = "en") -> Terms:
    """The rules in `language` and the brand's free text, worked out now (`terms` caches this)."""
    return Terms(rules(program, language), (program.terms or "").strip())


State = tuple[object, ...]


def state(program: Program) -> State:
    """Exactly what the terms are written from: PROGRAM_FIELDS' values, then each tier's TIER_FIELDS.

    Two programs with the same state have the same terms, so this is the key of the terms
    cache and of what is cached from them (service/design/card_design.py: program_files).
    JSON columns (the stamp ladder, happy hours) are taken as their sorted JSON text: a list
    cannot be a key, and a change made inside one in place still changes the key."""
    values = _program_values(program)
    for index in _JSON_POSITIONS:
        if values[index] is not None:
            values = (*values[:index], json.dumps(values[index], sort_keys=True, default=repr), *values[index + 1:])
    return (*values, *map(_tier_values, program.tiers))


_terms_cache: dict[tuple[State, str], Terms] = {}


def terms(program: Program, language: str = "en") -> Terms:
    """The rules in `language` and the brand's free text (or, without one, nothing more).

    Cached per program state and language: a pass build asked for them six times, a fifth of
    its time (bench/pass_build.py); a change to any field they are written from is a new key."""
    language = language if language in LANGUAGES else "en"
    key = (state(program), language)
    found = _terms_cache.get(key)
    if found is None:
        found = compose(program, language)
        if len(_terms_cache) >= _CACHE_SIZE:
            _terms_cache.clear()
        _terms_cache[key] = found
    return found


def translations(program: Program) -> dict[str, str]:
    """`{language: full terms text}` for every language we speak: for surfaces that carry all of them."""
    return {language: terms(program, language).text() for language in LANGUAGES}
