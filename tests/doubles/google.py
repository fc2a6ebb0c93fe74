"""A loopback Google: the OAuth token endpoint and the Wallet REST API's loyalty resources.

POST /token: the service-account JWT-bearer grant, the assertion RS256-verified with the
service account's public key (iss = client_email, aud = Google's token URI or this one, scope
wallet_object.issuer); answers an access token the API paths then require.

/walletobjects/v1/loyaltyClass[/{id}] and /loyaltyObject[/{id}[/addMessage]] as Google
answers them: every body (insert, patch, update, addMessage) is checked against Google's own
discovery document (tests/doubles/wallet_schema.py), an unknown field, wrong type or enum
value being 400 INVALID_ARGUMENT with Google's message; ids must be `<issuerId>.<suffix>`
of the configured issuer (400 / 403), insert of an existing id is 409, get/patch/addMessage
of a missing one is 404, an object needs its class (404), and addMessage with messageType
TEXT_AND_NOTIFY is refused with 429 QuotaExceeded on the 4th notifying message to one object
within 24 h (the double's clock can be moved with `advance`). Every request is recorded for assertions. `hold` keeps the
next PATCH waiting, so that tests can make two syncs of one card overlap.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization

from tests.doubles import wallet_schema
from tests.doubles.threaded import ThreadedServer

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
API_PREFIX = "/walletobjects/v1"
ID = re.compile(r"^(\d+)\.[\w.-]+$")
_PATH = re.compile(r"^/walletobjects/v1/(loyaltyClass|loyaltyObject)(?:/([^/]+))?(/addMessage)?$")
NOTIFY_LIMIT = 3
DAY = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class WalletRequest:
    method: str
    path: str
    resource_id: str | None
    body: Any
    status: int


class GoogleWalletDouble(ThreadedServer):
    thread_name = "google-wallet-double"

    def __init__(self, service_account_file: str | Path, issuer_id: str, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        info = json.loads(Path(service_account_file).read_text())
        self.public_key = serialization.load_pem_private_key(info["private_key"].encode(), None).public_key()
        self.client_email: str = info["client_email"]
        self.issuer_id = issuer_id
        self.classes: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self.notified_at: dict[str, list[float]] = {}
        self.fail_next: list[int] = []  # statuses to answer on the next API calls (e.g. 503)
        # Set `hold` to an Event: the next PATCH waits (in its own server thread) until it is
        # set, after setting `held`; a slow Google, to make two syncs of one card overlap.
        self.hold: threading.Event | None = None
        self.held = threading.Event()
        self._offset = 0.0
        self._issued: set[str] = set()
        self._lock = threading.Lock()
        self._requests: list[WalletRequest] = []
        self.token_requests: list[dict[str, Any] | None] = []
        self._bind(host, port, self._handler_class())

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    @property
    def requests(self) -> list[WalletRequest]:
        with self._lock:
            return list(self._requests)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def _now(self) -> float:
        return time.time() + self._offset

    # protocol ------------------------------------------------------------------------------

    def _token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != JWT_BEARER_GRANT:
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = jwt.decode(form.get("assertion", ""), self.public_key,  # type: ignore[arg-type]
                                algorithms=["RS256"], audience=[GOOGLE_TOKEN_URI, self.token_uri],
                                issuer=self.client_email, options={"require": ["iss", "aud", "iat", "exp"]})
        except jwt.PyJWTError as exc:
            with self._lock:
                self.token_requests.append(None)
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        with self._lock:
            self.token_requests.append(claims)
        if WALLET_SCOPE not in str(claims.get("scope", "")).split():
            return 400, {"error": "invalid_scope", "error_description": "wallet_object.issuer scope missing"}
        token = "ya29.wallet-" + secrets.token_urlsafe(24)
        with self._lock:
            self._issued.add(token)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _api(self, method: str, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        match = _PATH.match(urllib.parse.urlsplit(path).path)
        if match is None:
            return 404, _error(404, "notFound", "Unknown path")
        kind, raw_id, add_message = match.groups()
        resource_id = urllib.parse.unquote(raw_id) if raw_id else None
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            authorised = scheme.lower() == "bearer" and token in self._issued
        if not authorised:
            return 401, _error(401, "authError", "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return 400, _error(400, "parseError", "Invalid JSON payload")
        if method == "PATCH":
            with self._lock:
                gate, self.hold = self.hold, None
            if gate is not None:
                self.held.set()
                gate.wait(30)
        with self._lock:
            if self.fail_next:
                status = self.fail_next.pop(0)
                answer = (status, _error(status, "backendError", "injected failure"))
            else:
                answer = self._handle(method, kind, resource_id, bool(add_message), payload)
            self._requests.append(WalletRequest(method, path, resource_id, payload, answer[0]))
        return answer

    def _check_id(self, value: Any) -> tuple[int, dict[str, Any]] | None:
        match = ID.match(value) if isinstance(value, str) else None
        if match is None:
            return 400, _error(400, "invalidResource", f"Invalid resource id {value!r}: expected <issuerId>.<suffix>")
        if match.group(1) != self.issuer_id:
            return 403, _error(403, "permissionDenied", f"The caller does not have access to issuer {match.group(1)}")
        return None

    def _handle(self, method: str, kind: str, resource_id: str | None, add_message: bool,
                payload: Any) -> tuple[int, dict[str, Any]]:
        store = self.classes if kind == "loyaltyClass" else self.objects
        if payload is not None:
            schema, field = ("AddMessageRequest", "add_message_request") if add_message else (
                "LoyaltyClass" if kind == "loyaltyClass" else "LoyaltyObject", "resource")
            if errors := wallet_schema.problems(schema, payload, field=field):
                return 400, wallet_schema.bad_request(errors)
        if resource_id is None:
            if method != "POST" or not isinstance(payload, dict):
                return 400, _error(400, "invalid", "POST a resource")
            new_id = payload.get("id")
            if (problem := self._check_id(new_id)) is not None:
                return problem
            if new_id in store:
                return 409, _error(409, "duplicate", f"Resource already exists: {new_id}", "ALREADY_EXISTS")
            if kind == "loyaltyObject":
                if (problem := self._check_id(payload.get("classId"))) is not None:
                    return problem
                if payload["classId"] not in self.classes:
                    return 404, _error(404, "classNotFound", f"Class not found: {payload['classId']}", "NOT_FOUND")
                if payload.get("barcode", {}).get("type") not in (None, "QR_CODE", "PDF_417", "AZTEC", "CODE_128"):
                    return 400, _error(400, "invalidResource", "Unknown barcode type")
            if len(payload.get("merchantLocations") or []) > 10:
                return 400, _error(400, "invalidResource", "At most 10 merchantLocations")
            store[new_id] = copy.deepcopy(payload)
            return 200, copy.deepcopy(payload)
        if (problem := self._check_id(resource_id)) is not None:
            return problem
        if resource_id not in store:
            return 404, _error(404, "resourceNotFound", f"Resource not found: {resource_id}", "NOT_FOUND")
        if add_message:
            if method != "POST" or kind != "loyaltyObject" or not isinstance(payload, dict):
                return 400, _error(400, "invalid", "POST {message: {...}}")
            message = payload.get("message") or {}
            if message.get("id") and any(m.get("id") == message["id"] for m in store[resource_id].get("messages", [])):
                return 409, _error(409, "duplicate", f"Message already exists: {message['id']}", "ALREADY_EXISTS")
            if message.get("messageType") == "TEXT_AND_NOTIFY":
                now = self._now()
                recent = [t for t in self.notified_at.get(resource_id, []) if t > now - DAY]
                if len(recent) >= NOTIFY_LIMIT:
                    return 429, _error(429, "QuotaExceeded",
                                       "Exceeded the limit of 3 notifying messages per pass in 24 hours",
                                       "RESOURCE_EXHAUSTED")
                self.notified_at[resource_id] = [*recent, now]
            store[resource_id].setdefault("messages", []).append(message)
            return 200, {"resource": copy.deepcopy(store[resource_id])}
        if method == "GET":
            return 200, copy.deepcopy(store[resource_id])
        if method in ("PATCH", "PUT") and isinstance(payload, dict):
            if payload.get("id", resource_id) != resource_id:
                return 400, _error(400, "invalidResource", "id does not match the path")
            if len(payload.get("merchantLocations") or []) > 10:
                return 400, _error(400, "invalidResource", "At most 10 merchantLocations")
            if method == "PUT":
                store[resource_id] = copy.deepcopy(payload)
            else:
                store[resource_id].update(copy.deepcopy(payload))
            return 200, copy.deepcopy(store[resource_id])
        return 400, _error(400, "invalid", f"{method} not supported here")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if method == "POST" and self.path == "/token":
                    status, answer = double._token(body)
                else:
                    status, answer = double._api(method, self.path, self.headers.get("Authorization", ""), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._answer("PATCH")

            def do_PUT(self) -> None:  # noqa: N802
                self._answer("PUT")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


def _error(code: int, reason: str, message: str, status: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message,
                      "errors": [{"domain": "global", "reason": reason, "message": message}],
                      "status": status or {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED"}.get(code, "UNKNOWN")}}
