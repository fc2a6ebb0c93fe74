"""Pass Type ID certificates: loading, checking, and a local stand-in PKI for development.

Most "the pass does not open" reports come from the certificate, not from pass.json: an
expired or wrong WWDR intermediate (Apple's G1 expired 2023-02-07; certificates issued
since 2022-01-27 chain to G4), or a pass.json whose passTypeIdentifier / teamIdentifier
differ from the certificate's UID / OU. ``PassCertificate.check`` catches all of these
before a single pass is handed out.

Certificate directory layout (``load_directory``), either form::

    <dir>/wwdr.pem | wwdr.cer   Apple WWDR intermediate (G4), PEM or DER as Apple ships it
    <dir>/pass.pem              Pass Type ID certificate, PEM; may also hold the private key
    <dir>/pass.key              its private key (PEM), unless it is inside pass.pem
    <dir>/password              optional: passphrase of pass.key

    <dir>/wwdr.pem | wwdr.cer   as above
    <dir>/pass.p12              certificate and key as exported from Keychain Access
    <dir>/password              optional: the .p12 password

A trailing newline in ``password`` is ignored. Having both pass.pem and pass.p12 is
refused rather than guessed. The development PKI (``ensure_dev_pki``) writes the first
form plus ``ca.pem`` (the stand-in root a verifier trusts) and an empty ``.lock``, so
``load_directory`` also reads it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from passes.errors import CertificateError
from passes.signing import PassSigner

__all__ = [
    "DevPki",
    "EXPIRY_WARNING_PERIOD",
    "PassCertificate",
    "PassPrivateKey",
    "ensure_dev_pki",
    "export_p12",
    "issue_certificate",
    "load_directory",
    "load_p12",
    "load_pem",
    "pass_certificate_subject",
]

PassPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""The key types CMS signing supports, hence the only ones worth loading."""

EXPIRY_WARNING_PERIOD = timedelta(days=30)

_WWDR_HINT = (
    "Apple's WWDR G1 expired on 2023-02-07; download the current intermediate (G4) "
    "from https://www.apple.com/certificateauthority/"
)


def _utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (certificate times are UTC)")
    return now


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _name(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def _public_der(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class PassCertificate:
    """A Pass Type ID certificate with its key and the WWDR intermediate it chains to.

    The three travel together because a signature without the intermediate does not
    verify on the phone.
    """

    certificate: x509.Certificate
    private_key: PassPrivateKey
    wwdr: x509.Certificate

    def _subject_value(self, oid: x509.ObjectIdentifier, label: str) -> str:
        values = self.certificate.subject.get_attributes_for_oid(oid)
        if not values:
            raise CertificateError(
                f"certificate {_name(self.certificate)!r} has no {label} in its subject: not a Pass Type ID certificate"
            )
        value = values[0].value
        return value.decode() if isinstance(value, bytes) else value

    @property
    def pass_type_identifier(self) -> str:
        """The subject UID; pass.json's passTypeIdentifier must equal it."""
        return self._subject_value(NameOID.USER_ID, "UID (pass type identifier)")

    @property
    def team_identifier(self) -> str:
        """The subject OU; pass.json's teamIdentifier must equal it."""
        return self._subject_value(NameOID.ORGANIZATIONAL_UNIT_NAME, "OU (team identifier)")

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @cached_property
    def _signer(self) -> PassSigner:
        return PassSigner(self.certificate, self.private_key, self.wwdr)

    def signer(self) -> PassSigner:
        """The (cached) signer; building it once keeps signing cheap."""
        return self._signer

    def expiry_warning(self, now: datetime | None = None) -> str | None:
        """Say so when the certificate or the WWDR runs out within 30 days.

        Wallet refuses new passes the moment either expires, and renewing a Pass Type ID
        certificate takes a human in the Apple Developer portal: warn early.
        """
        now = _utc_now(now)
        messages = []
        for label, cert in (("pass certificate", self.certificate), ("WWDR", self.wwdr)):
            end = cert.not_valid_after_utc
            if end <= now:
                messages.append(f"{label} {_name(cert)!r} expired on {_day(end)}")
            elif end - now < EXPIRY_WARNING_PERIOD:
                days = (end - now).days
                messages.append(
                    f"{label} {_name(cert)!r} expires in {days} day{'s' * (days != 1)} (on {_day(end)}); renew it"
                )
        return "; ".join(messages) or None

    def check(
        self,
        pass_type_identifier: str,
        team_identifier: str,
        now: datetime | None = None,
    ) -> None:
        """Refuse a certificate Wallet would refuse, listing every reason at once.

        All problems are reported together so that whoever uploads a certificate fixes
        them in one round trip.
        """
        now = _utc_now(now)
        cert, wwdr = self.certificate, self.wwdr
        problems: list[str] = []

        if _public_der(cert.public_key()) != _public_der(self.private_key.public_key()):
            problems.append("the private key does not match the certificate")

        if now < cert.not_valid_before_utc:
            problems.append(f"the pass certificate is not valid before {_day(cert.not_valid_before_utc)}")
        if now > cert.not_valid_after_utc:
            problems.append(f"the pass certificate expired on {_day(cert.not_valid_after_utc)}")

        if now > wwdr.not_valid_after_utc:
            problems.append(
                f"the WWDR intermediate {_name(wwdr)!r} expired on {_day(wwdr.not_valid_after_utc)}; {_WWDR_HINT}"
            )
        elif now < wwdr.not_valid_before_utc:
            problems.append(
                f"the WWDR intermediate {_name(wwdr)!r} is not valid before {_day(wwdr.not_valid_before_utc)}"
            )

        if cert.issuer != wwdr.subject:
            problems.append(
                f"the pass certificate was issued by {cert.issuer.rfc4514_string()!r}, "
                f"not by the given WWDR {_name(wwdr)!r}; {_WWDR_HINT}"
            )
        else:
            try:
                cert.verify_directly_issued_by(wwdr)
            except (InvalidSignature, ValueError, TypeError) as exc:
                problems.append(
                    "the pass certificate's signature does not verify with the WWDR "
                    f"{_name(wwdr)!r} ({exc or type(exc).__name__})"
                )

        for label, expected, read in (
            ("pass type identifier (UID)", pass_type_identifier, "pass_type_identifier"),
            ("team identifier (OU)", team_identifier, "team_identifier"),
        ):
            try:
                actual = getattr(self, read)
            except CertificateError as exc:
                problems.append(str(exc))
                continue
            if actual != expected:
                problems.append(f"the certificate's {label} is {actual!r}, but the pass uses {expected!r}")

        if problems:
            raise CertificateError(f"certificate {_name(cert)!r} cannot sign passes: " + "; ".join(problems))


# --------------------------------------------------------------------------- loading

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)


def _pem_blocks(data: bytes, label_suffix: bytes) -> list[bytes]:
    return [m.group(0) for m in _PEM_BLOCK.finditer(data) if m.group(1).endswith(label_suffix)]


def _certificates(data: bytes, what: str) -> list[x509.Certificate]:
    """PEM (any number of certificates, other blocks ignored) or a single DER."""
    try:
        if b"-----BEGIN" not in data:
            return [x509.load_der_x509_certificate(data)]
        blocks = _pem_blocks(data, b"CERTIFICATE")
        certificates = [x509.load_pem_x509_certificate(block) for block in blocks]
    except ValueError as exc:
        raise CertificateError(f"{what}: not a readable X.509 certificate ({exc})") from exc
    if not certificates:
        raise CertificateError(f"{what}: no certificate found in the PEM data")
    return certificates


def _checked_key(key: object, what: str) -> PassPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{what}: a {type(key).__name__} cannot sign passes (RSA or EC keys only)")
    return key


def _private_key(data: bytes, password: bytes | None, what: str) -> PassPrivateKey:
    blocks = _pem_blocks(data, b"PRIVATE KEY")
    if len(blocks) > 1:
        raise CertificateError(f"{what}: {len(blocks)} private keys found, expected one")
    if not blocks and (not data or b"-----BEGIN" in data):
        raise CertificateError(f"{what}: no private key")
    try:
        if blocks:
            key = serialization.load_pem_private_key(blocks[0], password)
        else:
            key = serialization.load_der_private_key(data, password)
    except TypeError as exc:
        # cryptography says TypeError for "encrypted but no password" and the reverse.
        if password is None:
            raise CertificateError(f"{what}: the private key is encrypted; give its password") from exc
        raise CertificateError(f"{what}: a password was given but the private key is not encrypted") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateError(f"{what}: cannot read the private key (wrong password or corrupt key: {exc})") from exc
    return _checked_key(key, what)


def _leaf(certificates: list[x509.Certificate]) -> x509.Certificate:
    """Prefer the certificate carrying a UID, so a PEM chain in any order works."""
    for certificate in certificates:
        if certificate.subject.get_attributes_for_oid(NameOID.USER_ID):
            return certificate
    return certificates[0]


def load_pem(
    cert_pem: bytes,
    key_pem: bytes | None,
    wwdr_pem: bytes,
    key_password: bytes | None = None,
) -> PassCertificate:
    """Load a certificate, its key (``key_pem``, else looked for in ``cert_pem``) and WWDR.

    The WWDR may also be DER, the form Apple distributes (AppleWWDRCAG4.cer).
    """
    certificate = _leaf(_certificates(cert_pem, "pass certificate"))
    if key_pem is not None:
        private_key = _private_key(key_pem, key_password, "private key")
    else:
        private_key = _private_key(cert_pem, key_password, "pass certificate PEM (no separate key given)")
    wwdr = _certificates(wwdr_pem, "WWDR intermediate")[0]
    return PassCertificate(certificate, private_key, wwdr)


def load_p12(p12: bytes, password: bytes | None, wwdr_pem: bytes) -> PassCertificate:
    """Load a Keychain export (.p12) plus the WWDR, which exports usually lack."""
    # Keychain writes "no password" as an empty one; OpenSSL-made files may use none.
    attempts = [password] if password else [None, b""]
    error: ValueError | None = None
    for attempt in attempts:
        try:
            key, certificate, _ = pkcs12.load_key_and_certificates(p12, attempt)
            break
        except ValueError as exc:
            error = exc
    else:
        raise CertificateError(f"cannot open the .p12: wrong password or not a PKCS#12 file ({error})") from error
    # Checked first: a certificate exported without its key is the usual mistake, and
    # then the certificate comes back among the "additional" ones rather than as `cert`.
    if key is None:
        raise CertificateError("the .p12 holds no private key: export the certificate together with its key")
    if certificate is None:
        raise CertificateError("the .p12 holds a key but no certificate")
    private_key = _checked_key(key, ".p12 private key")
    wwdr = _certificates(wwdr_pem, "WWDR intermediate")[0]
    return PassCertificate(certificate, private_key, wwdr)


def _read_optional(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def load_directory(path: str | os.PathLike[str]) -> PassCertificate:
    """Load the layout described in the module docstring."""
    directory = Path(path)
    if not directory.is_dir():
        raise CertificateError(f"{directory}: not a certificate directory")

    wwdr_files = [directory / name for name in ("wwdr.pem", "wwdr.cer") if (directory / name).is_file()]
    if len(wwdr_files) != 1:
        raise CertificateError(f"{directory}: expected exactly one of wwdr.pem / wwdr.cer, found {len(wwdr_files)}")
    wwdr = wwdr_files[0].read_bytes()

    password = _read_optional(directory / "password")
    if password is not None:
        password = password.rstrip(b"\r\n") or None

    pem, p12 = directory / "pass.pem", directory / "pass.p12"
    if pem.is_file() and p12.is_file():
        raise CertificateError(f"{directory}: both pass.pem and pass.p12 exist; keep one")
    if p12.is_file():
        return load_p12(p12.read_bytes(), password, wwdr)
    if pem.is_file():
        return load_pem(pem.read_bytes(), _read_optional(directory / "pass.key"), wwdr, password)
    raise CertificateError(f"{directory}: no pass.pem (+ pass.key) or pass.p12")


def export_p12(cert: PassCertificate, password: bytes) -> bytes:
    """Bundle certificate, key and WWDR as a password-protected .p12."""
    if not password:
        raise ValueError("export_p12 refuses to write a private key without a password")
    common_names = cert.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    friendly = str(common_names[0].value).encode() if common_names else None
    return pkcs12.serialize_key_and_certificates(
        friendly,
        cert.private_key,
        cert.certificate,
        [cert.wwdr],
        serialization.BestAvailableEncryption(password),
    )


# --------------------------------------------------------------------------- dev PKI

DEV_ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COMMON_NAME, "Passcast Dev Root CA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Passcast Dev"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
    ]
)

# Shaped like Apple's G4 intermediate so code reading it behaves the same; the
# organization (Apple's says "Apple Inc.") marks it as a stand-in. The CN cannot carry
# the mark: Apple's CN is 59 characters and X.509 allows 64.
DEV_WWDR_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COMMON_NAME, "Apple Worldwide Developer Relations Certification Authority"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "G4"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Passcast Dev stand-in, not Apple Inc."),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
    ]
)

DEV_LEAF_VALIDITY = timedelta(days=365)
DEV_CA_VALIDITY = timedelta(days=3650)
_CLOCK_SKEW = timedelta(minutes=5)


def pass_certificate_subject(pass_type_identifier: str, team_identifier: str, organization: str) -> x509.Name:
    """The subject Apple gives Pass Type ID certificates, in Apple's attribute order."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, pass_type_identifier),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_identifier}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_identifier),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )


def issue_certificate(
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    *,
    issuer: x509.Certificate | None = None,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    path_length: int | None = None,
) -> x509.Certificate:
    """The one way this project makes a certificate (dev PKI and test fixtures alike).

    ``issuer=None`` makes it self-signed. Extensions are those verifiers insist on:
    critical basic constraints and key usage, plus key identifiers for chain building.
    """
    issuer_name = issuer.subject if issuer is not None else subject
    if issuer is not None:
        try:
            ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            authority = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        except x509.ExtensionNotFound:
            authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())
    else:
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
    key_usage = x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(authority, critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _generate_dev_pki(
    pass_type_identifier: str, team_identifier: str, organization: str, now: datetime
) -> tuple[x509.Certificate, PassCertificate]:
    start = now - _CLOCK_SKEW
    root_key, wwdr_key, leaf_key = _new_key(), _new_key(), _new_key()
    root = issue_certificate(
        DEV_ROOT_NAME,
        root_key.public_key(),
        root_key,
        not_before=start,
        not_after=start + DEV_CA_VALIDITY,
        ca=True,
    )
    wwdr = issue_certificate(
        DEV_WWDR_NAME,
        wwdr_key.public_key(),
        root_key,
        issuer=root,
        not_before=start,
        not_after=start + DEV_CA_VALIDITY,
        ca=True,
        path_length=0,
    )
    leaf = issue_certificate(
        pass_certificate_subject(pass_type_identifier, team_identifier, organization),
        leaf_key.public_key(),
        wwdr_key,
        issuer=wwdr,
        not_before=start,
        not_after=start + DEV_LEAF_VALIDITY,
        ca=False,
    )
    return root, PassCertificate(leaf, leaf_key, wwdr)


@dataclass(frozen=True)
class DevPki:
    """Files of the local stand-in PKI; ``ca_file`` is what a verifier must trust."""

    ca_file: Path
    wwdr_file: Path
    cert_file: Path
    key_file: Path
    certificate: PassCertificate


def _dev_files(directory: Path) -> tuple[Path, Path, Path, Path]:
    return (
        directory / "ca.pem",
        directory / "wwdr.pem",
        directory / "pass.pem",
        directory / "pass.key",
    )


def _load_dev_pki(directory: Path, pass_type_identifier: str, team_identifier: str, organization: str) -> DevPki | None:
    """The existing dev PKI if it is complete, consistent and not about to expire."""
    ca_file, wwdr_file, cert_file, key_file = files = _dev_files(directory)
    if not all(f.is_file() for f in files):
        return None
    try:
        certificate = load_pem(cert_file.read_bytes(), key_file.read_bytes(), wwdr_file.read_bytes())
        root = _certificates(ca_file.read_bytes(), "dev root CA")[0]
        certificate.check(pass_type_identifier, team_identifier)
        certificate.wwdr.verify_directly_issued_by(root)
        organizations = certificate.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    except (CertificateError, InvalidSignature, ValueError, TypeError):
        return None
    if [o.value for o in organizations] != [organization] or certificate.expiry_warning():
        return None
    return DevPki(ca_file, wwdr_file, cert_file, key_file, certificate)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Readers never see half a file, and the key is never briefly world-readable."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temporary, path)


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """Several workers starting at once must not each write half a PKI."""
    import fcntl  # POSIX only; imported here so the rest of the module imports anywhere

    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_dev_pki(
    directory: Path,
    pass_type_identifier: str,
    team_identifier: str,
    organization: str = "Passcast Dev",
) -> DevPki:
    """Reuse the dev PKI in ``directory`` or (re)create it.

    It is regenerated whole when a file is missing or unreadable, the identifiers or
    organization changed, or anything expires within 30 days. CA keys are not kept:
    nothing but a test verifier ever trusts this CA, so reissuing everything is simpler
    than storing more private keys. Passes signed with it do not open on a real iPhone.
    """
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _directory_lock(directory):
        existing = _load_dev_pki(directory, pass_type_identifier, team_identifier, organization)
        if existing is not None:
            return existing
        root, certificate = _generate_dev_pki(pass_type_identifier, team_identifier, organization, datetime.now(UTC))
        ca_file, wwdr_file, cert_file, key_file = _dev_files(directory)
        pem = serialization.Encoding.PEM
        _write_atomically(
            key_file,
            certificate.private_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            0o600,
        )
        _write_atomically(cert_file, certificate.certificate.public_bytes(pem), 0o644)
        _write_atomically(wwdr_file, certificate.wwdr.public_bytes(pem), 0o644)
        _write_atomically(ca_file, root.public_bytes(pem), 0o644)
        return DevPki(ca_file, wwdr_file, cert_file, key_file, certificate)
