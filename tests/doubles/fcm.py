"""A loopback Google OAuth token endpoint + FCM HTTP v1 send endpoint.

POST /token: the service-account JWT-bearer grant (RFC 7523) exactly as Google takes it:
form-encoded `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`,
the assertion RS256-signed by the service account's key, iss = client_email, aud =
Google's token endpoint (google-auth always puts that there) or this endpoint, a scope.
It answers {"access_token", "expires_in", "token_type"}.

POST /v1/projects/{project}/messages:send: requires `Authorization: Bearer <issued
token>`, records the message and answers per token from a programmable table with FCM
v1's real shapes: 200 {"name": "projects/p/messages/<id>"}, 404 UNREGISTERED, 400
INVALID_ARGUMENT, 429 QUOTA_EXCEEDED, 503 UNAVAILABLE (the last two with Retry-After).
A token of another Firebase project (`foreign_token`: Pass2U's, Passworks', WalletUnion's)
gets what FCM documents for it: 403, status PERMISSION_DENIED, "SenderId mismatch", details
[{"@type": ".../google.firebase.fcm.v1.FcmError", "errorCode": "SENDER_ID_MISMATCH"}]
(https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode), and is not delivered.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.doubles.threaded import ThreadedServer

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")

#: kind -> (HTTP status, canonical status, FcmError errorCode, Retry-After)
ANSWERS: dict[str, tuple[int, str | None, str | None, str | None]] = {
    "ok": (200, None, None, None),
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED", None),
    "invalid": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", None),
    "sender_mismatch": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", None),
    # the same refusal as some users report it: the code only in a google.rpc.ErrorInfo `reason`
    "sender_mismatch_info": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", None),
    "quota": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "17"),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE", "3"),
}


def make_service_account(
    directory: Path,
    *,
    project_id: str = "passcast-test",
    client_email: str = "pusher@passcast-test.iam.gserviceaccount.com",
    token_uri: str = GOOGLE_TOKEN_URI,
) -> Path:
    """Write a Google-format service-account JSON with a fresh RSA key; returns its path.

    token_uri defaults to Google's real endpoint on purpose: the sender must take the
    endpoint from configuration (GOOGLE_TOKEN_URI), not from the file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": client_email,
        "client_id": "1" + "".join(str(secrets.randbelow(10)) for _ in range(20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    path = directory / f"{project_id}-service-account.json"
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)
    return path


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    project: str
    token: str | None
    message: dict[str, Any]
    validate_only: bool
    authorization: str
    status: int


@dataclass(frozen=True, slots=True)
class TokenRequest:
    grant_type: str | None
    claims: dict[str, Any] | None
    status: int


class FcmDouble(ThreadedServer):
    thread_name = "fcm-double"

    """The loopback OAuth + FCM server. See the module docstring."""

    def __init__(self, service_account_file: str | Path, *, host: str = "127.0.0.1", port: int = 0):
        info = json.loads(Path(service_account_file).read_text())
        private_key = serialization.load_pem_private_key(info["private_key"].encode(), None)
        self.public_key = private_key.public_key()
        self.client_email: str = info["client_email"]
        self.project_id: str = info["project_id"]
        self.answers: dict[str, str] = {}
        self.token_projects: dict[str, str] = {}  # token -> the Firebase project that issued it
        self.default_answer = "ok"
        self.token_lifetime = 3600
        self._issued: set[str] = set()
        self._expired: set[str] = set()
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._token_requests: list[TokenRequest] = []
        self._bind(host, port, self._handler_class())

    # configuration and inspection ----------------------------------------------------------

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    def set_answer(self, token: str, kind: str) -> None:
        if kind not in ANSWERS:
            raise ValueError(f"unknown answer {kind!r}; choose from {sorted(ANSWERS)}")
        self.answers[token] = kind

    def foreign_token(self, token: str, project: str = "pass2u-wallet") -> str:
        """A token issued by another Firebase project: sending it here is SENDER_ID_MISMATCH."""
        self.token_projects[token] = project
        return token

    def expire_access_tokens(self) -> None:
        """Expire every issued access token: FCM then answers 401 ACCESS_TOKEN_EXPIRED."""
        with self._lock:
            self._expired |= self._issued
            self._issued.clear()

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def token_requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._token_requests)

    # running ------------------------------------------------------------------------------

    # protocol -----------------------------------------------------------------------------

    def _token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        grant_type = form.get("grant_type")
        claims: dict[str, Any] | None = None
        status, answer = 400, {"error": "invalid_grant", "error_description": "Invalid JWT"}
        if grant_type != JWT_BEARER_GRANT:
            answer = {"error": "unsupported_grant_type", "error_description": str(grant_type)}
        else:
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self.public_key,  # type: ignore[arg-type]
                    algorithms=["RS256"],
                    audience=[GOOGLE_TOKEN_URI, self.token_uri],
                    issuer=self.client_email,
                    options={"require": ["iss", "aud", "iat", "exp"]},
                )
            except jwt.PyJWTError as exc:
                answer = {"error": "invalid_grant", "error_description": str(exc)}
            else:
                if FCM_SCOPE not in str(claims.get("scope", "")).split():
                    answer = {"error": "invalid_scope", "error_description": "scope missing"}
                else:
                    access_token = "ya29.test-" + secrets.token_urlsafe(24)
                    with self._lock:
                        self._issued.add(access_token)
                    status = 200
                    answer = {
                        "access_token": access_token,
                        "expires_in": self.token_lifetime,
                        "token_type": "Bearer",
                    }
        with self._lock:
            self._token_requests.append(TokenRequest(grant_type, claims, status))
        return status, answer

    def _send(self, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        match = _SEND_PATH.match(path)
        if match is None:
            return 404, _error(404, "NOT_FOUND", None, "Unknown path"), {}
        project = match.group(1)
        scheme, _, access_token = authorization.partition(" ")
        bearer = scheme.lower() == "bearer"
        with self._lock:
            authorised = bearer and access_token in self._issued
            expired = bearer and access_token in self._expired
        if not authorised:
            answer = _error(401, "UNAUTHENTICATED", None, "Request had invalid authentication credentials.")
            if expired:  # what Google says for a token past its lifetime
                answer["error"]["details"] = [
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_EXPIRED"}
                ]
            return 401, answer, {}
        if project != self.project_id:
            return 403, _error(403, "PERMISSION_DENIED", None, "Permission denied on project"), {}
        try:
            request = json.loads(body)
            message = request["message"]
            assert isinstance(message, dict)
        except (ValueError, KeyError, AssertionError):
            return 400, _error(400, "INVALID_ARGUMENT", None, "Invalid JSON payload"), {}
        token = message.get("token")
        kind = self.answers.get(token, self.default_answer) if isinstance(token, str) else "invalid"
        if isinstance(token, str) and self.token_projects.get(token, project) != project:
            kind = "sender_mismatch"  # whatever else was programmed: not this project's token
        status, canonical, code, retry_after = ANSWERS[kind]
        with self._lock:
            self._messages.append(
                ReceivedMessage(
                    project=project,
                    token=token if isinstance(token, str) else None,
                    message=message,
                    validate_only=bool(request.get("validate_only")),
                    authorization=authorization,
                    status=status,
                )
            )
        if status == 200:
            return 200, {"name": f"projects/{project}/messages/{secrets.randbelow(10**16)}"}, {}
        headers = {"Retry-After": retry_after} if retry_after else {}
        message_text = "SenderId mismatch" if kind.startswith("sender_mismatch") else f"answer {kind}"
        answer = _error(status, canonical, code, message_text)
        if kind == "sender_mismatch_info":
            answer["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code,
                                           "domain": "googleapis.com"}]
        return status, answer, headers

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as requests' session expects

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                extra: dict[str, str] = {}
                if self.path == "/token":
                    status, answer = double._token(body)
                else:
                    status, answer, extra = double._send(self.path, self.headers.get("Authorization", ""), body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep test output clean

        return Handler


def _error(status: int, canonical: str | None, code: str | None, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": canonical}
    if code is not None:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
    return {"error": error}
