"""Apple's PassKit web service (also spoken by Android .pkpass apps), under /passkit/v1.

Status codes are exactly Apple's: register 201/200/401, updatable passes 200/204, latest
pass 200/304/401, unregister 200/401, log 200. Authorization is checked before anything
about a pass is revealed, and an unknown serial costs the same as a wrong token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager
from werkzeug.http import http_date

from passes.errors import PassValidationError
from passes.personalization import offers_personalization, personalization_token_bytes
from service.apple import lean_paths, pass_files, signing, updates
from service.apple.downloads import filename_for, pass_filename, pkpass_response
from service.loyalty.cards import touch
from service.models import (
    Card,
    Customer,
    DeviceLog,
    PassFile,
    PassPersonalization,
    Program,
    PushDelivery,
    Registration,
    utcnow,
)
from service.platform import db
from service.push import wallet_apps
from service.web import rate_limits
from service.web.problems import Problem
from service.webhooks import events as webhooks

bp = Blueprint("passkit", __name__, url_prefix="/passkit/v1")

_DUMMY_TOKEN = "x" * 32
_ONE_SECOND = dt.timedelta(seconds=1)
_HEX_TOKEN = re.compile(r"^[0-9a-fA-F]{64,200}$")


def _authorization() -> tuple[str, str] | None:
    return parse_authorization(request.headers.get("Authorization", ""))


def parse_authorization(header: str) -> tuple[str, str] | None:
    """(scheme in lower case, token) for `ApplePass <token>` (iOS, Pass2U, Passworks),
    `AndroidPass` (WalletPasses), `WalletUnionPass` / `WalletUnionHMSPass` (WalletUnion).

    Schemes are case-insensitive (RFC 9110 section 11.1): `applepass` is ApplePass."""
    scheme, _, token = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in wallet_apps.SCHEMES or not token.strip():
        return None
    return scheme, token.strip()


def _authorized_card(session: Session, pass_type_identifier: str, serial_number: str) -> Card | None:
    """The card if the caller's token is its token; None for any other case, in equal time."""
    auth = _authorization()
    card = session.scalar(select(Card).join(Card.program).options(contains_eager(Card.program))
                          .where(Card.serial_number == serial_number,
                                 Program.pass_type_identifier == pass_type_identifier))
    expected = card.authentication_token if card is not None else _DUMMY_TOKEN
    given = auth[1] if auth else ""
    if not hmac.compare_digest(given.encode(), expected.encode()) or card is None:
        return None
    g.auth_scheme = auth[0] if auth else None
    return card


def _unauthorized() -> Response:
    return Response(status=401)


def _registration(session: Session, device_id: str, card: Card) -> Registration | None:
    return session.scalar(select(Registration).where(
        Registration.device_library_identifier == device_id, Registration.card_id == card.id))


def client_route(scheme: str, push_token: str, pass_client: str | None = None) -> tuple[str, str | None]:
    """(client_kind, client_app): which push service reaches this device.

    An app with its own relay says so by its scheme (AndroidPass, WalletUnion[HMS]Pass) or by
    X-Pass-Client with ApplePass (Pass2U "Passes", Passworks "Passworks"): ("relay", app).
    Otherwise iOS tokens are hex ("apple"); a non-hex token is an FCM token we try through
    our own project ("fcm"); if FCM answers SENDER_ID_MISMATCH it is marked unreachable.
    """
    app = wallet_apps.app_for(scheme.lower(), pass_client)
    if app is not None:
        return "relay", app
    if _HEX_TOKEN.match(push_token):
        return "apple", None
    return "fcm", None


@bp.post("/devices/<device_id>/registrations/<pass_type_identifier>/<serial_number>")
def register(device_id: str, pass_type_identifier: str, serial_number: str) -> Response:
    session = db.session()
    card = _authorized_card(session, pass_type_identifier, serial_number)
    if card is None:
        return _unauthorized()
    body = request.get_json(silent=True)
    push_token = body.get("pushToken") if isinstance(body, dict) else None
    if not isinstance(push_token, str) or not push_token.strip() or len(push_token) > 512:
        return Response("pushToken is required", status=400, mimetype="text/plain")
    kind, app = client_route(g.auth_scheme, push_token.strip(), request.headers.get("X-Pass-Client"))
    registration = _registration(session, device_id, card)
    now = utcnow()
    if registration is None:
        session.add(Registration(device_library_identifier=device_id, card_id=card.id,
                                 pass_type_identifier=pass_type_identifier, push_token=push_token.strip(),
                                 client_kind=kind, client_app=app, active=True, created_at=now, updated_at=now))
        webhooks.emit(session, card.brand_id, "card.installed", webhooks.card_data(card, wallet="apple", client=kind))
        status = 201
    else:
        # A known device re-registering may bring a new token: the old one is stale (pitfall 9).
        registration.push_token, registration.client_kind, registration.client_app = push_token.strip(), kind, app
        registration.active, registration.dead_reason, registration.updated_at = True, None, now
        status = 200
    # Only this pass's registration: the caller proved it holds this pass, nothing more. The
    # device's other passes (other brands' too) re-register themselves with their own tokens.
    session.commit()
    return Response(status=status)


@bp.get("/devices/<device_id>/registrations/<pass_type_identifier>")
def updatable_passes(device_id: str, pass_type_identifier: str) -> Response:
    """One SELECT of four columns on the autocommit engine: no Session, no ORM (issue 18).
    Most phones are answered below Flask with the same bytes (service/apple/lean_wsgi.py)."""
    body = updatable_body(device_id, pass_type_identifier, request.args.get("passesUpdatedSince"))
    if body is None:
        return Response(status=204)
    return Response(body, mimetype="application/json")


def updatable_body(device_id: str, pass_type_identifier: str, tag: str | None,
                   engine: Engine | None = None) -> bytes | None:
    """The JSON of the updatable-passes answer, or None for a 204 (nothing changed since `tag`).

    The bytes Flask's `jsonify` made (compact, keys in this order, a final newline)."""
    since = updates.parse_tag(tag)
    rows = lean_paths.updatable_rows(device_id, pass_type_identifier, since.watermark, engine=engine)
    changed = [row for row in rows if (row.id, row.version) not in since.reported]
    if not changed:
        return None
    tag = updates.next_tag(since, [(row.id, row.version, row.updated_at) for row in rows])
    return _compact_json({"serialNumbers": sorted(row.serial_number for row in changed), "lastUpdated": tag})


def _compact_json(value: Any) -> bytes:
    return (json.dumps(value, separators=(",", ":")) + "\n").encode()


#: `fetch_outcome` says: sign the current version first (through the Session and the ORM).
SIGN = 0


def fetch_outcome(pass_type_identifier: str, serial_number: str, since: dt.datetime | None, authorization: str,
                  engine: Engine | None = None) -> tuple[int, lean_paths.PassRow | None]:
    """What a fetch answers, from one SELECT (and the confirming UPDATE when a push waits):
    (401, None), (304, row), (200, row) with the .pkpass in row.data (put together from the stored
    parts), or (SIGN, row).

    Authorization is compared in equal time whether or not the serial exists."""
    # 304 exactly when updated_at, cut to whole seconds as Last-Modified is, is not after `since`.
    fresh_from = since + _ONE_SECOND if since is not None else lean_paths.EVERYTHING
    row = lean_paths.pass_row(pass_type_identifier, serial_number, fresh_from, engine=engine)
    auth = parse_authorization(authorization)
    expected = row.authentication_token if row is not None else _DUMMY_TOKEN
    given = auth[1] if auth else ""
    if not hmac.compare_digest(given.encode(), expected.encode()) or row is None:
        return 401, None
    if since is not None and row.updated_at.replace(microsecond=0) <= since:
        # No write here: the phone already holds this version, confirmed when it fetched it.
        return 304, row
    if row.data is None or row.stored_version != row.version:
        return SIGN, row
    data = pass_files.stored_archive(row.resources, row.data)
    if data is None:  # this process has not built the pass's resource set yet: the ORM path does
        return SIGN, row
    if row.unconfirmed:
        lean_paths.confirm(row.id, row.version, engine=engine)
    return 200, row._replace(data=data)


#: environ key: the outcome the lean WSGI path already read for a fetch it hands to Flask (SIGN).
LEAN_OUTCOME = "passcast.passkit_fetch_outcome"


@bp.route("/passes/<pass_type_identifier>/<serial_number>", methods=["GET", "HEAD"])
def latest_pass(pass_type_identifier: str, serial_number: str) -> Response:
    """The phone's fetch after a push: one SELECT (service/apple/lean_paths.py) when the
    signed bytes of the current version are stored, plus the confirming UPDATE only when a
    push still waits for it; the Session and the ORM only when the pass must be signed.
    GETs are mostly answered below Flask with the same bytes (service/apple/lean_wsgi.py)."""
    status, row = request.environ.pop(LEAN_OUTCOME, None) or fetch_outcome(
        pass_type_identifier, serial_number, request.if_modified_since, request.headers.get("Authorization", ""))
    if status == 401 or row is None:
        return _unauthorized()
    if status == 304:
        return _not_modified(row.updated_at)
    if status == SIGN:
        return _sign_and_serve(pass_type_identifier, serial_number)
    return pkpass_response(row.data, row.last_modified, filename_for(row.program_name))


def _sign_and_serve(pass_type_identifier: str, serial_number: str) -> Response:
    """The first fetch of a new version: sign it, store it, confirm, in one transaction (also
    the first fetch in this process of a pass whose resource set it has not built yet)."""
    session = db.session()
    card = _authorized_card(session, pass_type_identifier, serial_number)
    if card is None:  # the token changed since the lean read: Apple's answer is the same
        return _unauthorized()
    stored = pass_files.served(session, card, current_app.config["PASSCAST"].web_service_url)
    _confirm(session, card)
    if session.get_bind().dialect.name == "postgresql":
        # Losing the last few confirmations in a database crash is harmless; waiting for a
        # WAL flush on each of a million pass downloads is not.
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    session.commit()
    return pkpass_response(stored.data, stored.last_modified, pass_filename(card))


class _NotModified(Response):
    """Werkzeug drops Last-Modified from every 304; Wallet keys its cache on it (pitfall 5)."""

    def get_wsgi_headers(self, environ: Any) -> Any:
        headers = super().get_wsgi_headers(environ)
        if self.last_modified is not None:
            headers["Last-Modified"] = http_date(self.last_modified)
        return headers


def _not_modified(updated_at: dt.datetime) -> Response:
    response = _NotModified(status=304)
    response.last_modified = updated_at
    return response


def _confirm(session: Session, card: Card) -> None:
    """The phone now holds this version: pushes that announced it (or older) are confirmed."""
    table = PushDelivery.__table__
    session.connection().execute(  # Core: a plain UPDATE, no ORM bulk-update layer
        update(table)
        .where(table.c.card_id == card.id, table.c.card_version <= card.version,
               table.c.status.in_(lean_paths.UNCONFIRMED))
        .values(status="confirmed", confirmed_at=utcnow()))


def _offered_for_personalization(session: Session, card: Card) -> bool:
    """Wallet offers rewards enrollment only for a pass carrying personalization.json, once.

    The pass we serve decides it; none we build today carries that file (Apple allows it
    only on NFC-enabled passes), so for now no card is offered and the endpoint is a 404.
    """
    stored = session.get(PassFile, card.id)
    data = pass_files.archive(stored, card) if stored is not None else None
    if data is None or not offers_personalization(data):
        return False
    return session.get(PassPersonalization, card.id) is None


def _clean(value: object, limit: int) -> str | None:
    """A trimmed, length-bounded text field of requiredPersonalizationInfo, or None."""
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value[:limit] if value else None


def _fill_holder(customer: Customer, info: dict[str, Any]) -> None:
    """What the sign-up form brought, only where the holder has nothing yet: enrollment
    completes an anonymous pass, it never replaces what a shop or the customer recorded."""
    name = _clean(info.get("fullName"), 200) or _clean(" ".join(
        part for part in (info.get("givenName"), info.get("familyName")) if isinstance(part, str)), 200)
    if name and not customer.name.strip():
        customer.name = name
    email = _clean(info.get("emailAddress"), 320)
    if email and "@" in email and customer.email is None:
        customer.email = email.lower()
    phone = _clean(info.get("phoneNumber"), 32)
    if phone and customer.phone is None:
        customer.phone = phone


@bp.post("/passes/<pass_type_identifier>/<serial_number>/personalize")
def personalize(pass_type_identifier: str, serial_number: str) -> Response:
    """Rewards enrollment from Wallet: keep what the customer entered, sign the token.

    Apple sends no Authorization here, and the answer is a signature with the pass key in
    the very form of a pass signature; so it is given only for a card offered for
    personalization, once per card, and only over a token that cannot be a manifest.
    Anything else is a 404, the same for an unknown serial as for a card not offered.
    """
    session = db.session()
    card = session.scalar(select(Card).join(Program).where(
        Card.serial_number == serial_number, Program.pass_type_identifier == pass_type_identifier))
    if card is None or not _offered_for_personalization(session, card):
        return Response(status=404)
    body: Any = request.get_json(silent=True)
    token = body.get("personalizationToken") if isinstance(body, dict) else None
    info = body.get("requiredPersonalizationInfo") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        raise Problem(400, "Invalid personalization", "requiredPersonalizationInfo is required")
    try:
        token_bytes = personalization_token_bytes(token)
    except PassValidationError as exc:
        raise Problem(400, "Invalid personalization", str(exc)) from None
    try:
        with session.begin_nested():  # the unique card_id: one enrollment per card, race or not
            session.add(PassPersonalization(card_id=card.id, token_sha256=hashlib.sha256(token_bytes).hexdigest(),
                                            client_address=(request.remote_addr or "")[:64] or None))
    except IntegrityError:  # a concurrent request enrolled this card first
        return Response(status=404)
    _fill_holder(card.customer, info)
    touch(card)  # the personalised pass replaces the personalizable one on the next fetch
    signature = signing.signer_for(card.program).sign_personalization_token(token)
    session.commit()
    return Response(signature, status=200, mimetype="application/octet-stream")


@bp.delete("/devices/<device_id>/registrations/<pass_type_identifier>/<serial_number>")
def unregister(device_id: str, pass_type_identifier: str, serial_number: str) -> Response:
    session = db.session()
    card = _authorized_card(session, pass_type_identifier, serial_number)
    if card is None:
        return _unauthorized()
    registration = _registration(session, device_id, card)
    if registration is not None:
        session.delete(registration)
        webhooks.emit(session, card.brand_id, "card.uninstalled",
                      webhooks.card_data(card, wallet="apple", client=registration.client_kind))
    session.commit()
    return Response(status=200)


_SERIAL_IN_LOG = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_LOG_ENTRIES = 20  # kept of one request; Wallet sends a few lines at a time
MAX_LOG_ENTRY_LENGTH = 1000  # characters kept of each entry; Wallet's lines are one sentence
CARD_MENTION_LIMIT = "20/hour"  # unverified entries filed as naming one card


@bp.post("/log")
def log() -> Response:
    """Wallet's complaints about our passes, kept with where they came from.

    Apple's log call carries no credential, so a line naming a serial is only a claim: it is
    stored as mentioning that card (`mentioned_card_id`, never `card_id`), with the client
    address and user agent, and bounded per request, per address and per mentioned card.
    """
    body: Any = request.get_json(silent=True)
    lines = body.get("logs") if isinstance(body, dict) else None
    if not isinstance(lines, list):
        return Response(status=200)
    wanted = [line for line in lines[:MAX_LOG_ENTRIES] if isinstance(line, str) and line.strip()]
    address = (request.remote_addr or "")[:64]
    verdict = rate_limits.spend(current_app.config["PASSCAST"].passkit_log_rate_limit, "passkit-log", address,
                                len(wanted)) if wanted else None
    kept = len(wanted) if verdict is not None and verdict.allowed else 0
    messages = [line[:MAX_LOG_ENTRY_LENGTH] for line in wanted[:kept]]
    if len(messages) < len(lines):
        current_app.logger.info("wallet log from %s: kept %d of %d entries", address, len(messages), len(lines))
    if not messages:
        return Response(status=200)
    session = db.session()
    serials = {serial for message in messages for serial in _SERIAL_IN_LOG.findall(message)}
    cards = dict(session.execute(select(Card.serial_number, Card.id).where(Card.serial_number.in_(serials))).all()) \
        if serials else {}
    user_agent = request.headers.get("User-Agent", "")[:200] or None
    for message in messages:
        found = _SERIAL_IN_LOG.search(message)
        mentioned = cards.get(found.group(0)) if found else None
        if mentioned is not None and not rate_limits.spend(CARD_MENTION_LIMIT, "passkit-log-card",
                                                         str(mentioned)).allowed:
            mentioned = None  # kept, but no longer filed under a card someone is flooding
        session.add(DeviceLog(card_id=None, mentioned_card_id=mentioned, message=message,
                              client_address=address or None, user_agent=user_agent))
        current_app.logger.info("wallet log from %s: %r", address, message)
    session.commit()
    return Response(status=200)
