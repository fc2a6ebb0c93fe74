"""APNs provider for Wallet pass-update pushes, over one long-lived HTTP/2 connection.

What a pass-update push is (Apple, "Adding a Web Service to Update Passes"): a POST to
`/3/device/<push token>` with `apns-topic: <passTypeIdentifier>` and "an empty JSON
dictionary for the payload", authenticated with the pass type's certificate (or, same
team only, an ES256 provider token). Apple adds: "A push notification for a pass update
works only in the production environment", so the default endpoint is production and
the sandbox constant exists only for completeness.

Headers we deliberately do NOT send by default (configurable, see AsyncApnsClient):
- `apns-push-type`: Apple's Wallet documentation specifies none for passes, and none of
  the documented values fits: `background` is defined for app bundle topics, demands
  priority 5 and a content-available payload; `alert` means a user-visible alert, which
  Wallet ignores (only a changed field with changeMessage shows text). Apple lists the
  header as required only on watchOS and "recommended" elsewhere, and pass pushes work
  without it, so omitting it is the accurate choice.
- `apns-priority`: when omitted APNs uses 10 (deliver immediately), which is what a
  balance change should get; 5 lets the device batch and delay it.
- `apns-expiration`: omitted, so APNs stores the push per its default policy and delivers
  it when the device comes back online (it keeps only the latest one per topic anyway).

Concurrency: one HTTP/2 connection per credential (service.push.h2conn, a lean client on
asyncio + `h2`), many streams in flight on it, up to the server's MAX_CONCURRENT_STREAMS
(with token auth APNs allows a single stream until the first request with a valid token,
then raises it). `max_in_flight` (default 100) bounds the pushes send_many issues at once.
httpx/httpcore was replaced here because its per-request CPU (about 2.5 ms on the 2-vCPU
development VM) capped one worker process at a few hundred pushes per second.
"""

from __future__ import annotations

import asyncio
import http
import json
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import certifi
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.push.h2conn import H2Client, H2Error
from service.push.results import PushResult, backoff_delay, retry_after_or_backoff

if TYPE_CHECKING:
    import httpx

DEFAULT_ENDPOINT = "https://api.push.apple.com"
#: Pass-update pushes only work in production; kept for app-style pushes and experiments.
SANDBOX_ENDPOINT = "https://api.sandbox.push.apple.com"
#: Wallet's pass-update payload: exactly the empty dictionary.
PASS_UPDATE_PAYLOAD = b"{}"
#: Apple: refresh the provider token no more than once per 20 min, no less than once per 60.
TOKEN_REFRESH_SECONDS = 40 * 60
_MIN_REFRESH, _MAX_REFRESH = 20 * 60, 60 * 60

_HEX_TOKEN = re.compile(r"[0-9A-Fa-f]+")
# TLS failures that no retry will fix (our certificate refused, theirs untrusted).
_TLS_REJECTIONS = (
    "CERTIFICATE_VERIFY_FAILED",
    "UNKNOWN_CA",
    "BAD_CERTIFICATE",
    "CERTIFICATE_REQUIRED",
    "CERTIFICATE_REVOKED",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_UNKNOWN",
    "UNSUPPORTED_CERTIFICATE",
    "ACCESS_DENIED",
    "HANDSHAKE_FAILURE",
)


@dataclass(frozen=True)
class CertificateCredentials:
    """Mutual TLS with the Pass Type ID certificate (works for any pass type it signs).

    key_file may be None when cert_file holds both the certificate and its key.
    """

    cert_file: str
    key_file: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TokenCredentials:
    """Token auth: an APNs auth key (.p8, ES256) of the team owning the pass types."""

    key_file: str
    key_id: str
    team_id: str


ApnsCredentials = CertificateCredentials | TokenCredentials


class ProviderToken:
    """The ES256 provider JWT, minted once and reused until it is `refresh_after` old.

    APNs answers TooManyProviderTokenUpdates when a provider re-signs too often and
    ExpiredProviderToken when a token is over an hour old, so the token is shared by
    every request (and thread) and replaced on a fixed schedule, never per request.
    """

    def __init__(
        self,
        credentials: TokenCredentials,
        *,
        refresh_after: float = TOKEN_REFRESH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _MIN_REFRESH <= refresh_after < _MAX_REFRESH:
            raise ValueError("APNs provider tokens must be refreshed after 20 to 60 minutes")
        key = serialization.load_pem_private_key(Path(credentials.key_file).read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{credentials.key_file}: an APNs auth key is an EC P-256 key")
        self._key = key
        self._credentials = credentials
        self._refresh_after = refresh_after
        self._clock = clock
        self._lock = threading.Lock()
        self._value: str | None = None
        self._issued_at = 0.0
        self.minted = 0

    @property
    def value(self) -> str:
        """The current token, minted anew only when missing or due."""
        with self._lock:
            now = self._clock()
            age = now - self._issued_at
            if self._value is None or age >= self._refresh_after or age < 0:
                self._value = jwt.encode(
                    {"iss": self._credentials.team_id, "iat": int(now)},
                    self._key,
                    algorithm="ES256",
                    headers={"kid": self._credentials.key_id},
                )
                self._issued_at = now
                self.minted += 1
            return self._value

    def invalidate(self, stale: str) -> None:
        """Forget `stale` (APNs called it expired); a newer token is left alone."""
        with self._lock:
            if self._value == stale:
                self._value = None


def build_ssl_context(credentials: ApnsCredentials, ca_file: str | os.PathLike[str] | None = None) -> ssl.SSLContext:
    """Public roots (certifi) + the optional extra CA bundle + our client certificate."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        context.load_verify_locations(cafile=os.fspath(ca_file))
    if isinstance(credentials, CertificateCredentials):
        context.load_cert_chain(credentials.cert_file, credentials.key_file, password=credentials.password)
    return context


def _error_body(content: bytes) -> dict[str, Any]:
    if not content:
        return {}
    try:
        body = json.loads(content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def map_answer(token: str, status: int, headers: Mapping[str, str], body: bytes, attempt: int = 0) -> PushResult:
    """Turn one APNs answer (status, lower-case headers, body) into a PushResult.

    See PushResult for what each status asks of the caller.
    """
    apns_id = headers.get("apns-id")
    if status == 200:
        return PushResult(token, "accepted", http_status=200, vendor_id=apns_id)
    error = _error_body(body)
    reason = str(error.get("reason") or _reason_phrase(status) or status)
    if status == 410:  # Unregistered, or ExpiredToken
        timestamp = error.get("timestamp")
        return PushResult(
            token,
            "unregistered",
            http_status=410,
            reason=reason,
            vendor_id=apns_id,
            unregistered_at=timestamp / 1000 if isinstance(timestamp, (int, float)) else None,
        )
    if status == 429:  # TooManyRequests: too many pushes to this device token
        retry_after = retry_after_or_backoff(headers.get("retry-after"), attempt, base=30)
        return PushResult(token, "retry", 429, reason, apns_id, retry_after)
    if status >= 500:  # InternalServerError, ServiceUnavailable, Shutdown
        retry_after = retry_after_or_backoff(headers.get("retry-after"), attempt, base=5)
        return PushResult(token, "retry", status, reason, apns_id, retry_after)
    # 400 (BadDeviceToken, TopicDisallowed, ...), 403 (provider auth), 404, 405, 413.
    return PushResult(token, "failed", http_status=status, reason=reason, vendor_id=apns_id)


def map_response(token: str, response: httpx.Response, attempt: int = 0) -> PushResult:
    """map_answer for an httpx.Response (tests and tools that talk to APNs with httpx)."""
    return map_answer(token, response.status_code, response.headers, response.content, attempt)


def _tls_rejection(exc: BaseException) -> str | None:
    """The TLS error behind `exc` if it is one a retry cannot fix, else None."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            text = f"{seen.reason or ''} {seen}".upper()
            if isinstance(seen, ssl.SSLCertVerificationError) or any(marker in text for marker in _TLS_REJECTIONS):
                return seen.reason or str(seen)
            return None
        seen = seen.__cause__ or seen.__context__
    return None


def transport_failure(token: str, exc: BaseException, attempt: int = 0) -> PushResult:
    """No HTTP answer: a refused TLS handshake is permanent, anything else is retried."""
    tls = _tls_rejection(exc)
    if tls is not None:
        return PushResult(token, "failed", reason=f"TLSRejected: {tls}")
    detail = str(exc) or type(exc).__name__
    return PushResult(
        token,
        "retry",
        reason=f"{type(exc).__name__}: {detail}",
        retry_after=backoff_delay(attempt, base=2.0),
    )


class AsyncApnsClient:
    """Async APNs client for one credential: one HTTP/2 connection, many streams.

    endpoint: APNS_ENDPOINT (default production). ca_file: APNS_CA_FILE, an extra CA
    bundle trusted on top of the public roots. max_in_flight: pushes queued at once by
    send_many. timeout: per-request seconds. idle_timeout: how long an idle connection
    is kept (Apple asks providers to keep connections for hours, not per batch).
    push_type / priority / expiration: optional APNs headers, off by default (see the
    module docstring for why). clock: time source for the provider token.
    """

    def __init__(
        self,
        credentials: ApnsCredentials,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        ca_file: str | os.PathLike[str] | None = None,
        max_in_flight: int = 100,
        timeout: float = 10.0,
        idle_timeout: float = 3600.0,
        push_type: str | None = None,
        priority: int | None = None,
        expiration: int | None = None,
        token_refresh: float = TOKEN_REFRESH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.credentials = credentials
        self.endpoint = endpoint.rstrip("/")
        self.max_in_flight = max_in_flight
        self.provider_token = (
            ProviderToken(credentials, refresh_after=token_refresh, clock=clock)
            if isinstance(credentials, TokenCredentials)
            else None
        )
        self._headers: dict[str, str] = {}
        if push_type is not None:
            self._headers["apns-push-type"] = push_type
        if priority is not None:
            self._headers["apns-priority"] = str(priority)
        if expiration is not None:
            self._headers["apns-expiration"] = str(expiration)
        self._extra_headers = [(name.encode("ascii"), value.encode("latin-1")) for name, value in self._headers.items()]
        self._client = H2Client(
            self.endpoint,
            build_ssl_context(credentials, ca_file),
            timeout=timeout,
            idle_timeout=idle_timeout,
            default_headers=[("user-agent", "passcast-push/1")],
            # APNs reads the {} payload to END_STREAM; every header costs HPACK work per push
            send_content_length=False,
        )

    async def send(self, token: str, topic: str, *, attempt: int = 0) -> PushResult:
        """Push one pass update. Never raises for per-token outcomes."""
        if not _HEX_TOKEN.fullmatch(token):
            # Not an APNs token (and not safe in a URL path); APNs would say the same.
            return PushResult(token, "failed", reason="BadDeviceToken")
        base_headers = [(b"apns-topic", topic.encode("utf-8")), *self._extra_headers]
        path = f"/3/device/{token}"
        provider = self.provider_token
        resent_with_new_token = False
        while True:
            provider_jwt = None
            headers = base_headers
            if provider is not None:
                provider_jwt = provider.value
                headers = [*base_headers, (b"authorization", f"bearer {provider_jwt}".encode("ascii"))]
            try:
                response = await self._client.request("POST", path, headers, PASS_UPDATE_PAYLOAD)
            except (H2Error, OSError) as exc:
                # Streams APNs did not process (GOAWAY, refused, never written) were already
                # resent once on a fresh connection by H2Client. What is left: connection
                # failures, timeouts, connections lost mid-request (fate unknown) and
                # refused TLS; transport_failure makes those "retry" (or "failed" for TLS).
                return transport_failure(token, exc, attempt)
            result = map_answer(token, response.status, response.headers, response.body, attempt)
            if provider is None or provider_jwt is None or result.reason != "ExpiredProviderToken":
                return result
            if resent_with_new_token:
                return result
            resent_with_new_token = True
            provider.invalidate(provider_jwt)

    async def send_many(self, tokens: Iterable[str], topic: str, *, attempt: int = 0) -> list[PushResult]:
        """Push to every token over the shared connection; results in token order.

        A fixed pool of `max_in_flight` workers pulls from the token list, so a batch of
        a million tokens costs a million requests but never a million live tasks.
        """
        token_list = list(tokens)
        results: list[PushResult | None] = [None] * len(token_list)
        work = iter(enumerate(token_list))

        async def worker() -> None:
            for index, token in work:  # one shared iterator: each token is taken once
                results[index] = await self.send(token, topic, attempt=attempt)

        await asyncio.gather(*(worker() for _ in range(min(self.max_in_flight, len(token_list)))))
        return [result for result in results if result is not None]

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncApnsClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class ApnsSender:
    """Blocking facade over AsyncApnsClient for job code that is not async.

    It owns an event loop running in a daemon thread, so the HTTP/2 connection (and the
    provider token) survive between batches, and any thread may call send_batch. Create
    it after forking (threads do not survive fork); `ApnsSender.shared()` keeps one per
    process and credential.
    """

    _shared: ClassVar[dict[tuple[Any, ...], ApnsSender]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, credentials: ApnsCredentials, **options: Any) -> None:
        """`options` are AsyncApnsClient's keyword arguments (endpoint, ca_file, ...)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="apns-sender", daemon=True)
        self._thread.start()
        self._closed = False

        async def create() -> AsyncApnsClient:
            return AsyncApnsClient(credentials, **options)

        try:
            self._client = self._call(create())
        except BaseException:
            self._stop_loop()
            raise

    @classmethod
    def shared(cls, credentials: ApnsCredentials, **options: Any) -> ApnsSender:
        """The process-wide sender for this credential and options (created on first use)."""
        key = (os.getpid(), credentials, tuple(sorted(options.items())))
        with cls._shared_lock:
            sender = cls._shared.get(key)
            if sender is None or sender._closed:
                sender = cls._shared[key] = cls(credentials, **options)
            return sender

    @classmethod
    def close_shared(cls) -> None:
        with cls._shared_lock:
            senders, cls._shared = list(cls._shared.values()), {}
        for sender in senders:
            sender.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def client(self) -> AsyncApnsClient:
        return self._client

    @property
    def provider_token(self) -> str | None:
        """The JWT currently in use (token auth), for logs and tests; None with certificates."""
        token = self._client.provider_token
        return token.value if token is not None else None

    def send_batch(
        self,
        tokens: Sequence[str],
        topic: str,
        *,
        attempt: int = 0,
        timeout: float | None = None,
    ) -> list[PushResult]:
        """Push to every token (topic = passTypeIdentifier); one PushResult per token, in order.

        attempt: how many times these tokens were already tried, for the back-off.
        timeout: overall seconds for the batch (None: bounded by per-request timeouts).
        """
        return self._call(self._client.send_many(tokens, topic, attempt=attempt), timeout)

    def send(self, token: str, topic: str, *, attempt: int = 0) -> PushResult:
        return self._call(self._client.send(token, topic, attempt=attempt))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._client.aclose(), 10)
        finally:
            self._stop_loop()

    def __enter__(self) -> ApnsSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, coroutine: Any, timeout: float | None = None) -> Any:
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("ApnsSender called from its own event loop; use AsyncApnsClient")
        if self._closed and not self._loop.is_running():
            coroutine.close()
            raise RuntimeError("ApnsSender is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()
