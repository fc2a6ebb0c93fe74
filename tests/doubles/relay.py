"""A loopback WalletPasses-style push relay: records POSTs, answers as programmed.

It checks the request shape the relay documents (POST, JSON content type, an object
with a string passTypeIdentifier and a list of string pushTokens, and the raw API key in
Authorization when one is configured) and answers 400/401 when that is wrong, like a
real relay would, so a malformed client cannot pass its tests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.doubles.threaded import ThreadedServer

PUSH_PATH = "/api/v1/push"


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

    def __init__(self, *, api_key: str | None = None, host: str = "127.0.0.1", port: int = 0):
        self.api_key = api_key
        self.answer = RelayAnswer()
        self.expired_tokens: set[str] = set()
        self._lock = threading.Lock()
        self._requests: list[RelayRequest] = []
        self._bind(host, port, self._handler_class())

    @property
    def url(self) -> str:
        return self.base_url + PUSH_PATH

    @property
    def requests(self) -> list[RelayRequest]:
        with self._lock:
            return list(self._requests)

    def respond_with(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.answer = RelayAnswer(status, {} if body is None else body, headers or {})

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        parsed: Any = None
        if path != PUSH_PATH:
            status, answer, extra = 404, {"error": "not found"}, {}
        elif self.api_key is not None and headers.get("authorization") != self.api_key:
            status, answer, extra = 401, {"error": "invalid API key"}, {}
        else:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if not headers.get("content-type", "").startswith("application/json") or not _valid(parsed):
                status, answer, extra = 400, {"error": "expected passTypeIdentifier and pushTokens"}, {}
            else:
                status, answer, extra = self.answer.status, self.answer.body, self.answer.headers
                expired = [t for t in parsed["pushTokens"] if t in self.expired_tokens]
                if status == 200 and expired:
                    answer = {"status": "ERROR", "unknown_push_tokens": [], "expired_push_tokens": expired}
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


def _valid(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("passTypeIdentifier"), str)
        and isinstance(body.get("pushTokens"), list)
        and all(isinstance(t, str) for t in body["pushTokens"])
    )
