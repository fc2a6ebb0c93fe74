"""Cells of the CSV files we hand out, made safe to open in a spreadsheet.

A brand's own text (a campaign name, a store name) can start with `=`, `+`, `-`, `@`, a tab or
a carriage return, which Excel, LibreOffice and Google Sheets read as a formula
(`=HYPERLINK(...)`): OWASP's CSV-injection advice is to prefix such a cell with a single quote.
Plain numbers written as text ("-5.00") stay numbers.
"""

from __future__ import annotations

import re
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet shows it literally; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value
