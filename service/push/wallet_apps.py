"""The Android wallet apps that speak Apple's PassKit web service, and how each is pushed.

Each app registers like Apple Wallet does, but says who it is, and its push tokens belong
to the app's own Firebase (or Huawei) project: only the app's relay can push them. Our own
FCM project answers 403 SENDER_ID_MISMATCH for such a token. What each vendor documents:

- WalletPasses (https://walletpasses.io/developer): `Authorization: AndroidPass <token>`;
  POST https://walletpasses.appspot.com/api/v1/push, `Authorization: <API key>`,
  {"passTypeIdentifier", "pushTokens"}.
- WalletUnion (https://walletunion.com/developer/en): `Authorization: WalletUnionPass
  <token>` (phones with Google services) or `WalletUnionHMSPass <token>` (Huawei phones
  without them); the relay body is {"passTypeIdentifier", "pushTokens", "hms"}, `hms`
  optional (false) for FCM tokens and required true for HMS tokens; at most 50 FCM tokens or
  1000 HMS tokens per request (413 otherwise); answers {"status": "OK" | "ERROR" |
  "FCM_FAILED", "unknown_push_tokens": [...], "expired_push_tokens": [...]}; 429 with
  Retry-After. The endpoint URL and the API key header are given with the key (the public
  page we read did not show them): WALLETUNION_PUSH_URL, and the key goes as the raw
  Authorization header like WalletPasses' (assumed).
- Pass2U Wallet (https://www.pass2u.net/apiPushNotification): `Authorization: ApplePass
  <token>` plus `X-Pass-Client: Passes`; POST
  https://api.passesalliance.com/v2/registrations/{passTypeIdentifier}/push with
  `x-api-key: <API key>`, body {"registrationIds": [...]}, at most 1000 per call.
- Passworks Wallet (https://github.com/passworks/android-wallet-api): `ApplePass` plus
  `X-Pass-Client: Passworks`; POST https://wallet.passworks.io/v1/pushUpdate,
  `Authorization: <Wallet App Key>`, {"passTypeIdentifier", "pushTokens"}; the answer is the
  raw GCM response (`results` aligned with pushTokens).

Every relay but WalletPasses' needs a key the vendor hands out, so none of them has a default
URL: an unconfigured relay marks its tokens unreachable instead of sending them anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

WALLETPASSES = "walletpasses"
WALLETUNION = "walletunion"
WALLETUNION_HMS = "walletunion-hms"
PASS2U = "pass2u"
PASSWORKS = "passworks"


@dataclass(frozen=True, slots=True)
class WalletApp:
    """One app's relay: where (the settings holding URL and key), how (body, key header), how many."""

    name: str  # stored as Registration.client_app / PushDelivery.client_app
    url_setting: str  # the environment variable, also named in "not configured" reasons
    key_setting: str
    key_header: str
    chunk_size: int
    body: str  # "pushTokens" | "pushTokens+hms" | "registrationIds"
    hms: bool = False

    def url(self, template: str, pass_type_identifier: str) -> str:
        """Pass2U puts the pass type in the path: `{passTypeIdentifier}` in the URL is replaced."""
        return template.replace("{passTypeIdentifier}", quote(pass_type_identifier, safe=""))

    def payload(self, pass_type_identifier: str, tokens: Sequence[str]) -> dict[str, Any]:
        if self.body == "registrationIds":
            return {"registrationIds": list(tokens)}
        payload: dict[str, Any] = {"passTypeIdentifier": pass_type_identifier, "pushTokens": list(tokens)}
        if self.body == "pushTokens+hms":
            payload["hms"] = self.hms
        return payload


APPS: dict[str, WalletApp] = {
    WALLETPASSES: WalletApp(WALLETPASSES, "WALLETPASSES_PUSH_URL", "WALLETPASSES_API_KEY", "Authorization", 50,
                            "pushTokens"),
    WALLETUNION: WalletApp(WALLETUNION, "WALLETUNION_PUSH_URL", "WALLETUNION_API_KEY", "Authorization", 50,
                           "pushTokens+hms"),
    WALLETUNION_HMS: WalletApp(WALLETUNION_HMS, "WALLETUNION_PUSH_URL", "WALLETUNION_API_KEY", "Authorization",
                               1000, "pushTokens+hms", hms=True),
    PASS2U: WalletApp(PASS2U, "PASS2U_PUSH_URL", "PASS2U_API_KEY", "x-api-key", 1000, "registrationIds"),
    # Passworks documents no maximum; 100 stays well under GCM's 1000-token multicast (assumed).
    PASSWORKS: WalletApp(PASSWORKS, "PASSWORKS_PUSH_URL", "PASSWORKS_API_KEY", "Authorization", 100, "pushTokens"),
}

#: Authorization schemes (compared case-insensitively, RFC 9110) -> the app they name;
#: ApplePass is Apple Wallet, or an app that says who it is in X-Pass-Client.
SCHEMES: dict[str, str | None] = {
    "applepass": None,
    "androidpass": WALLETPASSES,
    "walletunionpass": WALLETUNION,
    "walletunionhmspass": WALLETUNION_HMS,
}

#: X-Pass-Client values (case-insensitive) sent with ApplePass by apps with their own relay.
PASS_CLIENTS: dict[str, str] = {"passes": PASS2U, "passworks": PASSWORKS}


def app_for(scheme: str, pass_client: str | None) -> str | None:
    """The app that registered, from its Authorization scheme (lower case) and X-Pass-Client."""
    app = SCHEMES.get(scheme)
    if app is None and pass_client:
        app = PASS_CLIENTS.get(pass_client.strip().lower())
    return app
