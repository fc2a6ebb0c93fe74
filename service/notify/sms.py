"""SMS through an HTTP gateway: POST SMS_GATEWAY_URL with JSON {"to", "from", "text"} and
`Authorization: Bearer SMS_GATEWAY_TOKEN`; any 2xx means accepted.

Gateways differ in their APIs; this is the smallest common shape, which most offer directly
or through a few lines of adapter in front of them.
"""

from __future__ import annotations

import httpx

from service.platform.config import Settings


def send(settings: Settings, to: str, text: str) -> None:
    """Raises httpx.HTTPError when the gateway is unreachable or does not answer 2xx."""
    headers = {"Authorization": f"Bearer {settings.sms_gateway_token}"} if settings.sms_gateway_token else {}
    response = httpx.post(settings.sms_gateway_url or "", json={"to": to, "from": settings.sms_from, "text": text},
                          headers=headers, timeout=10.0)
    response.raise_for_status()
