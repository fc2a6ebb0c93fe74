"""The manifest signature, checked by an independent verifier (the system openssl)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import pkcs7

from passes.certificates import (
    DEV_ROOT_NAME,
    DEV_WWDR_NAME,
    DevPki,
    PassCertificate,
    ensure_dev_pki,
    issue_certificate,
    pass_certificate_subject,
)
from passes.errors import CertificateError
from passes.signing import PassSigner

PASS_TYPE = "pass.com.example.passcast"
TEAM = "ABCDE12345"

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), PASS_TYPE, TEAM)


@pytest.fixture(scope="module")
def manifest() -> bytes:
    files = {f"image{i}@2x.png": f"{i:040x}" for i in range(15)}
    files["pass.json"] = "0" * 40
    data = json.dumps(files, indent=2).encode()
    assert 900 < len(data) < 1200  # about the size of a real manifest
    return data


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


def _verify(directory: Path, signature: bytes, manifest: bytes, ca_file: Path) -> subprocess.CompletedProcess[str]:
    (directory / "signature").write_bytes(signature)
    (directory / "manifest.json").write_bytes(manifest)
    return _openssl(
        "cms", "-verify", "-binary", "-inform", "DER",
        "-in", str(directory / "signature"),
        "-content", str(directory / "manifest.json"),
        "-CAfile", str(ca_file), "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip


def _printed(directory: Path, signature: bytes) -> str:
    (directory / "signature").write_bytes(signature)
    result = _openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", str(directory / "signature"))
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_openssl
def test_openssl_verifies_the_signature(pki: DevPki, manifest: bytes, tmp_path: Path) -> None:
    signature = pki.certificate.signer().sign(manifest)

    result = _verify(tmp_path, signature, manifest, pki.ca_file)

    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


@needs_openssl
def test_tampered_manifest_fails(pki: DevPki, manifest: bytes, tmp_path: Path) -> None:
    signature = pki.certificate.signer().sign(manifest)
    tampered = manifest.replace(b'"pass.json": "0', b'"pass.json": "1')
    assert tampered != manifest

    result = _verify(tmp_path, signature, tampered, pki.ca_file)

    assert result.returncode != 0
    assert "digest failure" in result.stderr.lower() or "verification failure" in result.stderr.lower()


@needs_openssl
def test_another_ca_does_not_verify(pki: DevPki, manifest: bytes, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    stranger = issue_certificate(
        DEV_ROOT_NAME, key.public_key(), key, not_before=now, not_after=now + timedelta(days=1), ca=True
    )
    ca_file = tmp_path / "stranger.pem"
    ca_file.write_bytes(stranger.public_bytes(serialization.Encoding.PEM))

    result = _verify(tmp_path, pki.certificate.signer().sign(manifest), manifest, ca_file)

    assert result.returncode != 0
    assert "verify error" in result.stderr.lower()


@needs_openssl
def test_signature_chained_to_an_expired_wwdr_does_not_verify(manifest: bytes, tmp_path: Path) -> None:
    """Pitfall 1 as the phone sees it: the old G1 intermediate gives a dead signature."""
    now = datetime.now(UTC)
    root_key, wwdr_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = issue_certificate(
        DEV_ROOT_NAME, root_key.public_key(), root_key,
        not_before=now - timedelta(days=3000), not_after=now + timedelta(days=3000), ca=True,
    )  # fmt: skip
    expired_wwdr = issue_certificate(
        DEV_WWDR_NAME, wwdr_key.public_key(), root_key, issuer=root,
        not_before=now - timedelta(days=3000), not_after=now - timedelta(days=1), ca=True, path_length=0,
    )  # fmt: skip
    leaf = issue_certificate(
        pass_certificate_subject(PASS_TYPE, TEAM, "Passcast Dev"), leaf_key.public_key(), wwdr_key,
        issuer=expired_wwdr, not_before=now - timedelta(days=30), not_after=now + timedelta(days=300), ca=False,
    )  # fmt: skip
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(root.public_bytes(serialization.Encoding.PEM))

    result = _verify(tmp_path, PassSigner(leaf, leaf_key, expired_wwdr).sign(manifest), manifest, ca_file)

    assert result.returncode != 0
    assert "expired" in result.stderr.lower()
    with pytest.raises(CertificateError, match="WWDR intermediate .* expired"):
        PassCertificate(leaf, leaf_key, expired_wwdr).check(PASS_TYPE, TEAM)


@needs_openssl
def test_signing_time_is_present_and_current(pki: DevPki, manifest: bytes, tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    printed = _printed(tmp_path, pki.certificate.signer().sign(manifest))
    after = datetime.now(UTC)

    match = re.search(r"object: signingTime.*?UTCTIME:(\w+ +\d+ [\d:]+ \d{4}) GMT", printed, re.DOTALL)
    assert match, "no signingTime attribute in the signature"
    signed_at = datetime.strptime(" ".join(match.group(1).split()), "%b %d %H:%M:%S %Y").replace(tzinfo=UTC)
    assert before <= signed_at <= after


@needs_openssl
def test_digest_is_sha256_without_smime_capabilities(pki: DevPki, manifest: bytes, tmp_path: Path) -> None:
    printed = _printed(tmp_path, pki.certificate.signer().sign(manifest))

    signer_info = printed[printed.index("signerInfos:") :]
    assert "digestAlgorithm:" in signer_info
    assert re.search(r"digestAlgorithm:\s+algorithm: sha256 ", signer_info)
    assert "SMIMECapabilities" not in printed
    assert "eContent: <ABSENT>" in printed  # detached: Wallet reads manifest.json from the zip


def test_signer_and_wwdr_certificates_are_embedded(pki: DevPki, manifest: bytes) -> None:
    signer = pki.certificate.signer()
    for data in (manifest, b"personalization-token"):  # the reused builder keeps the WWDR every time
        embedded = pkcs7.load_der_pkcs7_certificates(signer.sign(data))

        assert sorted(c.subject.rfc4514_string() for c in embedded) == sorted(
            [pki.certificate.certificate.subject.rfc4514_string(), pki.certificate.wwdr.subject.rfc4514_string()]
        )
        assert set(embedded) == {pki.certificate.certificate, pki.certificate.wwdr}


@needs_openssl
def test_personalization_token_signature_verifies(pki: DevPki, tmp_path: Path) -> None:
    token = b"3BD6C5FA1F1B4E0A9E4C"
    result = _verify(tmp_path, pki.certificate.signer().sign(token), token, pki.ca_file)

    assert result.returncode == 0, result.stderr


def test_signer_is_cached(pki: DevPki) -> None:
    assert pki.certificate.signer() is pki.certificate.signer()


def test_unsupported_key_type_is_refused(pki: DevPki) -> None:
    with pytest.raises(CertificateError, match="cannot sign with this certificate/key"):
        PassSigner(pki.certificate.certificate, ed25519.Ed25519PrivateKey.generate(), pki.certificate.wwdr)  # type: ignore[arg-type]
