"""A small client for the Google Wallet REST API (walletobjects/v1), loyalty resources only.

Authentication is google-auth's service-account credentials (scope wallet_object.issuer)
with the token endpoint taken from configuration (GOOGLE_TOKEN_URI) rather than from the
key file, and requests go through google-auth's `AuthorizedSession`, which fetches and
refreshes the access token. Every call has a timeout: the client runs in jobs and, once
per card, in the request that hands out the first save link; Google being slow must never
hang either.

Google answers errors as {"error": {"code", "message", "status", "errors": [{"reason"}]}};
they are mapped to `NotFound` (404), `AlreadyExists` (409), `QuotaExceeded` (429),
`Unavailable` (5xx, network, token endpoint down) and `GoogleWalletError` for the rest.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import google.auth.exceptions
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from passes.google import SCOPE, check_id


class GoogleWalletError(Exception):
    def __init__(self, status: int, reason: str | None, message: str) -> None:
        self.status, self.reason, self.message = status, reason, message
        super().__init__(f"Google Wallet {status} {reason or ''}: {message}".replace("  ", " "))


class NotFound(GoogleWalletError):
    pass


class AlreadyExists(GoogleWalletError):
    pass


class QuotaExceeded(GoogleWalletError):
    pass


class Unavailable(GoogleWalletError):
    pass


_ERRORS: dict[int, type[GoogleWalletError]] = {404: NotFound, 409: AlreadyExists, 429: QuotaExceeded}


class WalletClient:
    """insert / get / patch for loyaltyClass and loyaltyObject, and addMessage on objects."""

    def __init__(self, service_account_info: dict[str, Any], *, api_base: str, token_uri: str,
                 timeout: float = 5.0) -> None:
        credentials = service_account.Credentials.from_service_account_info(
            service_account_info, scopes=[SCOPE]).with_token_uri(token_uri)
        self.service_account_info = service_account_info
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self._credentials = credentials  # one access token for every thread
        # requests sessions are not documented as thread-safe: one per thread, so that the
        # worker's threads call Google side by side instead of queueing behind one lock.
        self._local = threading.local()
        self._sessions: list[AuthorizedSession] = []
        self._sessions_lock = threading.Lock()

    def _session(self) -> AuthorizedSession:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = AuthorizedSession(self._credentials, refresh_timeout=self.timeout)
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    # resources -------------------------------------------------------------------------

    def insert_class(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/loyaltyClass", body)

    def get_class(self, class_id: str) -> dict[str, Any]:
        return self._call("GET", f"/loyaltyClass/{_quoted(class_id)}")

    def patch_class(self, class_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", f"/loyaltyClass/{_quoted(class_id)}", body)

    def insert_object(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/loyaltyObject", body)

    def get_object(self, object_id: str) -> dict[str, Any]:
        return self._call("GET", f"/loyaltyObject/{_quoted(object_id)}")

    def patch_object(self, object_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", f"/loyaltyObject/{_quoted(object_id)}", body)

    def add_message(self, object_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """POST .../loyaltyObject/{id}/addMessage with {"message": {header, body, id, messageType}}."""
        return self._call("POST", f"/loyaltyObject/{_quoted(object_id)}/addMessage", {"message": message})

    # transport -------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._session().request(method, self.api_base + path, json=body, timeout=self.timeout)
        except google.auth.exceptions.RefreshError as exc:  # the token endpoint refused our key
            if getattr(exc, "retryable", False):
                raise Unavailable(0, "RefreshError", str(exc)) from exc
            raise GoogleWalletError(401, "RefreshError", str(exc)) from exc
        except (requests.RequestException, google.auth.exceptions.GoogleAuthError) as exc:
            raise Unavailable(0, type(exc).__name__, str(exc)) from exc
        if response.status_code < 300:
            return response.json() if response.content else {}
        status, reason, message = _error_of(response)
        if status >= 500:
            raise Unavailable(status, reason, message)
        raise _ERRORS.get(status, GoogleWalletError)(status, reason, message)


def _quoted(resource_id: str) -> str:
    return urllib.parse.quote(check_id(resource_id), safe="")


def _error_of(response: requests.Response) -> tuple[int, str | None, str]:
    try:
        error = response.json()["error"]
        reasons = [item.get("reason") for item in error.get("errors") or [] if item.get("reason")]
        return response.status_code, (reasons[0] if reasons else error.get("status")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return response.status_code, None, response.text[:200]


_clients: dict[tuple[str, str, str, float], WalletClient] = {}
_clients_lock = threading.Lock()


def client_for(service_account_file: str | Path, api_base: str, token_uri: str, timeout: float) -> WalletClient:
    """One client (and so one access token) per key file and endpoints in this process."""
    key = (str(service_account_file), api_base, token_uri, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            info = json.loads(Path(service_account_file).read_text())
            client = _clients[key] = WalletClient(info, api_base=api_base, token_uri=token_uri, timeout=timeout)
        return client
