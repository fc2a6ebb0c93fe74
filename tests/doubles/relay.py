"""A loopback Android wallet-app push relay: records POSTs, answers as programmed.

One double per app (`app=`: walletpasses, walletunion, pass2u, passworks), each checking the
request shape its vendor documents (service/push/wallet_apps.py): path, JSON content type,
the body (passTypeIdentifier + pushTokens, WalletUnion's `hms` flag, Pass2U's
registrationIds with the pass type in the path) and the raw API key in the vendor's header
when one is configured. It answers 400/401/404 when that is wrong, like a real relay would,
so a malformed client cannot pass its tests, and WalletUnion's 413 over 50 FCM / 1000 HMS
tokens per request.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.doubles.threaded import ThreadedServer

PUSH_PATH = "/api/v1/push"
#: app -> (path pattern, API key header, body kind)
APPS: dict[str, tuple[str, str, str]] = {
    "walletpasses": (PUSH_PATH, "authorization", "pushTokens"),
    "walletunion": (PUSH_PATH, "authorization", "pushTokens+hms"),
    "pass2u": ("/v2/registrations/{passTypeIdentifier}/push", "x-api-key", "registrationIds"),
    "passworks": ("/v1/pushUpdate", "authorization", "pushTokens"),
}


@dataclass(frozen=True, slots=True)
class RelayRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    status: int


@dataclass
class RelayAnswer:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class RelayDouble(ThreadedServer):
    thread_name = "relay-double"

    """See the module docstring. `answer` applies to every request until changed;
    `expired_tokens` are reported back WalletUnion-style when they appear in a request."""

    def __init__(self, *, api_key: str | None = None, app: str = "walletpasses", host: str = "127.0.0.1",
                 port: int = 0):
        self.api_key = api_key
        self.app = app
        self.path_template, self.key_header, self.body_kind = APPS[app]
        self._path = re.compile("^" + re.escape(self.path_template).replace(
            re.escape("{passTypeIdentifier}"), "(?P<type>[^/]+)") + "$")
        self.answer = RelayAnswer()
        self.expired_tokens: set[str] = set()
        self.unknown_tokens: set[str] = set()
        self._lock = threading.Lock()
        self._requests: list[RelayRequest] = []
        self._bind(host, port, self._handler_class())

    @property
    def url(self) -> str:
        """The push URL to configure (Pass2U's with `{passTypeIdentifier}` still in it)."""
        return self.base_url + self.path_template

    def tokens(self, request: RelayRequest) -> list[str]:
        return list(request.json["registrationIds" if self.body_kind == "registrationIds" else "pushTokens"])

    @property
    def requests(self) -> list[RelayRequest]:
        with self._lock:
            return list(self._requests)

    def respond_with(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.answer = RelayAnswer(status, {} if body is None else body, headers or {})

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        parsed: Any = None
        if self._path.match(path) is None:
            status, answer, extra = 404, {"error": "not found"}, {}
        elif self.api_key is not None and headers.get(self.key_header) != self.api_key:
            status, answer, extra = 401, {"error": "invalid API key"}, {}
        else:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if not headers.get("content-type", "").startswith("application/json") or not _valid(parsed, self.body_kind):
                status, answer, extra = 400, {"error": f"expected the {self.app} relay body"}, {}
            elif self.body_kind == "pushTokens+hms" and len(parsed["pushTokens"]) > (
                    1000 if parsed.get("hms") else 50):
                kind, most = ("HMS", 1000) if parsed.get("hms") else ("FCM", 50)
                status, answer, extra = 413, {"error": f"Too many {kind} pushTokens, max={most}"}, {}
            else:
                status, answer, extra = self.answer.status, self.answer.body, self.answer.headers
                sent = parsed["registrationIds" if self.body_kind == "registrationIds" else "pushTokens"]
                expired = [t for t in sent if t in self.expired_tokens]
                unknown = [t for t in sent if t in self.unknown_tokens]
                if status == 200 and (expired or unknown):
                    answer = {"status": "ERROR", "unknown_push_tokens": unknown, "expired_push_tokens": expired}
        with self._lock:
            self._requests.append(RelayRequest(path, headers, body, parsed, status))
        return status, answer, extra

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, extra = double._handle(self.path, headers, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(t, str) for t in value)


def _valid(body: Any, kind: str) -> bool:
    if not isinstance(body, dict):
        return False
    if kind == "registrationIds":
        return _strings(body.get("registrationIds"))
    if kind == "pushTokens+hms" and not isinstance(body.get("hms", False), bool):
        return False
    return isinstance(body.get("passTypeIdentifier"), str) and _strings(body.get("pushTokens"))
