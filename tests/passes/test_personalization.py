"""The personalize signature is a pass signature: only an opaque token may ever be signed."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from passes.certificates import DevPki, ensure_dev_pki
from passes.errors import PassValidationError
from passes.personalization import MAX_TOKEN_LENGTH, offers_personalization, personalization_token_bytes

MANIFEST = json.dumps({"pass.json": "0" * 40, "icon.png": "1" * 40}, separators=(",", ":"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), "pass.dev.passcast.test", "PASSCASTDV")


@pytest.mark.parametrize("token", [
    "3BD6C5FA1F1B4E0A9E4C", "a1" * 32, "dGhpcyBpcyBhIHRva2VuIGZyb20gV2FsbGV0", "abc-DEF_123.xyz+/==",
    "x" * MAX_TOKEN_LENGTH])
def test_wallet_shaped_tokens_are_accepted(token: str) -> None:
    assert personalization_token_bytes(token) == token.encode("ascii")


@pytest.mark.parametrize("token", [
    MANIFEST, " " + MANIFEST, '["pass.json"]', '"aaaaaaaaaaaaaaaaaaaa"', "1234567890123456789012",
    "short", "x" * (MAX_TOKEN_LENGTH + 1), "token with spaces in it", "token\nwith\nlines\nin\nit",
    "tökenwithumlautsinside", "", None, 12345678901234567890, {"a": 1}])
def test_anything_else_is_refused(token: object) -> None:
    with pytest.raises(PassValidationError, match="personalizationToken"):
        personalization_token_bytes(token)


def test_the_signer_refuses_to_sign_a_manifest_as_a_token(pki: DevPki) -> None:
    signer = pki.certificate.signer()
    with pytest.raises(PassValidationError):
        signer.sign_personalization_token(MANIFEST)
    assert signer.sign_personalization_token("3BD6C5FA1F1B4E0A9E4C")[:1] == b"\x30"  # DER SignedData


def _zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"{}")
    return buffer.getvalue()


def test_only_a_pass_with_personalization_json_is_offered() -> None:
    assert offers_personalization(_zip(["pass.json", "personalization.json", "manifest.json"]))
    assert not offers_personalization(_zip(["pass.json", "manifest.json", "signature"]))
    assert not offers_personalization(b"not a zip")
