"""Errors raised by the pass library.

Every error says *where* (a dotted path into pass.json, a file name, a certificate) and
*which rule* was broken, because a pass that Wallet silently rejects is far more
expensive to debug than a loud error at build time.
"""


class PassError(ValueError):
    """Base class for everything the pass library refuses."""


class PassValidationError(PassError):
    """A pass (or a piece of one) breaks one of Apple's or Google's rules."""

    def __init__(self, path: str, rule: str) -> None:
        self.path = path
        self.rule = rule
        super().__init__(f"{path}: {rule}")


class CertificateError(PassError):
    """A signing certificate cannot be used: expired, wrong identifiers, key missing."""


class CardCodeError(PassError):
    """A scanned card code is malformed, forged, altered or belongs to another brand."""
