"""Dates, money and point counts as a customer reads them, in English or Russian.

"2 December 2026" / "2 декабря 2026" (Russian names the month in the genitive), "12.50 EUR" /
"12,50 EUR", "1 point" / "1 балл", "3 балла", "5 баллов". A few lines rather than a locale
library: the pages speak two languages, and Babel's Russian long date adds " г.".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
           "октября", "ноября", "декабря"),
}


def long_date(day: dt.date | dt.datetime, language: str) -> str:
    """The day (a datetime: its UTC day) as words: 2 December 2026, 2 декабря 2026."""
    if isinstance(day, dt.datetime):
        day = (day.astimezone(dt.UTC) if day.tzinfo else day).date()
    months = MONTHS.get(language, MONTHS["en"])
    return f"{day.day} {months[day.month - 1]} {day.year}"


def money(amount: Decimal, currency: str, language: str) -> str:
    """12.50 EUR; in Russian with a decimal comma and a non-breaking space in thousands."""
    text = f"{amount.quantize(Decimal('0.01')):,.2f}"
    if language == "ru":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return f"{text}\u00a0{currency}"


def points(count: int, language: str) -> str:
    """1 point, 2 points; 1 балл, 2 балла, 5 баллов, 21 балл, 11 баллов."""
    if language == "ru":
        tens, ones = abs(count) % 100, abs(count) % 10
        word = "баллов" if 11 <= tens <= 14 else {1: "балл", 2: "балла", 3: "балла", 4: "балла"}.get(ones, "баллов")
        return f"{count}\u00a0{word}"
    return f"{count}\u00a0{'point' if abs(count) == 1 else 'points'}"
