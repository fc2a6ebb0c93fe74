"""An HTTP SMS gateway on loopback: POST /sms with JSON {"to", "from", "text"} and a bearer
token; records what it accepted and answers the next programmed status (default 202)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.doubles.threaded import ThreadedServer


class SmsGatewayDouble(ThreadedServer):
    thread_name = "sms-gateway"

    def __init__(self, token: str = "sms-test-token") -> None:
        self.token = token
        self.statuses: list[int] = []  # answered in order; 202 once exhausted
        self._lock = threading.Lock()
        self._sent: list[dict[str, Any]] = []
        self._bind("127.0.0.1", 0, self._handler_class())

    @property
    def url(self) -> str:
        return self.base_url + "/sms"

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._sent)

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self.statuses.clear()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gateway._lock:
                    status = gateway.statuses.pop(0) if gateway.statuses else 202
                    if self.headers.get("Authorization") != f"Bearer {gateway.token}" or self.path != "/sms":
                        status = 401
                    if status < 300:
                        gateway._sent.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler
