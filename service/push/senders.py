"""Which sender reaches a device: APNs for iPhones, FCM or the WalletPasses relay for Android.

Every sender has `send_batch(tokens, topic) -> list[PushResult]` in token order and keeps
its connection between batches; senders are created once per worker process.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.models import SigningCertificate
from service.push.apns import ApnsSender, CertificateCredentials
from service.push.results import PushResult


class Sender(Protocol):
    def send_batch(self, tokens: list[str], topic: str) -> list[PushResult]: ...


_lock = threading.Lock()


def _apns_credential_file(settings: Settings, row: SigningCertificate) -> Path:
    """httpx/ssl load client certificates from files: write cert, WWDR and key once, owner-only.

    The WWDR intermediate goes along so that the server can build the chain to its root.
    """
    directory = settings.instance_dir / "apns"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"certificate-{row.id}.pem"
    with _lock:
        if not path.exists():
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(row.certificate_pem + b"\n" + row.wwdr_pem + b"\n" + row.private_key_pem)
            os.replace(temporary, path)
    return path


def apns_sender(session: Session, settings: Settings, topic: str) -> Sender:
    """APNs with the Pass Type ID certificate of `topic` (mutual TLS works for any team)."""
    row = session.scalar(
        select(SigningCertificate).where(SigningCertificate.pass_type_identifier == topic)
        .order_by(SigningCertificate.not_after.desc()).limit(1))
    if row is None:
        raise LookupError(f"no certificate for pass type {topic}: cannot authenticate to APNs")
    credentials = CertificateCredentials(str(_apns_credential_file(settings, row)))
    return ApnsSender.shared(credentials, endpoint=settings.apns_endpoint, ca_file=settings.apns_ca_file)


def sender_for(session: Session, settings: Settings, client_kind: str, topic: str) -> Sender:
    if client_kind == "apple":
        return apns_sender(session, settings, topic)
    raise LookupError(f"no sender for {client_kind} devices yet")
