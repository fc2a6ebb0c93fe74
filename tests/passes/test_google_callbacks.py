"""ECv2SigningOnly verification of Google Wallet save/delete callbacks (passes/google.py)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from passes.google import (
    CallbackVerificationError,
    _length_prefixed,
    load_root_keys,
    root_keys_document,
    sign_callback,
    verify_callback,
)

ISSUER = "3388000000022123456"
NOW = int(time.time() * 1000)
HOUR = 3_600_000


@pytest.fixture(scope="module")
def keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {name: ec.generate_private_key(ec.SECP256R1()) for name in ("root", "intermediate", "rogue")}


def _message(**changes: Any) -> dict[str, Any]:
    return {"classId": f"{ISSUER}.program-1", "objectId": f"{ISSUER}.card-1", "expTimeMillis": NOW + HOUR,
            "eventType": "save", "nonce": "n-1", **changes}


def _roots(keys: dict[str, ec.EllipticCurvePrivateKey], expires: int | None = None) -> list[Any]:
    return load_root_keys(json.dumps(root_keys_document([(keys["root"].public_key(), expires)])))


def test_signed_string_is_length_prefixed_little_endian() -> None:
    assert _length_prefixed("ab", "") == b"\x02\x00\x00\x00ab\x00\x00\x00\x00"


def test_a_correct_envelope_verifies(keys: dict[str, ec.EllipticCurvePrivateKey]) -> None:
    envelope = sign_callback(_message(), ISSUER, keys["root"], keys["intermediate"], NOW + HOUR)
    assert envelope["protocolVersion"] == "ECv2SigningOnly"
    assert verify_callback(json.dumps(envelope), _roots(keys), ISSUER) == _message()


@pytest.mark.parametrize("case", ["rogue_root", "rogue_intermediate", "other_recipient", "altered_message",
                                  "expired_key", "expired_message", "expired_root", "wrong_protocol", "garbage"])
def test_a_bad_envelope_is_refused(keys: dict[str, ec.EllipticCurvePrivateKey], case: str) -> None:
    roots = _roots(keys)
    if case == "rogue_root":
        envelope = sign_callback(_message(), ISSUER, keys["rogue"], keys["intermediate"], NOW + HOUR)
    elif case == "rogue_intermediate":
        envelope = sign_callback(_message(), ISSUER, keys["root"], keys["intermediate"], NOW + HOUR)
        other = sign_callback(_message(), ISSUER, keys["root"], keys["rogue"], NOW + HOUR)
        envelope["signature"] = other["signature"]
    elif case == "other_recipient":
        envelope = sign_callback(_message(), "1111111111", keys["root"], keys["intermediate"], NOW + HOUR)
    elif case == "altered_message":
        envelope = sign_callback(_message(), ISSUER, keys["root"], keys["intermediate"], NOW + HOUR)
        envelope["signedMessage"] = envelope["signedMessage"].replace('"save"', '"del"')
    elif case == "expired_key":
        envelope = sign_callback(_message(), ISSUER, keys["root"], keys["intermediate"], NOW - 1)
    elif case == "expired_message":
        envelope = sign_callback(_message(expTimeMillis=NOW - 1), ISSUER, keys["root"], keys["intermediate"],
                                 NOW + HOUR)
    elif case == "expired_root":
        envelope = sign_callback(_message(), ISSUER, keys["root"], keys["intermediate"], NOW + HOUR)
        roots = _roots(keys, expires=NOW - 1)
    elif case == "wrong_protocol":
        envelope = sign_callback(_message(), ISSUER, keys["root"], keys["intermediate"], NOW + HOUR)
        envelope["protocolVersion"] = "ECv2"
    else:
        envelope = {"signature": base64.b64encode(b"x").decode(), "protocolVersion": "ECv2SigningOnly"}
    with pytest.raises(CallbackVerificationError):
        verify_callback(envelope, roots, ISSUER, now_ms=NOW)


def test_root_keys_of_other_protocols_are_ignored(keys: dict[str, ec.EllipticCurvePrivateKey]) -> None:
    document = root_keys_document([(keys["root"].public_key(), None)])
    document["keys"][0]["protocolVersion"] = "ECv1"
    with pytest.raises(CallbackVerificationError):
        load_root_keys(document)


def test_a_non_numeric_expiry_is_refused_not_crashed(keys: dict[str, ec.EllipticCurvePrivateKey]) -> None:
    envelope = sign_callback(_message(expTimeMillis="soon"), ISSUER, keys["root"], keys["intermediate"], NOW + HOUR)
    with pytest.raises(CallbackVerificationError, match="expTimeMillis"):
        verify_callback(envelope, _roots(keys), ISSUER)
