"""Google Wallet loyalty cards: the JSON Google takes, the "Save to Google Wallet" link and
the signature on Google's save/delete callbacks. Pure: no network, no database.

- `loyalty_class` / `loyalty_object` turn plain values into the LoyaltyClass and
  LoyaltyObject resources of the Wallet REST API (walletobjects/v1), `loyalty_message` the
  Message of addMessage. They send only fields Google's discovery document lists for that
  resource (Google answers any other with 400 "Unknown name"): the background colour is a
  class field, LoyaltyObject has none, so a tier with its own colour needs a class of its own.
  They refuse what Google would refuse (ids not `<issuerId>.<suffix>`, more than 10 merchant
  locations, colours that are not #rrggbb, an empty barcode) with a `PassValidationError`
  naming the field, so a bad card fails here rather than as a 400 from Google in a job.
- Texts may be `Text`: a value in one language plus its translations, sent as Google's
  LocalizedString (`defaultValue` and `translatedValues`) beside the plain field, so the
  phone shows the one of its own language.
- `save_jwt` / `save_url`: the link holds a small RS256 JWT signed with the service
  account's key that only *references* objects already inserted (by id), so it stays short
  and the object's contents are whatever Google holds now, not what the link froze.
- `verify_callback`: Google signs callbacks with the ECv2SigningOnly protocol of its
  payment-data cryptography (the one Tink's PaymentMethodTokenRecipient verifies): Google's
  root keys sign an intermediate key, which signs the message. Signed bytes are
  length-prefixed strings, each length a 4-byte little-endian integer:
    intermediate: sender_id || protocol_version || signedKey
    message:      sender_id || recipient_id (the issuer id) || protocol_version || signedMessage
  with sender_id "GooglePayPasses". `sign_callback` produces the same envelope from keys of
  one's own, for tests and local tools.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image, ImageDraw, ImageFont, ImageOps

from passes.errors import PassError, PassValidationError
from passes.images import REFUSAL, open_source

ID_PATTERN = re.compile(r"^\d+\.[\w.-]+$")
SUFFIX_PATTERN = re.compile(r"^[\w.-]+$")
MAX_MERCHANT_LOCATIONS = 10
SAVE_URL_BASE = "https://pay.google.com/gp/v/save/"
SAVE_AUDIENCE = "google"
SAVE_TYPE = "savetowallet"
SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"

CALLBACK_SENDER_ID = "GooglePayPasses"
CALLBACK_PROTOCOL = "ECv2SigningOnly"

_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


# ---------------------------------------------------------------------------- identifiers


def check_id(value: str, path: str = "id") -> str:
    """An object or class id is `<issuerId>.<suffix>`: digits, a dot, then [A-Za-z0-9_.-]."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise PassValidationError(
            path, f"must look like <issuerId>.<suffix> (digits, '.', [A-Za-z0-9_.-]); got {value!r}")
    return value


def make_id(issuer_id: str, suffix: str) -> str:
    if not SUFFIX_PATTERN.fullmatch(suffix or ""):
        raise PassValidationError("id", f"suffix may only hold letters, digits, '_', '.', '-'; got {suffix!r}")
    return check_id(f"{issuer_id}.{suffix}")


def issuer_of(resource_id: str) -> str:
    return check_id(resource_id).split(".", 1)[0]


# ---------------------------------------------------------------------------- resources


@dataclass(frozen=True)
class MerchantLocation:
    latitude: float
    longitude: float


_BCP47 = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Text:
    """A text in `language`, with `translations` ({"ru": "..."}) for phones set to another language."""

    value: str
    language: str = "en"
    translations: Mapping[str, str] = field(default_factory=dict)


Words = str | Text


@dataclass(frozen=True)
class TextModule:
    id: str
    header: Words
    body: Words


@dataclass(frozen=True)
class Link:
    id: str
    uri: str
    description: Words


@dataclass(frozen=True)
class LoyaltyClassSpec:
    class_id: str
    issuer_name: str
    program_name: str
    logo_uri: str
    background_color: str
    text_modules: Sequence[TextModule] = ()
    links: Sequence[Link] = ()
    merchant_locations: Sequence[MerchantLocation] = ()
    callback_url: str | None = None
    review_status: str = "UNDER_REVIEW"


@dataclass(frozen=True)
class LoyaltyObjectSpec:
    object_id: str
    class_id: str
    account_id: str
    account_name: str
    barcode_value: str
    alternate_text: str
    points_label: Words
    balance: int | str
    tier: str | None = None
    tier_label: Words = "Tier"
    text_modules: Sequence[TextModule] = ()
    links: Sequence[Link] = ()
    merchant_locations: Sequence[MerchantLocation] = ()
    active: bool = True
    notify_on_update: bool = False
    #: A banner on the card's front (a stamp card's stamps), served by us at this http(s) URL.
    hero_image_uri: str | None = None
    hero_image_description: str = "Stamps"
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Google's BarcodeType of the card's barcode (passes/barcodes.py: the brand's symbology).
    barcode_type: str = "QR_CODE"


#: The BarcodeType values we send (Google's canonical names; the lower-case aliases are deprecated).
BARCODE_TYPES = frozenset({"QR_CODE", "CODE_128", "EAN_13", "PDF_417", "AZTEC"})


def _color(value: str, path: str) -> str:
    if not isinstance(value, str) or not _HEX_COLOR.fullmatch(value):
        raise PassValidationError(path, f"must be a #rrggbb colour; got {value!r}")
    return value.lower()


def _text(value: str, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PassValidationError(path, "must be a non-empty string")
    return value


def _locations(locations: Sequence[MerchantLocation], path: str) -> list[dict[str, float]]:
    if len(locations) > MAX_MERCHANT_LOCATIONS:
        raise PassValidationError(path, f"at most {MAX_MERCHANT_LOCATIONS} merchant locations; got {len(locations)}")
    out = []
    for index, location in enumerate(locations):
        if not -90 <= location.latitude <= 90 or not -180 <= location.longitude <= 180:
            raise PassValidationError(f"{path}[{index}]", "latitude/longitude out of range")
        out.append({"latitude": float(location.latitude), "longitude": float(location.longitude)})
    return out


def _language(value: str, path: str) -> str:
    if not isinstance(value, str) or not _BCP47.fullmatch(value.replace("_", "-")):
        raise PassValidationError(path, f"must be a BCP 47 language tag such as en or pt-BR; got {value!r}")
    return value.replace("_", "-")


def _localized_string(text: Text, path: str) -> dict[str, Any]:
    """Google's LocalizedString: the default, and every translation (the default's own included)."""
    language = _language(text.language, f"{path}.defaultValue.language")
    values = {language: _text(text.value, f"{path}.defaultValue.value")}
    for other, value in text.translations.items():
        values.setdefault(_language(other, f"{path}.translatedValues.language"),
                          _text(value, f"{path}.translatedValues[{other!r}]"))
    return {"defaultValue": {"language": language, "value": values[language]},
            "translatedValues": [{"language": key, "value": values[key]} for key in sorted(values)]}


def _words(name: str, words: Words, path: str) -> dict[str, Any]:
    """`{name: text}`, plus `localized<Name>` when the text comes with its language."""
    if isinstance(words, Text):
        localized = "localized" + name[0].upper() + name[1:]
        return {name: _text(words.value, f"{path}.{name}"), localized: _localized_string(words, f"{path}.{localized}")}
    return {name: _text(words, f"{path}.{name}")}


def _text_modules(modules: Sequence[TextModule], path: str) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for index, module in enumerate(modules):
        if module.id in seen:
            raise PassValidationError(f"{path}[{index}].id", f"duplicate id {module.id!r}")
        seen.add(module.id)
        out.append({"id": module.id, **_words("header", module.header, f"{path}[{index}]"),
                    **_words("body", module.body, f"{path}[{index}]")})
    return out


def _links(links: Sequence[Link], path: str) -> dict[str, Any]:
    uris = []
    for index, link in enumerate(links):
        if not re.match(r"^(https?|mailto|tel):", link.uri or ""):
            raise PassValidationError(f"{path}.uris[{index}].uri",
                                      f"must be an http(s), mailto or tel URI; got {link.uri!r}")
        description = _words("description", link.description, f"{path}.uris[{index}]")
        uris.append({"id": link.id, "uri": link.uri, **description})
    return {"uris": uris}


def _localized(value: str) -> dict[str, Any]:
    return {"defaultValue": {"language": "en-US", "value": value}}


def loyalty_class(spec: LoyaltyClassSpec) -> dict[str, Any]:
    """The LoyaltyClass resource of one program."""
    check_id(spec.class_id, "loyaltyClass.id")
    if not spec.logo_uri.startswith(("https://", "http://")):
        raise PassValidationError("loyaltyClass.programLogo.sourceUri.uri", "must be an http(s) URL Google can fetch")
    body: dict[str, Any] = {
        "id": spec.class_id,
        "issuerName": _text(spec.issuer_name, "loyaltyClass.issuerName"),
        "programName": _text(spec.program_name, "loyaltyClass.programName"),
        "programLogo": {"sourceUri": {"uri": spec.logo_uri},
                        "contentDescription": _localized(f"{spec.program_name} logo")},
        "hexBackgroundColor": _color(spec.background_color, "loyaltyClass.hexBackgroundColor"),
        "reviewStatus": spec.review_status,
        "multipleDevicesAndHoldersAllowedStatus": "ONE_USER_ALL_DEVICES",
    }
    if spec.text_modules:
        body["textModulesData"] = _text_modules(spec.text_modules, "loyaltyClass.textModulesData")
    if spec.links:
        body["linksModuleData"] = _links(spec.links, "loyaltyClass.linksModuleData")
    if spec.merchant_locations:
        body["merchantLocations"] = _locations(spec.merchant_locations, "loyaltyClass.merchantLocations")
    if spec.callback_url:
        body["callbackOptions"] = {"url": spec.callback_url}
    return body


def _barcode_type(value: str) -> str:
    if value not in BARCODE_TYPES:
        raise PassValidationError("loyaltyObject.barcode.type", f"must be one of {', '.join(sorted(BARCODE_TYPES))}")
    return value


def loyalty_object(spec: LoyaltyObjectSpec) -> dict[str, Any]:
    """The LoyaltyObject resource of one card: balance in loyaltyPoints, tier as secondary points."""
    object_id = check_id(spec.object_id, "loyaltyObject.id")
    class_id = check_id(spec.class_id, "loyaltyObject.classId")
    if issuer_of(object_id) != issuer_of(class_id):
        raise PassValidationError("loyaltyObject.classId", "must belong to the same issuer as the object")
    if isinstance(spec.balance, bool) or not isinstance(spec.balance, int | str):
        raise PassValidationError("loyaltyObject.loyaltyPoints.balance", "must be an int or a string")
    balance = {"int": spec.balance} if isinstance(spec.balance, int) else {"string": _text(spec.balance, "balance")}
    body: dict[str, Any] = {
        "id": object_id,
        "classId": class_id,
        "state": "ACTIVE" if spec.active else "INACTIVE",
        "accountId": _text(spec.account_id, "loyaltyObject.accountId"),
        "accountName": _text(spec.account_name, "loyaltyObject.accountName"),
        "loyaltyPoints": {**_words("label", spec.points_label, "loyaltyObject.loyaltyPoints"), "balance": balance},
        "barcode": {"type": _barcode_type(spec.barcode_type),
                    "value": _text(spec.barcode_value, "loyaltyObject.barcode.value"),
                    "alternateText": spec.alternate_text},
    }
    if spec.tier:
        body["secondaryLoyaltyPoints"] = {**_words("label", spec.tier_label, "loyaltyObject.secondaryLoyaltyPoints"),
                                          "balance": {"string": spec.tier}}
    if spec.text_modules:
        body["textModulesData"] = _text_modules(spec.text_modules, "loyaltyObject.textModulesData")
    if spec.links:
        body["linksModuleData"] = _links(spec.links, "loyaltyObject.linksModuleData")
    if spec.merchant_locations:
        body["merchantLocations"] = _locations(spec.merchant_locations, "loyaltyObject.merchantLocations")
    if spec.notify_on_update:
        body["notifyPreference"] = "NOTIFY_ON_UPDATE"
    if spec.hero_image_uri is not None:
        if not spec.hero_image_uri.startswith(("https://", "http://")):
            raise PassValidationError("loyaltyObject.heroImage.sourceUri.uri",
                                      "must be an http(s) URL Google can fetch")
        body["heroImage"] = {"sourceUri": {"uri": spec.hero_image_uri},
                             "contentDescription": _localized(_text(spec.hero_image_description,
                                                                    "loyaltyObject.heroImage.contentDescription"))}
    body.update(spec.extra)
    return body


MESSAGE_TYPES = ("TEXT", "TEXT_AND_NOTIFY")


def loyalty_message(message_id: str, header: Words, body: Words, message_type: str) -> dict[str, Any]:
    """The Message of addMessage: TEXT shows on the card, TEXT_AND_NOTIFY also notifies."""
    if message_type not in MESSAGE_TYPES:
        raise PassValidationError("message.messageType", f"must be one of {MESSAGE_TYPES}; got {message_type!r}")
    return {"id": _text(message_id, "message.id"), **_words("header", header, "message"),
            **_words("body", body, "message"), "messageType": message_type}


# ---------------------------------------------------------------------------- program logo

LOGO_SIZE = 660  # Google's recommended programLogo: 660 x 660 px, shown cropped to a circle
_LOGO_CONTENT = 0.66  # the artwork's box inside the square: clear of the circle's crop


def program_logo(source: bytes | None, *, background: str, foreground: str, text: str,
                 size: int = LOGO_SIZE) -> bytes:
    """The programLogo Google shows: a `size` x `size` PNG on the brand's background colour,
    with the uploaded artwork fitted (aspect kept) in the middle, where Google's circular crop
    leaves it whole; without artwork, the first letter of `text`. Cached per image and colours.
    """
    if source is not None and not isinstance(source, bytes | bytearray | memoryview):
        raise PassValidationError("programLogo", "source must be image bytes")
    _color(background, "programLogo.background")
    _color(foreground, "programLogo.foreground")
    return _program_logo(None if source is None else bytes(source), background.lower(), foreground.lower(),
                         _text(text, "programLogo.text").strip(), size)


@functools.lru_cache(maxsize=32)
def _program_logo(source: bytes | None, background: str, foreground: str, text: str, size: int) -> bytes:
    canvas = Image.new("RGB", (size, size), background)
    box = round(size * _LOGO_CONTENT)
    if source is not None:
        art = open_source("programLogo", source)  # PNG or JPEG within the upload bounds only
        try:
            art = ImageOps.exif_transpose(art).convert("RGBA")
        except Exception as exc:  # a malformed EXIF block or an exotic mode
            raise PassValidationError("programLogo", REFUSAL) from exc
        art = ImageOps.contain(art, (box, box), Image.Resampling.LANCZOS)
        canvas.paste(art, ((size - art.width) // 2, (size - art.height) // 2), art)
    else:
        draw = ImageDraw.Draw(canvas)
        draw.text((size / 2, size / 2), text[0].upper(), fill=foreground, font=_logo_font(round(box * 0.8)),
                  anchor="mm")
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _logo_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in ("DejaVuSans-Bold.ttf", "Arial Bold.ttf", "Arial.ttf"):
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


# ---------------------------------------------------------------------------- save link


def save_jwt(service_account: Mapping[str, Any], object_ids: Iterable[str], origins: Sequence[str] = (),
             issued_at: int | None = None) -> str:
    """The "Save to Google Wallet" JWT: RS256 with the service account's key, objects by id.

    `service_account` is the key file's JSON (client_email, private_key as PEM or a loaded
    RSA key object, private_key_id).
    """
    ids = [check_id(object_id, "payload.loyaltyObjects.id") for object_id in object_ids]
    if not ids:
        raise PassValidationError("payload.loyaltyObjects", "needs at least one object id")
    claims = {
        "iss": service_account["client_email"],
        "aud": SAVE_AUDIENCE,
        "typ": SAVE_TYPE,
        "iat": int(time.time()) if issued_at is None else issued_at,
        "origins": list(origins),
        "payload": {"loyaltyObjects": [{"id": object_id} for object_id in ids]},
    }
    headers = {"kid": service_account["private_key_id"]} if service_account.get("private_key_id") else None
    return jwt.encode(claims, service_account["private_key"], algorithm="RS256", headers=headers)


def save_url(token: str) -> str:
    return SAVE_URL_BASE + token


# ---------------------------------------------------------------------------- callbacks


class CallbackVerificationError(PassError):
    """A callback that did not come from Google (or was altered, or has expired)."""


@dataclass(frozen=True)
class RootKey:
    public_key: ec.EllipticCurvePublicKey
    expires_ms: int | None


def _length_prefixed(*parts: str) -> bytes:
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8")
        out += len(data).to_bytes(4, "little") + data
    return bytes(out)


def _public_key(b64_der: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(base64.b64decode(b64_der))
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise CallbackVerificationError("key is not an EC P-256 public key")
    return key


def _b64_public(key: ec.EllipticCurvePublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def load_root_keys(text: str | Mapping[str, Any]) -> list[RootKey]:
    """Google's published root signing keys: {"keys": [{"keyValue", "protocolVersion", "keyExpiration"?}]}."""
    data = json.loads(text) if isinstance(text, str) else text
    keys = []
    for entry in data.get("keys", []):
        if entry.get("protocolVersion") != CALLBACK_PROTOCOL:
            continue
        expiration = entry.get("keyExpiration")
        keys.append(RootKey(_public_key(entry["keyValue"]), int(expiration) if expiration else None))
    if not keys:
        raise CallbackVerificationError(f"no {CALLBACK_PROTOCOL} root keys")
    return keys


def _verifies(key: ec.EllipticCurvePublicKey, signature_b64: str, data: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature_b64), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def verify_callback(envelope: Mapping[str, Any] | str, root_keys: Sequence[RootKey], recipient_id: str,
                    now_ms: int | None = None) -> dict[str, Any]:
    """Check a callback's signatures and expiry and return the decoded message.

    Raises CallbackVerificationError with the reason when anything does not hold.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    try:
        data = json.loads(envelope) if isinstance(envelope, str) else dict(envelope)
        if data.get("protocolVersion") != CALLBACK_PROTOCOL:
            raise CallbackVerificationError(f"protocolVersion must be {CALLBACK_PROTOCOL}")
        intermediate = data["intermediateSigningKey"]
        signed_key: str = intermediate["signedKey"]
        signatures: list[str] = list(intermediate["signatures"])
        signed_message: str = data["signedMessage"]
        signature: str = data["signature"]
        if not all(isinstance(v, str) for v in (signed_key, signed_message, signature, *signatures)):
            raise TypeError("strings expected")
    except (ValueError, KeyError, TypeError) as exc:
        raise CallbackVerificationError(f"malformed callback: {exc}") from exc

    key_data = _length_prefixed(CALLBACK_SENDER_ID, CALLBACK_PROTOCOL, signed_key)
    live_roots = [root for root in root_keys if root.expires_ms is None or root.expires_ms > now_ms]
    if not any(_verifies(root.public_key, sig, key_data) for root in live_roots for sig in signatures):
        raise CallbackVerificationError("intermediate signing key is not signed by a valid Google root key")
    try:
        key_info = json.loads(signed_key)
        key_expiration = int(key_info["keyExpiration"])
        intermediate_key = _public_key(key_info["keyValue"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CallbackVerificationError(f"malformed intermediate key: {exc}") from exc
    if key_expiration <= now_ms:
        raise CallbackVerificationError("intermediate signing key has expired")
    message_data = _length_prefixed(CALLBACK_SENDER_ID, recipient_id, CALLBACK_PROTOCOL, signed_message)
    if not _verifies(intermediate_key, signature, message_data):
        raise CallbackVerificationError("message signature does not verify for this recipient")
    try:
        message = json.loads(signed_message)
        assert isinstance(message, dict)
    except (ValueError, AssertionError) as exc:
        raise CallbackVerificationError("signedMessage is not a JSON object") from exc
    expires = message.get("expTimeMillis")
    try:
        expired = expires is not None and int(expires) <= now_ms
    except (ValueError, TypeError) as exc:
        raise CallbackVerificationError(f"expTimeMillis is not a number: {expires!r}") from exc
    if expired:
        raise CallbackVerificationError("message has expired")
    return message


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def root_keys_document(keys: Iterable[tuple[ec.EllipticCurvePublicKey, int | None]]) -> dict[str, Any]:
    """A root-keys document in Google's published shape, for keys of one's own."""
    entries = []
    for key, expires_ms in keys:
        entry: dict[str, Any] = {"keyValue": _b64_public(key), "protocolVersion": CALLBACK_PROTOCOL}
        if expires_ms is not None:
            entry["keyExpiration"] = str(expires_ms)
        entries.append(entry)
    return {"keys": entries}


def sign_callback(message: Mapping[str, Any], recipient_id: str, root_key: ec.EllipticCurvePrivateKey,
                  intermediate_key: ec.EllipticCurvePrivateKey, key_expiration_ms: int) -> dict[str, Any]:
    """An ECv2SigningOnly envelope exactly as Google sends it (for tests and local tools)."""
    signed_key = json.dumps({"keyValue": _b64_public(intermediate_key.public_key()),
                             "keyExpiration": str(key_expiration_ms)}, separators=(",", ":"))
    signed_message = json.dumps(dict(message), separators=(",", ":"))
    return {
        "signature": _sign(intermediate_key, _length_prefixed(CALLBACK_SENDER_ID, recipient_id, CALLBACK_PROTOCOL,
                                                              signed_message)),
        "intermediateSigningKey": {
            "signedKey": signed_key,
            "signatures": [_sign(root_key, _length_prefixed(CALLBACK_SENDER_ID, CALLBACK_PROTOCOL, signed_key))],
        },
        "protocolVersion": CALLBACK_PROTOCOL,
        "signedMessage": signed_message,
    }
