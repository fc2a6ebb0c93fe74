"""Certificates: the dev PKI, the loaders, and every refusal that saves a dead pass."""

from __future__ import annotations

import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from passes.certificates import (
    DEV_ROOT_NAME,
    DEV_WWDR_NAME,
    DevPki,
    PassCertificate,
    ensure_dev_pki,
    export_p12,
    issue_certificate,
    load_directory,
    load_p12,
    load_pem,
    pass_certificate_subject,
)
from passes.errors import CertificateError

PASS_TYPE = "pass.com.example.passcast"
TEAM = "ABCDE12345"
PEM = serialization.Encoding.PEM

G1_END = datetime(2023, 2, 7, 21, 48, 47, tzinfo=UTC)  # when Apple's WWDR G1 expired


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), PASS_TYPE, TEAM, organization="Example Coffee")


@pytest.fixture(scope="module")
def p12_bytes(pki: DevPki) -> bytes:
    return export_p12(pki.certificate, b"s3cret")


def _ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())  # fast: these chains only feed `check`


def _chain(
    *,
    wwdr_name: x509.Name = DEV_WWDR_NAME,
    wwdr_from: datetime,
    wwdr_until: datetime,
    leaf_from: datetime,
    leaf_until: datetime,
    subject: x509.Name | None = None,
) -> PassCertificate:
    root_key, wwdr_key, leaf_key = _ec_key(), _ec_key(), _ec_key()
    root = issue_certificate(
        DEV_ROOT_NAME, root_key.public_key(), root_key,
        not_before=wwdr_from, not_after=wwdr_until + timedelta(days=3650), ca=True,
    )  # fmt: skip
    wwdr = issue_certificate(
        wwdr_name, wwdr_key.public_key(), root_key, issuer=root,
        not_before=wwdr_from, not_after=wwdr_until, ca=True, path_length=0,
    )  # fmt: skip
    leaf = issue_certificate(
        subject or pass_certificate_subject(PASS_TYPE, TEAM, "Example Coffee"), leaf_key.public_key(), wwdr_key,
        issuer=wwdr, not_before=leaf_from, not_after=leaf_until, ca=False,
    )  # fmt: skip
    return PassCertificate(leaf, leaf_key, wwdr)


def _pem(pki: DevPki) -> tuple[bytes, bytes, bytes]:
    return pki.cert_file.read_bytes(), pki.key_file.read_bytes(), pki.wwdr_file.read_bytes()


# ------------------------------------------------------------------ dev PKI


def test_dev_pki_looks_like_apples(pki: DevPki) -> None:
    cert = pki.certificate
    subject = cert.certificate.subject

    assert cert.pass_type_identifier == PASS_TYPE
    assert cert.team_identifier == TEAM
    assert subject.get_attributes_for_oid(NameOID.USER_ID)[0].oid.dotted_string == "0.9.2342.19200300.100.1.1"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"Pass Type ID: {PASS_TYPE}"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example Coffee"
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "US"
    assert isinstance(cert.private_key, rsa.RSAPrivateKey) and cert.private_key.key_size == 2048
    lifetime = cert.not_after - cert.certificate.not_valid_before_utc
    assert timedelta(days=364) < lifetime <= timedelta(days=366)

    wwdr = cert.wwdr
    assert wwdr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Apple Worldwide Developer Relations Certification Authority"
    )
    assert wwdr.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "G4"
    assert "Dev" in wwdr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    constraints = wwdr.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert wwdr.not_valid_after_utc - wwdr.not_valid_before_utc >= timedelta(days=3649)

    root = x509.load_pem_x509_certificate(pki.ca_file.read_bytes())
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Passcast Dev Root CA"
    wwdr.verify_directly_issued_by(root)
    cert.check(PASS_TYPE, TEAM)
    assert cert.expiry_warning() is None


def test_dev_pki_files(pki: DevPki) -> None:
    assert {p.name for p in (pki.ca_file, pki.wwdr_file, pki.cert_file, pki.key_file)} == {
        "ca.pem", "wwdr.pem", "pass.pem", "pass.key",
    }  # fmt: skip
    assert stat.S_IMODE(pki.key_file.stat().st_mode) == 0o600
    assert load_directory(pki.key_file.parent).certificate == pki.certificate.certificate


def test_ensure_dev_pki_is_idempotent(pki: DevPki) -> None:
    contents = {p: p.read_bytes() for p in (pki.ca_file, pki.wwdr_file, pki.cert_file, pki.key_file)}

    again = ensure_dev_pki(pki.cert_file.parent, PASS_TYPE, TEAM, organization="Example Coffee")

    assert again.certificate.certificate == pki.certificate.certificate
    assert {p: p.read_bytes() for p in contents} == contents


def test_ensure_dev_pki_regenerates_for_other_identifiers(pki: DevPki, tmp_path: Path) -> None:
    directory = shutil.copytree(pki.cert_file.parent, tmp_path / "pki")

    other = ensure_dev_pki(directory, "pass.com.example.other", "ZZZZZ99999", organization="Example Coffee")

    assert other.certificate.pass_type_identifier == "pass.com.example.other"
    assert other.certificate.team_identifier == "ZZZZZ99999"
    assert load_directory(directory).certificate == other.certificate.certificate


def test_ensure_dev_pki_replaces_a_broken_key(pki: DevPki, tmp_path: Path) -> None:
    directory = shutil.copytree(pki.cert_file.parent, tmp_path / "pki")
    (directory / "pass.key").write_bytes(b"garbage")

    repaired = ensure_dev_pki(directory, PASS_TYPE, TEAM, organization="Example Coffee")

    assert repaired.certificate.certificate != pki.certificate.certificate
    repaired.certificate.check(PASS_TYPE, TEAM)


# ------------------------------------------------------------------ check: the pitfalls


def test_expired_g1_style_wwdr_is_refused() -> None:
    """Pitfall 1: a valid pass certificate is useless once its intermediate has expired."""
    cert = _chain(
        wwdr_from=G1_END - timedelta(days=3650),
        wwdr_until=G1_END,
        leaf_from=datetime(2022, 6, 1, tzinfo=UTC),
        leaf_until=datetime(2023, 6, 1, tzinfo=UTC),
    )
    cert.check(PASS_TYPE, TEAM, now=G1_END - timedelta(days=1))

    with pytest.raises(CertificateError, match=r"WWDR intermediate .* expired on 2023-02-07.*G4") as refused:
        cert.check(PASS_TYPE, TEAM, now=G1_END + timedelta(days=1))
    assert "pass certificate expired" not in str(refused.value)


def test_wwdr_with_another_key_is_refused(pki: DevPki) -> None:
    """Same name as the real issuer, different key: only the signature check catches it."""
    now = datetime.now(UTC)
    impostor = _chain(wwdr_from=now, wwdr_until=now + timedelta(days=10), leaf_from=now, leaf_until=now).wwdr
    assert impostor.subject == pki.certificate.wwdr.subject

    with pytest.raises(CertificateError, match="signature does not verify with the WWDR"):
        PassCertificate(pki.certificate.certificate, pki.certificate.private_key, impostor).check(PASS_TYPE, TEAM)


def test_unrelated_wwdr_is_refused(pki: DevPki) -> None:
    now = datetime.now(UTC)
    g1_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Apple Worldwide Developer Relations Certification Authority"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Apple Worldwide Developer Relations"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Apple Inc."),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )
    other = _chain(
        wwdr_name=g1_name, wwdr_from=now, wwdr_until=now + timedelta(days=10), leaf_from=now, leaf_until=now
    ).wwdr

    with pytest.raises(CertificateError, match=r"was issued by .*OU=G4.*not by the given WWDR"):
        PassCertificate(pki.certificate.certificate, pki.certificate.private_key, other).check(PASS_TYPE, TEAM)


def test_pass_type_identifier_mismatch_is_refused(pki: DevPki) -> None:
    """Pitfall 2: pass.json must name the certificate's UID."""
    with pytest.raises(
        CertificateError,
        match=r"pass type identifier \(UID\) is 'pass.com.example.passcast', but the pass uses 'pass.com.example.x'",
    ):
        pki.certificate.check("pass.com.example.x", TEAM)


def test_team_identifier_mismatch_is_refused(pki: DevPki) -> None:
    """Pitfall 2: teamIdentifier must equal the certificate's OU."""
    with pytest.raises(CertificateError, match=r"team identifier \(OU\) is 'ABCDE12345', but the pass uses 'WRONG'"):
        pki.certificate.check(PASS_TYPE, "WRONG")


def test_every_problem_is_reported_at_once(pki: DevPki) -> None:
    with pytest.raises(CertificateError) as refused:
        pki.certificate.check("pass.other", "OTHER", now=pki.certificate.not_after + timedelta(days=1))

    message = str(refused.value)
    assert "expired" in message and "(UID)" in message and "(OU)" in message


def test_expired_certificate_is_refused(pki: DevPki) -> None:
    with pytest.raises(CertificateError, match="the pass certificate expired on"):
        pki.certificate.check(PASS_TYPE, TEAM, now=pki.certificate.not_after + timedelta(seconds=1))


def test_not_yet_valid_certificate_is_refused(pki: DevPki) -> None:
    not_before = pki.certificate.certificate.not_valid_before_utc
    with pytest.raises(CertificateError, match="not valid before"):
        pki.certificate.check(PASS_TYPE, TEAM, now=not_before - timedelta(hours=1))


def test_key_of_another_certificate_is_refused(pki: DevPki) -> None:
    wrong = PassCertificate(pki.certificate.certificate, _ec_key(), pki.certificate.wwdr)

    with pytest.raises(CertificateError, match="private key does not match the certificate"):
        wrong.check(PASS_TYPE, TEAM)


def test_certificate_without_uid_is_refused() -> None:
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some TLS server")])
    cert = _chain(
        wwdr_from=now,
        wwdr_until=now + timedelta(days=9),
        leaf_from=now,
        leaf_until=now + timedelta(days=9),
        subject=subject,
    )

    with pytest.raises(CertificateError, match="no UID"):
        _ = cert.pass_type_identifier
    with pytest.raises(CertificateError, match="no UID.*no OU"):
        cert.check(PASS_TYPE, TEAM, now=now + timedelta(minutes=1))


def test_naive_now_is_rejected(pki: DevPki) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.certificate.check(PASS_TYPE, TEAM, now=datetime(2030, 1, 1))


# ------------------------------------------------------------------ expiry warning


def test_expiry_warning_within_30_days(pki: DevPki) -> None:
    end = pki.certificate.not_after

    assert pki.certificate.expiry_warning(now=end - timedelta(days=31)) is None
    warning = pki.certificate.expiry_warning(now=end - timedelta(days=10))
    assert warning is not None and "pass certificate" in warning and "expires in 10 days" in warning
    assert "expired on" in (pki.certificate.expiry_warning(now=end + timedelta(days=1)) or "")


def test_expiry_warning_covers_the_wwdr() -> None:
    cert = _chain(
        wwdr_from=G1_END - timedelta(days=3650),
        wwdr_until=G1_END,
        leaf_from=datetime(2022, 6, 1, tzinfo=UTC),
        leaf_until=datetime(2023, 6, 1, tzinfo=UTC),
    )

    warning = cert.expiry_warning(now=G1_END - timedelta(days=5))

    assert warning is not None and warning.startswith("WWDR") and "expires in 5 days" in warning


# ------------------------------------------------------------------ PEM loading


def test_load_pem_with_separate_key(pki: DevPki) -> None:
    cert_pem, key_pem, wwdr_pem = _pem(pki)

    loaded = load_pem(cert_pem, key_pem, wwdr_pem)

    assert loaded.certificate == pki.certificate.certificate and loaded.wwdr == pki.certificate.wwdr
    loaded.check(PASS_TYPE, TEAM)


def test_load_pem_with_key_in_the_certificate_file_and_der_wwdr(pki: DevPki) -> None:
    cert_pem, key_pem, _ = _pem(pki)

    loaded = load_pem(key_pem + cert_pem, None, pki.certificate.wwdr.public_bytes(serialization.Encoding.DER))

    assert loaded.certificate == pki.certificate.certificate
    loaded.check(PASS_TYPE, TEAM)


def test_load_pem_picks_the_pass_certificate_out_of_a_chain(pki: DevPki) -> None:
    cert_pem, key_pem, wwdr_pem = _pem(pki)

    loaded = load_pem(wwdr_pem + cert_pem, key_pem, wwdr_pem)

    assert loaded.certificate == pki.certificate.certificate


def test_missing_key_is_refused(pki: DevPki) -> None:
    cert_pem, _, wwdr_pem = _pem(pki)

    with pytest.raises(CertificateError, match="no private key"):
        load_pem(cert_pem, None, wwdr_pem)


def test_encrypted_key(pki: DevPki) -> None:
    cert_pem, _, wwdr_pem = _pem(pki)
    encrypted = pki.certificate.private_key.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )

    assert load_pem(cert_pem, encrypted, wwdr_pem, key_password=b"pw").private_key.key_size == 2048
    with pytest.raises(CertificateError, match="encrypted; give its password"):
        load_pem(cert_pem, encrypted, wwdr_pem)
    with pytest.raises(CertificateError, match="wrong password"):
        load_pem(cert_pem, encrypted, wwdr_pem, key_password=b"nope")


def test_garbage_certificate_is_refused(pki: DevPki) -> None:
    _, key_pem, wwdr_pem = _pem(pki)

    with pytest.raises(CertificateError, match="pass certificate: not a readable X.509 certificate"):
        load_pem(b"not a certificate", key_pem, wwdr_pem)
    with pytest.raises(CertificateError, match="pass certificate: no certificate found"):
        load_pem(key_pem, None, wwdr_pem)


# ------------------------------------------------------------------ PKCS#12


def test_p12_round_trip(pki: DevPki, p12_bytes: bytes) -> None:
    loaded = load_p12(p12_bytes, b"s3cret", pki.wwdr_file.read_bytes())

    assert loaded.certificate == pki.certificate.certificate
    assert loaded.wwdr == pki.certificate.wwdr
    loaded.check(PASS_TYPE, TEAM)


def test_p12_wrong_password_is_refused(pki: DevPki, p12_bytes: bytes) -> None:
    with pytest.raises(CertificateError, match="wrong password or not a PKCS#12 file"):
        load_p12(p12_bytes, b"guess", pki.wwdr_file.read_bytes())
    with pytest.raises(CertificateError, match="wrong password or not a PKCS#12 file"):
        load_p12(p12_bytes, None, pki.wwdr_file.read_bytes())


def test_p12_without_key_is_refused(pki: DevPki) -> None:
    no_key = pkcs12.serialize_key_and_certificates(
        b"cert only", None, pki.certificate.certificate, None, serialization.BestAvailableEncryption(b"pw")
    )

    with pytest.raises(CertificateError, match="no private key"):
        load_p12(no_key, b"pw", pki.wwdr_file.read_bytes())


def test_export_p12_needs_a_password(pki: DevPki) -> None:
    with pytest.raises(ValueError, match="without a password"):
        export_p12(pki.certificate, b"")


# ------------------------------------------------------------------ directory layout


def test_load_directory_p12_layout(pki: DevPki, p12_bytes: bytes, tmp_path: Path) -> None:
    (tmp_path / "pass.p12").write_bytes(p12_bytes)
    (tmp_path / "password").write_bytes(b"s3cret\n")
    (tmp_path / "wwdr.cer").write_bytes(pki.certificate.wwdr.public_bytes(serialization.Encoding.DER))

    loaded = load_directory(tmp_path)

    assert loaded.certificate == pki.certificate.certificate
    loaded.check(PASS_TYPE, TEAM)


def test_load_directory_refuses_ambiguity_and_gaps(pki: DevPki, p12_bytes: bytes, tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="exactly one of wwdr.pem / wwdr.cer, found 0"):
        load_directory(tmp_path)
    shutil.copy(pki.wwdr_file, tmp_path / "wwdr.pem")
    with pytest.raises(CertificateError, match=r"no pass.pem \(\+ pass.key\) or pass.p12"):
        load_directory(tmp_path)
    shutil.copy(pki.cert_file, tmp_path / "pass.pem")
    (tmp_path / "pass.p12").write_bytes(p12_bytes)
    with pytest.raises(CertificateError, match="both pass.pem and pass.p12"):
        load_directory(tmp_path)
    with pytest.raises(CertificateError, match="not a certificate directory"):
        load_directory(tmp_path / "missing")
