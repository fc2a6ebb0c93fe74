"""Card codes: the QR message that names a card and cannot be forged or altered.

Format (version 1)::

    PC1:<BRAND>:<NUMBER>:<MAC>
    PC1:ACME:12345678:EX2FV6X4YBOJYTJR     (34 characters; secret b"0123456789abcdef")

- ``BRAND``: the brand reference the service assigns, 1-16 of A-Z 0-9.
- ``NUMBER``: the card number in decimal, no leading zeros, so each card has exactly
  one code.
- ``MAC``: HMAC-SHA256 with the brand's secret over ``PC1:<BRAND>:<NUMBER>``, truncated
  to 80 bits and written in RFC 4648 base32 (exactly 16 characters, no padding).

Every character is in the QR alphanumeric set (0-9 A-Z space $ % * + - . / :), which
packs 11 bits per two characters instead of 8 per character: a typical code fits a
version 2 symbol (25x25 modules), which scans quickly from a dimmed phone screen.
The version prefix lets a later format coexist with codes already on phones.

Scanners may add whitespace and keyboard wedges may lowercase, so input is trimmed and
uppercased before anything else; every other deviation is refused.

The short number (altText) is for people: the card number plus a Luhn check digit, in
groups of four, so a cashier typing it catches any single wrong digit and most swaps.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from passes.errors import CardCodeError

__all__ = [
    "CODE_PREFIX",
    "CardCode",
    "decode_card_code",
    "encode_card_code",
    "parse_short_number",
    "short_number",
]

CODE_PREFIX = "PC1:"
MAC_BYTES = 10  # 80 bits: forging needs ~2**80 tries, each one a scan at a till
MIN_SECRET_BYTES = 16
MAX_CARD_NUMBER = 2**63 - 1  # what a signed 64-bit database column holds

_BRAND = re.compile(r"[A-Z0-9]{1,16}")
_CODE = re.compile(r"PC1:([A-Z0-9]{1,16}):(0|[1-9][0-9]{0,18}):([A-Z2-7]{16})")
_VERSION = re.compile(r"PC[0-9]+:")
_SHORT_SEPARATORS = re.compile(r"[\s-]+")
_MAX_QUOTED = 60


@dataclass(frozen=True)
class CardCode:
    """What a verified card code identifies."""

    brand_ref: str
    card_number: int


def _check_card_number(card_number: int) -> None:
    if isinstance(card_number, bool) or not isinstance(card_number, int):
        raise TypeError(f"card_number must be an int, not {type(card_number).__name__}")
    if not 0 <= card_number <= MAX_CARD_NUMBER:
        raise ValueError(f"card_number {card_number} is outside 0..{MAX_CARD_NUMBER}")


def _mac(brand_ref: str, number: str, secret: bytes) -> str:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the card code secret of brand {brand_ref!r} is {len(secret)} bytes; "
            f"at least {MIN_SECRET_BYTES} are needed"
        )
    inner, outer = _keyed(secret) if type(secret) is bytes else _keyed.__wrapped__(bytes(secret))
    inner = inner.copy()
    inner.update(f"{CODE_PREFIX}{brand_ref}:{number}".encode("ascii"))
    outer = outer.copy()
    outer.update(inner.digest())
    return _base32_80(outer.digest()[:MAC_BYTES])


@lru_cache(maxsize=256)
def _keyed(secret: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256 (RFC 2104) keyed once per secret: the inner and outer hashes with the padded key
    already fed, copied for each message. hmac.digest made OpenSSL set the key up for every card
    code (and every pass build makes one); the bytes are the same (tests/passes/test_cardcode.py)."""
    key = hashlib.sha256(secret).digest() if len(secret) > _SHA256_BLOCK else secret
    key = key.ljust(_SHA256_BLOCK, b"\0")
    return (hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD)))


_SHA256_BLOCK = 64
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
# Base32 (RFC 4648) two characters at a time, as base64.b32encode does, for exactly 80 bits.
_B32_PAIRS = tuple(a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def _base32_80(mac: bytes) -> str:
    """base64.b32encode(mac).decode() for 10 bytes (16 characters, no padding), without its loop."""
    n = int.from_bytes(mac, "big")
    pairs = _B32_PAIRS
    return (pairs[n >> 70] + pairs[n >> 60 & 1023] + pairs[n >> 50 & 1023] + pairs[n >> 40 & 1023]
            + pairs[n >> 30 & 1023] + pairs[n >> 20 & 1023] + pairs[n >> 10 & 1023] + pairs[n & 1023])


def encode_card_code(brand_ref: str, card_number: int, secret: bytes) -> str:
    """The QR message for a card."""
    if not _BRAND.fullmatch(brand_ref):
        raise ValueError(f"brand_ref {brand_ref!r} must be 1-16 characters of A-Z 0-9")
    _check_card_number(card_number)
    number = str(card_number)
    return f"{CODE_PREFIX}{brand_ref}:{number}:{_mac(brand_ref, number, secret)}"


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _MAX_QUOTED else text[:_MAX_QUOTED] + "...")


def decode_card_code(code: str, secret_for_brand: Callable[[str], bytes | None]) -> CardCode:
    """Verify a scanned code and say which card it names.

    ``secret_for_brand`` returns the brand's secret, or None for a brand this service does
    not know. The three failures read differently because they mean different things at
    the till: a bad scan, a card from elsewhere, or a forgery / altered code.
    """
    normalized = code.strip().upper()
    match = _CODE.fullmatch(normalized)
    if match is None:
        if not normalized.startswith(CODE_PREFIX) and _VERSION.match(normalized):
            raise CardCodeError(f"card code {_quoted(normalized)}: unsupported format version")
        raise CardCodeError(f"card code {_quoted(normalized)} is malformed: expected PC1:<BRAND>:<NUMBER>:<MAC>")
    brand_ref, number, given_mac = match.groups()
    card_number = int(number)
    if card_number > MAX_CARD_NUMBER:
        raise CardCodeError(f"card code {_quoted(normalized)} is malformed: card number too large")

    secret = secret_for_brand(brand_ref)
    if secret is None:
        raise CardCodeError(f"card code {_quoted(normalized)}: unknown brand {brand_ref!r}")
    if not hmac.compare_digest(_mac(brand_ref, number, secret), given_mac):
        raise CardCodeError(f"card code {_quoted(normalized)}: bad signature (forged, altered or another brand's)")
    return CardCode(brand_ref, card_number)


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_check_digit(digits: str) -> int:
    """The digit that makes ``digits + check`` pass the Luhn test."""
    # Walking from the right, the digit next to the (future) check digit is doubled (and 9 taken
    # off a two-digit result); map over slices rather than a loop: each pass build does it twice.
    backwards = digits[::-1]
    total = sum(map(_DOUBLED.__getitem__, map(int, backwards[0::2]))) + sum(map(int, backwards[1::2]))
    return (10 - total % 10) % 10


def short_number(card_number: int) -> str:
    """The card number plus a Luhn digit, in groups of four ("1234 5678 9")."""
    _check_card_number(card_number)
    digits = f"{card_number}{_luhn_check_digit(str(card_number))}"
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def parse_short_number(text: str) -> int:
    """The card number behind a typed short number; spaces and dashes are ignored."""
    digits = _SHORT_SEPARATORS.sub("", text)
    if not digits.isascii() or not digits.isdigit() or len(digits) < 2:
        raise CardCodeError(f"card number {_quoted(text)}: expected digits with a check digit")
    body, check = digits[:-1], int(digits[-1])
    if _luhn_check_digit(body) != check:
        raise CardCodeError(f"card number {_quoted(text)}: wrong check digit (a typo?)")
    card_number = int(body)
    if card_number > MAX_CARD_NUMBER:
        raise CardCodeError(f"card number {_quoted(text)}: too large")
    return card_number
