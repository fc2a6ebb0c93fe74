"""Apple's rewards enrollment ("personalizable passes"): which passes offer it, which tokens we sign.

Wallet offers the sign-up form only for a pass that carries ``personalization.json``; when
the customer fills it in, Wallet posts an opaque ``personalizationToken`` and expects the
same detached PKCS#7 signature, made with the Pass Type ID key, that signs manifest.json.
That makes the personalize endpoint a signing oracle for pass manifests unless the text it
signs can never be a manifest. Apple documents the token only as a string; Wallet sends a
short opaque value, so the accepted shape is bounded to a single word of base64/hex
characters. A manifest is a JSON object (it starts with ``{``), so it can never match, and
neither can any other JSON document or anything with spaces, quotes or line breaks.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

from passes.errors import PassValidationError

__all__ = ["MAX_TOKEN_LENGTH", "PERSONALIZATION_FILE", "offers_personalization", "personalization_token_bytes"]

PERSONALIZATION_FILE = "personalization.json"
MIN_TOKEN_LENGTH = 16
MAX_TOKEN_LENGTH = 512
# base64 (standard and URL-safe), hex, and the dots/dashes of token formats built from them.
_TOKEN = re.compile(rf"[A-Za-z0-9+/=_.\-]{{{MIN_TOKEN_LENGTH},{MAX_TOKEN_LENGTH}}}")


def offers_personalization(pkpass: bytes) -> bool:
    """Whether Wallet would offer this pass for rewards enrollment (it carries personalization.json)."""
    try:
        with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
            return PERSONALIZATION_FILE in archive.namelist()
    except (zipfile.BadZipFile, ValueError, TypeError):
        return False


def personalization_token_bytes(token: object) -> bytes:
    """The bytes to sign for a personalizationToken, or PassValidationError if it is not one.

    Refused: anything but a string of 16-512 base64/hex characters, and anything that parses
    as JSON (a long run of digits would; nothing else of that alphabet does).
    """
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise PassValidationError(
            "personalizationToken",
            f"must be {MIN_TOKEN_LENGTH}-{MAX_TOKEN_LENGTH} characters of A-Z a-z 0-9 + / = _ . -")
    try:
        json.loads(token)
    except ValueError:
        return token.encode("ascii")
    raise PassValidationError("personalizationToken", "must not be a JSON document")
