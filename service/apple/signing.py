"""Signing certificates as the service keeps them: in the database, loaded once per process.

The pass library checks a certificate (expiry, key, UID/OU, WWDR); this module stores the
ones that pass, finds the one a program signs with, and caches the ready-to-use signer so
that the hot path (building a pass) never parses PEM again.

Private keys are stored encrypted (PKCS#8, the best encryption `cryptography` offers) under
SIGNING_KEY_PASSPHRASE when it is set, so a database dump or backup does not give away a
brand's Pass Type ID key; the APNs client file written from a row keeps the key encrypted
too. Keys stored before the passphrase was set still load; `flask --app wsgi
encrypt-signing-keys` re-encrypts them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from passes.certificates import PassCertificate, ensure_dev_pki, load_p12, load_pem
from passes.errors import CertificateError
from passes.signing import PassSigner
from service.models import Program, SigningCertificate

log = logging.getLogger(__name__)

# Keyed by the row and its certificate: a row id reused for another certificate (a restored or
# re-seeded database) must not sign with the old one's key.
_signers: dict[tuple[int, bytes], PassSigner] = {}
_signers_lock = threading.Lock()
_passphrase: bytes | None = None
ENCRYPTED_MARK = b"ENCRYPTED PRIVATE KEY"


def configure(passphrase: str) -> None:
    """The passphrase keys are stored under (set once at start-up, from SIGNING_KEY_PASSPHRASE)."""
    global _passphrase
    _passphrase = passphrase.encode() if passphrase else None


def key_password(key_pem: bytes) -> bytes | None:
    """What opens a stored key: the passphrase when it is encrypted, else nothing."""
    if ENCRYPTED_MARK not in key_pem:
        return None
    if _passphrase is None:
        raise CertificateError("a signing key is stored encrypted: set SIGNING_KEY_PASSPHRASE")
    return _passphrase


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(certificate: PassCertificate) -> bytes:
    protection: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(_passphrase) if _passphrase else serialization.NoEncryption())
    return certificate.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 protection)


def store_certificate(session: Session, certificate: PassCertificate, *, brand_id: int | None,
                      is_dev: bool = False) -> SigningCertificate:
    """Keep a certificate that has already been checked; warn when it expires soon."""
    warning = certificate.expiry_warning()
    if warning:
        log.warning("%s", warning)
    row = SigningCertificate(
        brand_id=brand_id,
        pass_type_identifier=certificate.pass_type_identifier,
        team_identifier=certificate.team_identifier,
        certificate_pem=_pem(certificate.certificate),
        private_key_pem=_key_pem(certificate),
        wwdr_pem=_pem(certificate.wwdr),
        not_after=certificate.not_after,
        is_dev=is_dev,
    )
    session.add(row)
    session.flush()
    return row


def certificate_from_upload(data: bytes, *, password: bytes | None, wwdr_pem: bytes,
                            key_pem: bytes | None = None) -> PassCertificate:
    """A .p12 (with its password) or a PEM certificate (+ key) as a brand uploads it.

    The WWDR may be Apple's DER `.cer` or PEM: the loaders accept both.
    """
    if data.lstrip().startswith(b"-----BEGIN"):
        return load_pem(data, key_pem, wwdr_pem, key_password=password)
    return load_p12(data, password, wwdr_pem)


def load(row: SigningCertificate) -> PassCertificate:
    return load_pem(row.certificate_pem, row.private_key_pem, row.wwdr_pem,
                    key_password=key_password(row.private_key_pem))


def encrypt_stored_keys(session: Session) -> int:
    """Store every key not yet encrypted under the passphrase; returns how many. The caller commits."""
    if _passphrase is None:
        raise CertificateError("set SIGNING_KEY_PASSPHRASE first")
    done = 0
    for row in session.scalars(select(SigningCertificate)):
        if ENCRYPTED_MARK not in row.private_key_pem:
            row.private_key_pem = _key_pem(load(row))
            done += 1
    return done


def signer_for(program: Program) -> PassSigner:
    """The cached signer for a program, after checking its certificate still fits it."""
    row = program.certificate
    if row is None:
        raise CertificateError(f"program {program.id} has no signing certificate")
    key = (row.id, row.certificate_pem)
    signer = _signers.get(key)
    if signer is None:
        certificate = load(row)
        certificate.check(program.pass_type_identifier, program.team_identifier)
        signer = certificate.signer()
        with _signers_lock:
            _signers[key] = signer
    elif row.not_after <= dt.datetime.now(dt.UTC):
        raise CertificateError(
            f"the certificate for {row.pass_type_identifier} expired on {row.not_after:%Y-%m-%d}")
    return signer


def ensure_dev_certificate(session: Session, certs_dir: Path, pass_type_identifier: str,
                           team_identifier: str) -> SigningCertificate:
    """Generate (first run) or reuse the dev PKI and make sure the database knows it."""
    pki = ensure_dev_pki(certs_dir / "dev", pass_type_identifier, team_identifier)
    pem = _pem(pki.certificate.certificate)
    row = session.scalar(select(SigningCertificate).where(SigningCertificate.certificate_pem == pem))
    if row is None:
        row = store_certificate(session, pki.certificate, brand_id=None, is_dev=True)
    return row
