"""Which sender reaches a device: APNs for iPhones, FCM, or the relay of the Android app that registered.

Every sender has `send_batch(tokens, topic) -> list[PushResult]` in token order and keeps
its connection between batches; senders are created once per worker process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.apple import signing
from service.models import SigningCertificate
from service.platform.config import Settings
from service.push.apns import ApnsCredentials, ApnsSender, CertificateCredentials, TokenCredentials
from service.push.fcm import FcmSender
from service.push.relay import RelaySender
from service.push.results import PushResult
from service.push.wallet_apps import APPS, WALLETPASSES


class Sender(Protocol):
    def send_batch(self, tokens: list[str], topic: str) -> list[PushResult]: ...


class Unreachable(LookupError):
    """No sender can reach these tokens until the operator configures one (e.g. PASS2U_PUSH_URL).

    Not a failure of the vendor: the tokens are marked unreachable with this reason, and
    never sent through another vendor (our FCM project would answer SENDER_ID_MISMATCH)."""


#: How the reasons of `Unreachable` read (relay_sender): a push marked unreachable with one of
#: them never left this server, so a report must not count it as sent.
NOT_CONFIGURED_SUFFIX = " is not configured"
UNKNOWN_APP_PREFIX = "unknown wallet app "


def never_sent(status: str, reason: str | None) -> bool:
    """Whether a push delivery of this status and reason was refused here, before any vendor was
    asked (no relay configured for its app, or an app we do not know)."""
    return status == "unreachable" and reason is not None and (
        reason.endswith(NOT_CONFIGURED_SUFFIX) or reason.startswith(UNKNOWN_APP_PREFIX))


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


#: How long a worker keeps the APNs sender it chose for a pass type before it looks at the
#: certificates again: a certificate stored or renewed meanwhile is used from then on.
RECHECK_SECONDS = 60.0
_chosen: dict[tuple[object, ...], tuple[float, Sender]] = {}


def apns_sender(session: Session, settings: Settings, topic: str) -> Sender:
    """APNs for `topic`: token auth (APNS_AUTH_KEY_FILE, APNS_KEY_ID, APNS_TEAM_ID) when the
    pass type belongs to that team, else mutual TLS with the Pass Type ID certificate,
    which always works.

    Which sender that is is remembered for RECHECK_SECONDS per database and pass type: a till's
    purchase queues one push, and a job per push asked for the certificate row (all its PEM
    columns, through the ORM) every time, a third of that job's Python (issue 18)."""
    key = (session.get_bind(), topic, settings.instance_dir, settings.apns_endpoint, settings.apns_ca_file,
           settings.apns_auth_key_file, settings.apns_key_id, settings.apns_team_id)
    now = time.monotonic()
    known = _chosen.get(key)
    if known is not None and now - known[0] < RECHECK_SECONDS and not getattr(known[1], "closed", False):
        return known[1]
    sender = _choose_apns_sender(session, settings, topic)
    with _lock:
        if len(_chosen) > 64:  # engines of finished test apps, settings of the past
            _chosen.clear()
        _chosen[key] = (now, sender)
    return sender


def forget_chosen_senders() -> None:
    """Look at the certificates again on the next push (tests; after storing a certificate)."""
    with _lock:
        _chosen.clear()


def _choose_apns_sender(session: Session, settings: Settings, topic: str) -> Sender:
    row = session.scalar(
        select(SigningCertificate).where(SigningCertificate.pass_type_identifier == topic)
        .order_by(SigningCertificate.not_after.desc()).limit(1))
    if row is None:
        raise LookupError(f"no certificate for pass type {topic}: cannot authenticate to APNs")
    credentials: ApnsCredentials
    if settings.apns_auth_key_file and settings.apns_key_id and settings.apns_team_id == row.team_identifier:
        credentials = TokenCredentials(settings.apns_auth_key_file, settings.apns_key_id, settings.apns_team_id)
    else:
        password = signing.key_password(row.private_key_pem)  # the file keeps the key as stored
        credentials = CertificateCredentials(str(_apns_credential_file(settings, row)),
                                             password=password.decode() if password else None)
    return ApnsSender.shared(credentials, endpoint=settings.apns_endpoint, ca_file=settings.apns_ca_file)


_shared: dict[tuple[object, ...], Sender] = {}


def _once(key: tuple[object, ...], make: Callable[[], Sender]) -> Sender:
    """One sender per process and configuration: each keeps its connection pool."""
    with _lock:
        sender = _shared.get(key)
        if sender is None:
            sender = _shared[key] = make()
        return sender


def fcm_sender(settings: Settings) -> Sender:
    """FCM HTTP v1 (pyfcm) with the service account of FCM_SERVICE_ACCOUNT_FILE, else the
    dev service account the demo generates (which only the test double accepts)."""
    account = settings.fcm_service_account_file or str(settings.certs_dir / "dev" / "google-service-account.json")
    if not Path(account).exists():
        raise LookupError("no FCM service account: set FCM_SERVICE_ACCOUNT_FILE")
    return _once(("fcm", os.getpid(), account, settings.fcm_endpoint, settings.google_token_uri),
                 lambda: FcmSender(account, endpoint=settings.fcm_endpoint, token_uri=settings.google_token_uri))


def relay_sender(settings: Settings, client_app: str | None = None) -> Sender:
    """The relay of the app that registered (None: WalletPasses, as every relay row before 0005)."""
    app = APPS.get(client_app or WALLETPASSES)
    if app is None:
        raise Unreachable(f"{UNKNOWN_APP_PREFIX}{client_app}")
    url = getattr(settings, app.url_setting.lower())
    key = getattr(settings, app.key_setting.lower())
    if not url:
        raise Unreachable(f"{app.url_setting}{NOT_CONFIGURED_SUFFIX}")
    return _once(("relay", os.getpid(), app.name, url, key),
                 lambda: RelaySender(url, api_key=key, app=app))


def sender_for(session: Session, settings: Settings, client_kind: str, topic: str,
               client_app: str | None = None) -> Sender:
    if client_kind == "apple":
        return apns_sender(session, settings, topic)
    if client_kind == "fcm":
        return fcm_sender(settings)
    if client_kind == "relay":
        return relay_sender(settings, client_app)
    raise LookupError(f"unknown client kind {client_kind}")
