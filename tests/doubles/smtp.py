"""An SMTP server on loopback (aiosmtpd): records each accepted message, or refuses the next
ones with a temporary failure (451) when told to, as a busy mail server would. With `tls`
(certificate, key) and `login` it behaves like a submission server: STARTTLS first, then AUTH
with that user and password, before any mail is taken."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import time
from email.message import Message
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class SmtpDouble:
    def __init__(self, tls: tuple[str, str] | None = None, login: tuple[str, str] | None = None) -> None:
        self.refuse = 0  # the next `refuse` messages get 451
        self.login = login
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._envelopes: list[tuple[str, list[str]]] = []
        with socket.socket() as probe:  # aiosmtpd checks it is up by connecting to the port it was given
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        options: dict[str, Any] = {}
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            options.update(tls_context=context, require_starttls=True)
        if login is not None:
            options.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=tls is not None)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)

    def _authenticate(self, _server: Any, _session: Any, _envelope: Any, _mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self.login is not None
              and (auth_data.login.decode(), auth_data.password.decode()) == self.login)
        return AuthResult(success=ok)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self._lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 try again later"
            self._messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
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
