"""FCM HTTP v1 pass-update pushes through pyfcm, pointed at configurable endpoints.

For Android wallet apps whose Firebase project we hold the service account for. (The
WalletPasses app's tokens belong to WalletPasses' own Firebase project, so for that app
use the relay in relay.py instead: FCM would answer SENDER_ID_MISMATCH.)

How pyfcm 2.1.1 is pointed elsewhere without patching it:
- FCM base URL: pyfcm builds `FCM_END_POINT_BASE + "/{project}/messages:send"` and reads
  FCM_END_POINT_BASE through `self`, so our subclass sets it per instance from
  FCM_ENDPOINT.
- Token URI: pyfcm accepts a ready `credentials=` object; we build the
  google-auth service-account credentials ourselves and override the file's `token_uri`
  with GOOGLE_TOKEN_URI (`with_token_uri`). Google validates the assertion's `aud`
  against its own token endpoint, which google-auth always uses as `aud`, so nothing
  else changes.
- Retries: pyfcm's default requests adapter retries 502/503 up to 10 times with
  back-off, and its send_request sleeps for any Retry-After: both would block a job
  worker for minutes. We pass `adapter=HTTPAdapter(max_retries=0)` (a pyfcm constructor
  argument) and override `send_request` to make one attempt (plus pyfcm's own single
  retry on ACCESS_TOKEN_EXPIRED), returning 429/5xx as "retry" results with the
  vendor's Retry-After instead.
- Access token: pyfcm refreshes credentials on every per-thread session set-up; our
  `_get_access_token` reuses the token while it is valid and refreshes under a lock, so
  a thread pool does one OAuth exchange, not one per thread.

The message is data-only (no `notification` block: the app decides what to show, as
Wallet does with changeMessage) with Android priority "high" by default so a dozing
phone still fetches the update promptly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.oauth2 import service_account
from pyfcm import FCMNotification
from requests.adapters import HTTPAdapter

from service.push.results import PushResult, backoff_delay, retry_after_or_backoff

DEFAULT_FCM_ENDPOINT = "https://fcm.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

#: FCM v1 error codes (google.firebase.fcm.v1.FcmError.errorCode) meaning "token is dead".
_DEAD_TOKEN_CODES = {"UNREGISTERED"}
#: ... meaning "not ours to push": the token belongs to another Firebase project (an app with
#: its own relay); 403, status PERMISSION_DENIED. Retrying through our project never helps.
_FOREIGN_TOKEN_CODES = {"SENDER_ID_MISMATCH"}


class _ConfigurableFCM(FCMNotification):
    """pyfcm's client with our endpoint, shared access token and single-attempt sends."""

    def __init__(
        self,
        credentials: service_account.Credentials,
        *,
        endpoint: str,
        project_id: str | None,
    ) -> None:
        super().__init__(
            credentials=credentials,
            project_id=project_id,
            adapter=HTTPAdapter(max_retries=0),
        )
        self.FCM_END_POINT_BASE = endpoint.rstrip("/") + "/v1/projects"
        self._token_lock = threading.Lock()

    def _get_access_token(self) -> str:
        with self._token_lock:
            if not self.credentials.valid:
                self.credentials.refresh(google.auth.transport.requests.Request())
            return str(self.credentials.token)

    def force_token_refresh(self) -> None:
        with self._token_lock:
            self.credentials.refresh(google.auth.transport.requests.Request())
        self.thread_local.token_expiry = 0  # re-apply the header on this thread's session

    def send_request(self, payload: Any = None, timeout: Any = None) -> requests.Response:
        response = self.requests_session.post(self.fcm_end_point, data=payload, timeout=timeout)
        if self._is_access_token_expired(response):
            self.force_token_refresh()
            response = self.requests_session.post(self.fcm_end_point, data=payload, timeout=timeout)
        return response


def _error_details(response: requests.Response) -> tuple[str | None, str | None]:
    """(FCM errorCode, canonical status) from a v1 error body, when present."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return None, None
    if not isinstance(error, dict):
        return None, None
    code = reason = None
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            code = str(detail["errorCode"])
        elif isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            reason = str(detail["reason"]) if detail.get("reason") else None
    code = code or reason  # FcmError's errorCode; some answers carry it only as ErrorInfo's reason
    status = error.get("status")
    return code, str(status) if status else None


def map_response(token: str, response: requests.Response, attempt: int = 0) -> PushResult:
    """Map one FCM v1 answer to a PushResult."""
    status = response.status_code
    if status == 200:
        try:
            name = response.json().get("name")
        except ValueError:
            name = None
        return PushResult(token, "accepted", http_status=200, vendor_id=name)
    code, canonical = _error_details(response)
    reason = code or canonical or str(status)
    if status == 404 or code in _DEAD_TOKEN_CODES:
        return PushResult(token, "unregistered", http_status=status, reason=reason)
    if code in _FOREIGN_TOKEN_CODES:
        return PushResult(token, "unreachable", http_status=status, reason=reason)
    if status == 429 or status >= 500:  # QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL
        retry_after = retry_after_or_backoff(
            response.headers.get("Retry-After"), attempt, base=30 if status == 429 else 5
        )
        return PushResult(token, "retry", http_status=status, reason=reason, retry_after=retry_after)
    # 400 INVALID_ARGUMENT, 401 THIRD_PARTY_AUTH_ERROR, 403 without SENDER_ID_MISMATCH (IAM).
    return PushResult(token, "failed", http_status=status, reason=reason)


class FcmSender:
    """Sends pass-update data messages to FCM tokens; one PushResult per token.

    service_account_file: the Google service-account JSON (its project_id is the FCM
    project unless project_id is given). endpoint: FCM_ENDPOINT. token_uri:
    GOOGLE_TOKEN_URI. max_workers: parallel HTTP/1.1 requests (FCM v1 has no batch call).
    """

    def __init__(
        self,
        service_account_file: str | Path,
        *,
        endpoint: str = DEFAULT_FCM_ENDPOINT,
        token_uri: str = DEFAULT_TOKEN_URI,
        project_id: str | None = None,
        max_workers: int = 16,
        timeout: float = 10.0,
        android_priority: str = "high",
    ) -> None:
        info = json.loads(Path(service_account_file).read_text())
        credentials = service_account.Credentials.from_service_account_info(info, scopes=[FCM_SCOPE]).with_token_uri(
            token_uri
        )
        self.project_id = project_id or info.get("project_id")
        self._fcm = _ConfigurableFCM(credentials, endpoint=endpoint, project_id=self.project_id)
        self._timeout = timeout
        self._android = {"priority": android_priority}
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fcm-sender")

    @property
    def messages_url(self) -> str:
        return str(self._fcm.fcm_end_point)

    def message_for(self, token: str, pass_type_identifier: str, data: Mapping[str, str] | None = None) -> bytes:
        """The v1 request body: data-only, so no notification is drawn by the OS."""
        payload = dict(data) if data else {"passTypeIdentifier": pass_type_identifier}
        return self._fcm.parse_payload(fcm_token=token, data_payload=payload, android_config=self._android)

    def send(
        self,
        token: str,
        pass_type_identifier: str,
        *,
        attempt: int = 0,
        data: Mapping[str, str] | None = None,
    ) -> PushResult:
        """Push one token. Never raises for per-token outcomes."""
        body = self.message_for(token, pass_type_identifier, data)
        try:
            response = self._fcm.send_request(body, self._timeout)
        except google.auth.exceptions.GoogleAuthError as exc:
            retryable = bool(getattr(exc, "retryable", False)) or isinstance(exc, google.auth.exceptions.TransportError)
            if retryable:
                return PushResult(token, "retry", reason=f"OAuth: {exc}", retry_after=backoff_delay(attempt))
            return PushResult(token, "failed", reason=f"OAuth: {exc}")
        except requests.RequestException as exc:
            return PushResult(
                token,
                "retry",
                reason=f"{type(exc).__name__}: {exc}",
                retry_after=backoff_delay(attempt, base=2.0),
            )
        return map_response(token, response, attempt)

    def send_batch(
        self,
        tokens: Sequence[str],
        pass_type_identifier: str,
        *,
        attempt: int = 0,
        data: Mapping[str, str] | None = None,
    ) -> list[PushResult]:
        """Push every token in parallel; results in token order."""
        return list(
            self._pool.map(
                lambda token: self.send(token, pass_type_identifier, attempt=attempt, data=data),
                tokens,
            )
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> FcmSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
