"""Throwaway PKI for the protocol doubles: a test CA, a loopback server certificate, a
pass-type client certificate and an APNs token-signing key, all written to a directory.

Everything is generated fresh (EC P-256, fast) so no secret ever lives in the repository,
and the certificates carry the extensions a strict verifier expects (SAN, key usage,
EKU, key identifiers), so the TLS that the tests exercise is the TLS production runs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_TOPIC = "pass.test.passcast.loyalty"
DEFAULT_TEAM_ID = "PCTESTTEAM"
DEFAULT_KEY_ID = "PCKEY00001"


@dataclass(frozen=True)
class Pki:
    """Paths (PEM files) and identifiers of one generated test PKI."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    token_key: Path  # APNs auth key, PKCS#8 PEM like Apple's AuthKey_<kid>.p8
    token_public_key: Path
    topic: str
    team_id: str
    key_id: str


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _validity() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(hours=1), now + dt.timedelta(days=2)


def make_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed root that may sign leaf certificates."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    not_before, not_after = _validity()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    *,
    server: bool,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    not_before, not_after = _validity()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def make_client_cert(
    directory: Path,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    topic: str,
    team_id: str,
    stem: str = "client",
) -> tuple[Path, Path]:
    """A client certificate shaped like a Pass Type ID certificate: UID = topic, OU = team."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, topic),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {topic}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Passcast Tests"),
        ]
    )
    cert, key = _leaf(ca_cert, ca_key, subject, server=False)
    return (
        _write_cert(cert, directory / f"{stem}.pem"),
        _write_key(key, directory / f"{stem}.key"),
    )


def make_untrusted_client_cert(directory: Path, *, topic: str = DEFAULT_TOPIC) -> tuple[Path, Path]:
    """A pass-type client certificate from a CA the doubles do not trust."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = make_ca("Passcast Rogue CA")
    return make_client_cert(directory, ca_cert, ca_key, topic=topic, team_id=DEFAULT_TEAM_ID, stem="rogue-client")


def make_pki(
    directory: Path,
    *,
    topic: str = DEFAULT_TOPIC,
    team_id: str = DEFAULT_TEAM_ID,
    key_id: str = DEFAULT_KEY_ID,
) -> Pki:
    """Generate the whole test PKI under `directory` (created if missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = make_ca("Passcast Test Root CA")
    server_cert, server_key = _leaf(
        ca_cert,
        ca_key,
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
        server=True,
    )
    client_cert_path, client_key_path = make_client_cert(directory, ca_cert, ca_key, topic=topic, team_id=team_id)
    token_key = _key()
    token_public = directory / "apns-token-public.pem"
    token_public.write_bytes(
        token_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return Pki(
        directory=directory,
        ca_cert=_write_cert(ca_cert, directory / "ca.pem"),
        ca_key=_write_key(ca_key, directory / "ca.key"),
        server_cert=_write_cert(server_cert, directory / "server.pem"),
        server_key=_write_key(server_key, directory / "server.key"),
        client_cert=client_cert_path,
        client_key=client_key_path,
        token_key=_write_key(token_key, directory / f"AuthKey_{key_id}.p8"),
        token_public_key=token_public,
        topic=topic,
        team_id=team_id,
        key_id=key_id,
    )


def write_dev_pass_pki(directory: Path, pass_type_identifier: str, team_identifier: str, *,
                       valid_from: dt.datetime, valid_until: dt.datetime, organization: str = "Passcast Dev") -> None:
    """The dev pass PKI's files, as `passes.certificates.ensure_dev_pki` writes them, but valid over
    a chosen window: tests that travel to fixed moments (tests/conftest.py: awkward_moment) sign
    passes and open TLS with certificates that are valid both then and today."""
    from passes.certificates import DEV_ROOT_NAME, DEV_WWDR_NAME, issue_certificate, pass_certificate_subject

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]
    root_key, wwdr_key, leaf_key = keys
    window = {"not_before": valid_from, "not_after": valid_until}
    root = issue_certificate(DEV_ROOT_NAME, root_key.public_key(), root_key, ca=True, **window)
    wwdr = issue_certificate(DEV_WWDR_NAME, wwdr_key.public_key(), root_key, issuer=root, ca=True, path_length=0,
                             **window)
    leaf = issue_certificate(pass_certificate_subject(pass_type_identifier, team_identifier, organization),
                             leaf_key.public_key(), wwdr_key, issuer=wwdr, ca=False, **window)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    (directory / "pass.key").write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()))
    for name, certificate in (("pass.pem", leaf), ("wwdr.pem", wwdr), ("ca.pem", root)):
        (directory / name).write_bytes(certificate.public_bytes(pem))
