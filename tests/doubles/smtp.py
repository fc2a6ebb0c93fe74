"""An SMTP server on loopback (aiosmtpd): records each accepted message, or refuses the next
ones with a temporary failure (451) when told to, as a busy mail server would."""

from __future__ import annotations

import email
import socket
import threading
import time
from email.message import Message
from typing import Any, Self

from aiosmtpd.controller import Controller


class SmtpDouble:
    def __init__(self) -> None:
        self.refuse = 0  # the next `refuse` messages get 451
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._envelopes: list[tuple[str, list[str]]] = []
        with socket.socket() as probe:  # aiosmtpd checks it is up by connecting to the port it was given
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self._lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 try again later"
            self._messages.append(email.message_from_bytes(envelope.content))
            self._envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        with self._lock:
            return list(self._envelopes)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._envelopes.clear()
            self.refuse = 0

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.02)
        raise AssertionError(f"expected {count} e-mails, got {len(self.messages)}")

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()
