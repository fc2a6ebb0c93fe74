"""Pass-update pushes for Android wallet apps through their vendor's push relay.

WalletPasses, WalletUnion, Pass2U and Passworks register with our PassKit web service like
Apple Wallet does, but their push tokens belong to their own Firebase (or Huawei) projects,
so we cannot push them through FCM ourselves (FCM answers SENDER_ID_MISMATCH): each app's
relay takes them instead. What each documents (URL, key header, body, batch size) is in
wallet_apps.py; this module sends and reads the answers.

Mapping: 2xx accepts every token of the request, except tokens a relay reports in the formats
we know: WalletUnion's `expired_push_tokens` (gone: "unregistered") and `unknown_push_tokens`
(the relay does not know it: "unreachable"), and a `status` of FCM_FAILED (the tokens it did
not list are retried); Passworks' raw GCM `results` aligned with pushTokens (NotRegistered:
unregistered; InvalidRegistration / MismatchSenderId: unreachable; Unavailable /
InternalServerError: retry). 401/403 fail the whole request (API key), 429/5xx/network ask
for a retry honouring Retry-After. Tokens go in chunks of the app's documented maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from service.push.results import PushResult, PushStatus, backoff_delay, retry_after_or_backoff
from service.push.wallet_apps import APPS, WALLETPASSES, WalletApp

DEFAULT_WALLETPASSES_PUSH_URL = "https://walletpasses.appspot.com/api/v1/push"
DEFAULT_CHUNK_SIZE = APPS[WALLETPASSES].chunk_size

#: Token lists in a relay's 2xx answer (WalletUnion) -> what they mean for the listed tokens.
_LISTED: dict[str, PushStatus] = {"expired_push_tokens": "unregistered", "unknown_push_tokens": "unreachable"}
#: Legacy GCM per-token errors (Passworks relays GCM's answer) -> what they mean.
_GCM_ERRORS: dict[str, PushStatus] = {"NotRegistered": "unregistered", "InvalidRegistration": "unreachable",
                                      "MismatchSenderId": "unreachable", "Unavailable": "retry",
                                      "InternalServerError": "retry"}


def relay_payload(pass_type_identifier: str, tokens: Sequence[str],
                  app: WalletApp = APPS[WALLETPASSES]) -> dict[str, Any]:
    """The request body of `app`'s relay (WalletPasses' shape by default)."""
    return app.payload(pass_type_identifier, tokens)


def _token_outcomes(tokens: Sequence[str], response: httpx.Response) -> dict[str, tuple[PushStatus, str]]:
    """Tokens the relay's 2xx answer says something about -> (status, the relay's word for it)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    wanted = set(tokens)
    told: dict[str, tuple[PushStatus, str]] = {}
    for key, meaning in _LISTED.items():
        listed = body.get(key)
        if isinstance(listed, list):
            for token in listed:
                if isinstance(token, str) and token in wanted and token not in told:
                    told[token] = (meaning, key)  # listed in both: expired (gone) wins
    if body.get("status") == "FCM_FAILED":  # WalletUnion: FCM refused the batch; unlisted tokens try again
        for token in tokens:
            told.setdefault(token, ("retry", "FCM_FAILED"))
    results = body.get("results")
    if isinstance(results, list) and len(results) == len(tokens):
        for token, result in zip(tokens, results, strict=True):
            error = result.get("error") if isinstance(result, dict) else None
            if error in _GCM_ERRORS:
                told[token] = (_GCM_ERRORS[error], str(error))
    return told


def map_relay_response(tokens: Sequence[str], response: httpx.Response, attempt: int = 0) -> list[PushResult]:
    """One PushResult per token of the request, from the relay's single answer."""
    status = response.status_code
    if 200 <= status < 300:
        told = _token_outcomes(tokens, response)
        results = []
        for token in tokens:
            outcome, reason = told.get(token, ("accepted", None))
            retry_after = backoff_delay(attempt) if outcome == "retry" else None
            results.append(PushResult(token, outcome, status, reason, retry_after=retry_after))
        return results
    if status == 429 or status >= 500:
        retry_after = retry_after_or_backoff(
            response.headers.get("retry-after"), attempt, base=30 if status == 429 else 5
        )
        reason = response.reason_phrase or str(status)
        return [PushResult(token, "retry", status, reason, retry_after=retry_after) for token in tokens]
    reason = {401: "Unauthorized", 403: "Forbidden", 413: "PayloadTooLarge"}.get(
        status, response.reason_phrase or str(status)
    )
    return [PushResult(token, "failed", status, reason) for token in tokens]


class RelaySender:
    """Posts pass updates to one app's relay; one PushResult per token.

    url: the app's *_PUSH_URL (Pass2U's may hold `{passTypeIdentifier}`). api_key: sent in
    the app's key header (raw, no scheme) when set. chunk_size: the app's documented maximum.
    """

    def __init__(
        self,
        url: str = DEFAULT_WALLETPASSES_PUSH_URL,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        chunk_size: int | None = None,
        app: WalletApp = APPS[WALLETPASSES],
    ) -> None:
        chunk_size = app.chunk_size if chunk_size is None else chunk_size
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.url = url
        self.app = app
        self.chunk_size = chunk_size
        headers = {"Accept": "application/json", "User-Agent": "passcast-push/1"}
        if api_key:
            headers[app.key_header] = api_key
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), headers=headers)

    def send_batch(self, tokens: Sequence[str], pass_type_identifier: str, *, attempt: int = 0) -> list[PushResult]:
        """Push every token, chunk by chunk; results in token order. Never raises per token."""
        results: list[PushResult] = []
        for start in range(0, len(tokens), self.chunk_size):
            chunk = list(tokens[start : start + self.chunk_size])
            try:
                response = self._client.post(self.app.url(self.url, pass_type_identifier),
                                             json=self.app.payload(pass_type_identifier, chunk))
            except httpx.TransportError as exc:
                retry_after = backoff_delay(attempt, base=2.0)
                reason = f"{type(exc).__name__}: {exc}"
                results.extend(PushResult(token, "retry", reason=reason, retry_after=retry_after) for token in chunk)
                continue
            results.extend(map_relay_response(chunk, response, attempt))
        return results

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RelaySender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
