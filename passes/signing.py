"""Detached PKCS#7 signatures for manifest.json and personalization tokens.

Wallet only accepts a pass whose ``signature`` is a DER CMS SignedData over the exact
bytes of manifest.json, with SHA-256, a signingTime attribute, and both the Pass Type ID
certificate and Apple's WWDR intermediate embedded (the phone has the Apple root but not
the intermediate). The personalize endpoint answers with the same kind of signature over
the personalization token, so one signer serves both.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from passes.errors import CertificateError
from passes.personalization import personalization_token_bytes

__all__ = ["PassSigner", "SIGNING_OPTIONS"]

# DetachedSignature: Wallet reads manifest.json from the zip, not from the signature.
# Binary: the manifest must be hashed byte for byte, never MIME-canonicalised (CRLF).
# NoCapabilities: S/MIME capabilities mean nothing to Wallet; leaving them out keeps the
# signed attributes to contentType, signingTime and messageDigest.
SIGNING_OPTIONS: tuple[pkcs7.PKCS7Options, ...] = (
    pkcs7.PKCS7Options.DetachedSignature,
    pkcs7.PKCS7Options.Binary,
    pkcs7.PKCS7Options.NoCapabilities,
)


class PassSigner:
    """Signs bytes with a Pass Type ID certificate; safe to share between threads.

    Everything that does not depend on the data is validated and prepared once here,
    because the signer sits on the hot path of pass generation.
    """

    __slots__ = ("_signer_builder", "_options", "certificate", "wwdr")

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: pkcs7.PKCS7PrivateKeyTypes,
        wwdr: x509.Certificate,
    ) -> None:
        try:
            # add_signer embeds the signer certificate itself.
            self._signer_builder = pkcs7.PKCS7SignatureBuilder().add_signer(certificate, private_key, hashes.SHA256())
            # Validated now so that sign() cannot fail on it later.
            pkcs7.PKCS7SignatureBuilder().add_certificate(wwdr)
        except TypeError as exc:
            raise CertificateError(f"cannot sign with this certificate/key: {exc}") from exc
        self.certificate = certificate
        self.wwdr = wwdr
        self._options = list(SIGNING_OPTIONS)

    def sign(self, data: bytes) -> bytes:
        """Return a detached DER SignedData over ``data``.

        The WWDR is added *after* ``set_data`` on purpose: in cryptography 50
        ``PKCS7SignatureBuilder.set_data`` returns a builder that keeps the signers but
        silently drops certificates added with ``add_certificate`` before it, which would
        ship passes without the intermediate ("signature did not verify" on the phone).
        """
        builder = self._signer_builder.set_data(data).add_certificate(self.wwdr)
        return builder.sign(Encoding.DER, self._options)

    def sign_personalization_token(self, token: object) -> bytes:
        """The personalize endpoint's answer: a signature over a token that can never be a manifest.

        The signature has the very form of a pass signature, so signing caller-chosen JSON
        would forge passes; ``personalization_token_bytes`` refuses anything but a token.
        """
        return self.sign(personalization_token_bytes(token))
