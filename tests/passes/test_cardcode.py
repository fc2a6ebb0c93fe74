"""Card codes survive a real QR round trip and refuse every alteration."""

from __future__ import annotations

import io
import re

import pytest
import qrcode
import zxingcpp
from PIL import Image

from passes.cardcode import (
    CardCode,
    decode_card_code,
    encode_card_code,
    parse_short_number,
    short_number,
)
from passes.errors import CardCodeError

SECRETS = {"ACME": b"acme-secret-0123456789", "BOLT7": b"bolt-secret-9876543210"}
QR_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def secret_for(brand_ref: str) -> bytes | None:
    return SECRETS.get(brand_ref)


def _qr_png(message: str) -> bytes:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    qr.add_data(message)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image().save(buffer)  # PNG, as a wallet or a web page would show it
    return buffer.getvalue()


def test_qr_round_trip() -> None:
    code = encode_card_code("ACME", 12345678, SECRETS["ACME"])

    image = Image.open(io.BytesIO(_qr_png(code)))
    results = zxingcpp.read_barcodes(image)

    assert [r.format for r in results] == [zxingcpp.BarcodeFormat.QRCode]
    assert decode_card_code(results[0].text, secret_for) == CardCode("ACME", 12345678)


def test_code_is_compact_and_qr_alphanumeric() -> None:
    code = encode_card_code("ACME", 12345678, SECRETS["ACME"])

    assert re.fullmatch(r"PC1:ACME:12345678:[A-Z2-7]{16}", code)
    assert len(code) == 34
    assert set(code) <= set(QR_ALPHANUMERIC)
    assert qrcode.util.QRData(code).mode == qrcode.util.MODE_ALPHA_NUM
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(code)
    qr.make(fit=True)
    assert qr.version == 2  # 25x25 modules
    longest = encode_card_code("ABCDEFGHIJKLMNOP", 2**63 - 1, SECRETS["ACME"])
    assert len(longest) == 4 + 16 + 1 + 19 + 1 + 16


def test_every_one_character_change_is_rejected() -> None:
    code = encode_card_code("ACME", 12345678, SECRETS["ACME"])
    accepted = []
    for position, original in enumerate(code):
        for replacement in QR_ALPHANUMERIC:
            if replacement == original:
                continue
            altered = code[:position] + replacement + code[position + 1 :]
            try:
                accepted.append(decode_card_code(altered, secret_for))
            except CardCodeError:
                pass
    for position in range(len(code)):  # dropped and inserted characters
        for altered in (code[:position] + code[position + 1 :], code[:position] + "7" + code[position:]):
            try:
                accepted.append(decode_card_code(altered, secret_for))
            except CardCodeError:
                pass

    assert accepted == []


def test_scanner_noise_is_tolerated() -> None:
    code = encode_card_code("BOLT7", 42, SECRETS["BOLT7"])

    assert decode_card_code(f"  {code.lower()}\r\n", secret_for) == CardCode("BOLT7", 42)


def test_another_brands_secret_rejects() -> None:
    code = encode_card_code("ACME", 12345678, SECRETS["BOLT7"])

    with pytest.raises(CardCodeError, match="bad signature"):
        decode_card_code(code, secret_for)


def test_brand_swapped_into_a_valid_code_rejects() -> None:
    code = encode_card_code("ACME", 12345678, SECRETS["ACME"])

    with pytest.raises(CardCodeError, match="bad signature"):
        decode_card_code(code.replace("ACME", "BOLT7"), secret_for)


def test_unknown_brand_rejects() -> None:
    code = encode_card_code("NOPE", 1, b"some-other-secret-123")

    with pytest.raises(CardCodeError, match="unknown brand 'NOPE'"):
        decode_card_code(code, secret_for)


@pytest.mark.parametrize(
    "scanned",
    [
        "",
        "hello",
        "https://example.com/card/1",
        "PC1:ACME:12345678",
        "PC1:ACME:012345678:EX2FV6X4YBOJYTJR",  # leading zero: one card, one code
        "PC1:ACME:-1:EX2FV6X4YBOJYTJR",
        "PC1:acme corp:1:EX2FV6X4YBOJYTJR",
        "PC1:ACME:1:EX2FV6X4YBOJYTJ",  # MAC too short
        "PC1:ACME:1:EX2FV6X4YBOJYTJ1",  # 1 is not base32
        "PC1:ACME:99999999999999999999:EX2FV6X4YBOJYTJR",
    ],
)
def test_malformed_codes_reject(scanned: str) -> None:
    with pytest.raises(CardCodeError, match="malformed"):
        decode_card_code(scanned, secret_for)


def test_unknown_version_rejects() -> None:
    with pytest.raises(CardCodeError, match="unsupported format version"):
        decode_card_code("PC2:ACME:1:EX2FV6X4YBOJYTJR", secret_for)


def test_number_beyond_64_bits_rejects() -> None:
    with pytest.raises(CardCodeError, match="too large"):
        decode_card_code(f"PC1:ACME:{2**63}:EX2FV6X4YBOJYTJR", secret_for)


def test_encode_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="brand_ref"):
        encode_card_code("acme", 1, SECRETS["ACME"])
    with pytest.raises(ValueError, match="outside"):
        encode_card_code("ACME", -1, SECRETS["ACME"])
    with pytest.raises(TypeError, match="must be an int"):
        encode_card_code("ACME", True, SECRETS["ACME"])
    with pytest.raises(ValueError, match="at least 16"):
        encode_card_code("ACME", 1, b"short")


# ------------------------------------------------------------------ short number


def test_short_number_format() -> None:
    assert short_number(7992739871) == "7992 7398 713"  # the textbook Luhn example
    assert short_number(12345678) == "1234 5678 2"
    assert short_number(0) == "00"


@pytest.mark.parametrize("number", [0, 7, 42, 12345678, 7992739871, 2**63 - 1])
def test_short_number_round_trip(number: int) -> None:
    text = short_number(number)

    assert parse_short_number(text) == number
    assert parse_short_number(text.replace(" ", "-")) == number
    assert parse_short_number(f" {text.replace(' ', '')}\n") == number


def test_every_single_digit_typo_is_rejected() -> None:
    digits = short_number(12345678).replace(" ", "")
    for position, original in enumerate(digits):
        for replacement in "0123456789":
            if replacement != original:
                typo = digits[:position] + replacement + digits[position + 1 :]
                with pytest.raises(CardCodeError, match="wrong check digit"):
                    parse_short_number(typo)


def test_adjacent_swap_is_rejected() -> None:
    with pytest.raises(CardCodeError, match="wrong check digit"):
        parse_short_number("2134 5678 2")


@pytest.mark.parametrize("text", ["", "1", "12a4", "１２３", "1234 5678 2x"])
def test_short_number_garbage_rejects(text: str) -> None:
    with pytest.raises(CardCodeError, match="expected digits"):
        parse_short_number(text)


@pytest.mark.parametrize("secret_length", [16, 32, 63, 64, 65, 200])
def test_the_mac_is_rfc_2104_hmac_sha256_in_base32(secret_length: int) -> None:
    """The keyed-once HMAC and the 80-bit base32 give what hmac and base64 give (issue 18)."""
    import base64
    import hashlib
    import hmac
    import random

    rng = random.Random(secret_length)
    for _ in range(200):
        secret = bytes(rng.randrange(256) for _ in range(secret_length))
        number = rng.randrange(10**rng.randrange(1, 19))
        message = f"PC1:ACME:{number}".encode()
        mac = base64.b32encode(hmac.new(secret, message, hashlib.sha256).digest()[:10]).decode()
        assert encode_card_code("ACME", number, secret) == f"PC1:ACME:{number}:{mac}"
        assert encode_card_code("ACME", number, bytearray(secret)) == f"PC1:ACME:{number}:{mac}"
    assert encode_card_code("ACME", 12345678, b"0123456789abcdef") == "PC1:ACME:12345678:EX2FV6X4YBOJYTJR"
