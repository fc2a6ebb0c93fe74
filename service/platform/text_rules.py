"""Which characters a piece of text may hold: one rule for the API, the pages and the imports.

PostgreSQL cannot store NUL in a text column at all (SQLite can), and other C0 control
characters mean nothing in a name or an id; letting them through made one input a 500 on one
database and a stored oddity on the other. Free text (terms, messages, addresses) may keep tab
and line breaks; everything else (names, slugs, ids, codes) holds no control character.
Lone surrogates cannot be encoded as UTF-8 and so cannot be stored or answered either.
Pure functions, no Flask.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_FREE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def bad_character(text: str, *, free_text: bool = False) -> str | None:
    """Why `text` is refused (naming the character), or None when it is acceptable."""
    found = (_CONTROL_IN_FREE_TEXT if free_text else _CONTROL).search(text)
    if found is None:
        return None
    return f"contains the control character U+{ord(found.group()):04X}, which is not allowed here"


def has_lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def strings_in(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) for every key and string value in decoded JSON, depth first, iteratively
    (a deeply nested document must not exhaust the stack here either). Paths read `a.0.b`."""
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            yield where or "body", value
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = f"{where}.{key}" if where else str(key)
                yield inner, str(key)
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((f"{where}.{index}" if where else str(index), item) for index, item in enumerate(value))
