"""Pass-update pushes for Android wallet apps through their vendor's push relay.

WalletPasses ("Wallet Passes for Android", walletpasses.io/developer) registers with our
PassKit web service like Apple Wallet does (Authorization: AndroidPass <token> instead
of ApplePass), but its push tokens belong to its own Firebase project, so we cannot push
them through FCM ourselves. Instead, per its developer page:

    POST https://walletpasses.appspot.com/api/v1/push
    Content-Type: application/json
    Authorization: <API key>          (raw key, no scheme; optional but recommended,
                                       unregistered callers get a lower rate limit)
    {"passTypeIdentifier": "pass.x.y", "pushTokens": ["...", "..."]}

The same request shape is used by Passworks' (`/v1/pushUpdate`) and WalletUnion's
relays, so the URL and key are configuration (WALLETPASSES_PUSH_URL). WalletPasses does
not document its answer body, so the mapping is by HTTP status: 2xx accepts every token
of the request, except tokens a relay explicitly reports as dead in the formats we know
(WalletUnion: `expired_push_tokens` / `unknown_push_tokens`; Passworks: the legacy GCM
`results` list aligned with pushTokens, error NotRegistered / InvalidRegistration).
401/403 fail the whole request (API key), 429/5xx/network ask for a retry, honouring
Retry-After. Tokens go in chunks (default 50, WalletUnion's documented FCM maximum).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from service.push.results import PushResult, backoff_delay, retry_after_or_backoff

DEFAULT_WALLETPASSES_PUSH_URL = "https://walletpasses.appspot.com/api/v1/push"
DEFAULT_CHUNK_SIZE = 50

_DEAD_LIST_KEYS = ("expired_push_tokens", "unknown_push_tokens")
_DEAD_GCM_ERRORS = {"NotRegistered", "InvalidRegistration"}


def relay_payload(pass_type_identifier: str, tokens: Sequence[str]) -> dict[str, Any]:
    """The relay request body (the one shape WalletPasses, Passworks and WalletUnion share)."""
    return {"passTypeIdentifier": pass_type_identifier, "pushTokens": list(tokens)}


def _dead_tokens(tokens: Sequence[str], response: httpx.Response) -> dict[str, str]:
    """Tokens the relay reported as gone -> the relay's word for it."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    wanted = set(tokens)
    dead: dict[str, str] = {}
    for key in _DEAD_LIST_KEYS:
        listed = body.get(key)
        if isinstance(listed, list):
            for token in listed:
                if isinstance(token, str) and token in wanted:
                    dead[token] = key
    results = body.get("results")
    if isinstance(results, list) and len(results) == len(tokens):
        for token, result in zip(tokens, results, strict=True):
            if isinstance(result, dict) and result.get("error") in _DEAD_GCM_ERRORS:
                dead[token] = str(result["error"])
    return dead


def map_relay_response(tokens: Sequence[str], response: httpx.Response, attempt: int = 0) -> list[PushResult]:
    """One PushResult per token of the request, from the relay's single answer."""
    status = response.status_code
    if 200 <= status < 300:
        dead = _dead_tokens(tokens, response)
        return [
            PushResult(token, "unregistered", status, dead[token])
            if token in dead
            else PushResult(token, "accepted", status)
            for token in tokens
        ]
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
    """Posts pass updates to a WalletPasses-style relay; one PushResult per token.

    url: WALLETPASSES_PUSH_URL. api_key: sent as the raw Authorization header when set.
    """

    def __init__(
        self,
        url: str = DEFAULT_WALLETPASSES_PUSH_URL,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.url = url
        self.chunk_size = chunk_size
        headers = {"Accept": "application/json", "User-Agent": "passcast-push/1"}
        if api_key:
            headers["Authorization"] = api_key
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), headers=headers)

    def send_batch(self, tokens: Sequence[str], pass_type_identifier: str, *, attempt: int = 0) -> list[PushResult]:
        """Push every token, chunk by chunk; results in token order. Never raises per token."""
        results: list[PushResult] = []
        for start in range(0, len(tokens), self.chunk_size):
            chunk = list(tokens[start : start + self.chunk_size])
            try:
                response = self._client.post(self.url, json=relay_payload(pass_type_identifier, chunk))
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
