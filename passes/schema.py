"""pass.json for a storeCard: one frozen dataclass per concept, checked when built.

Wallet rejects a bad pass silently (the Add button does nothing, an update is dropped),
so every documented rule is enforced here and reported as
``PassValidationError(path, rule)``. Paths are relative to the object whose constructor
raised: a lone ``Field`` says ``changeMessage``; a container that builds its children
from mappings prefixes them (``storeCard.headerFields[1].changeMessage``), and rules that
span the whole pass name the full path (``storeCard.backFields[0].key``).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from passes.errors import PassValidationError

__all__ = [
    "BARCODE_FORMATS",
    "DATE_STYLES",
    "NUMBER_STYLES",
    "TEXT_ALIGNMENTS",
    "NFC",
    "Barcode",
    "Beacon",
    "Field",
    "Location",
    "Pass",
    "RelevantDate",
    "StoreCard",
    "check_update",
    "css_rgb",
    "parse_color",
    "w3c_datetime",
]

TEXT_ALIGNMENTS = frozenset(
    {"PKTextAlignmentLeft", "PKTextAlignmentCenter", "PKTextAlignmentRight", "PKTextAlignmentNatural"}
)
DATE_STYLES = frozenset(
    {"PKDateStyleNone", "PKDateStyleShort", "PKDateStyleMedium", "PKDateStyleLong", "PKDateStyleFull"}
)
NUMBER_STYLES = frozenset(
    {"PKNumberStyleDecimal", "PKNumberStylePercent", "PKNumberStyleScientific", "PKNumberStyleSpellOut"}
)
#: What every iPhone since iOS 9 draws.
BARCODE_FORMATS_EVERYWHERE = frozenset(
    {"PKBarcodeFormatQR", "PKBarcodeFormatPDF417", "PKBarcodeFormatAztec", "PKBarcodeFormatCode128"}
)
#: Drawn from iOS 27 on (Apple's Pass.Barcodes); an older system shows the first entry it knows further
#: down the array, so one of these needs a fallback after it (docs/developers/vendor-facts.md).
BARCODE_FORMATS_IOS27 = frozenset({"PKBarcodeFormatEAN13"})
BARCODE_FORMATS = BARCODE_FORMATS_EVERYWHERE | BARCODE_FORMATS_IOS27
MAX_LOCATIONS = 10
MAX_BEACONS = 10
MIN_TOKEN_LENGTH = 16
MAX_NFC_MESSAGE_BYTES = 64
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

FieldValue = str | int | float | Decimal | datetime
T = TypeVar("T")

_RGB = re.compile(r"rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)")
_HEX = re.compile(r"#([0-9a-fA-F]{6})")
_PASS_TYPE = re.compile(r"pass(\.[A-Za-z0-9-]+)+")
_TEAM = re.compile(r"[A-Z0-9]{10}")
# serialNumber ends up in web-service URL paths, so only URL-unreserved characters.
_SERIAL = re.compile(r"[A-Za-z0-9._~-]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # goes into an HTTP header: printable ASCII, no spaces


# --- small checks shared by the classes ---------------------------------------------


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _set(obj: object, name: str, value: object) -> None:
    """Normalise an attribute of a frozen dataclass during __post_init__."""
    object.__setattr__(obj, name, value)


def _text(value: object, path: str, *, blank_ok: bool = False) -> None:
    if not isinstance(value, str) or (not blank_ok and not value.strip()):
        raise PassValidationError(path, "must be a non-empty string")


def _optional_text(value: object, path: str) -> None:
    if value is not None:
        _text(value, path)


def _flag(value: object, path: str) -> None:
    if not isinstance(value, bool):
        raise PassValidationError(path, "must be a boolean")


def _one_of(value: object, allowed: frozenset[str], path: str) -> None:
    if value is not None and value not in allowed:
        raise PassValidationError(path, f"must be one of {', '.join(sorted(allowed))}")


def _number(value: object, path: str) -> int | float:
    """A finite JSON number; Decimal becomes int when integral so 100 is not 100.0."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PassValidationError(path, "must be a number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PassValidationError(path, "must be finite")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise PassValidationError(path, "must be finite")
    return value


def _in_range(value: object, low: float, high: float, path: str) -> int | float:
    number = _number(value, path)
    if not low <= number <= high:
        raise PassValidationError(path, f"must be between {low} and {high}")
    return number


def w3c_datetime(value: object, path: str) -> str:
    """Serialise an aware datetime; a naive one would be read in the phone's timezone."""
    if not isinstance(value, datetime):
        raise PassValidationError(path, "must be a datetime")
    if value.utcoffset() is None:
        raise PassValidationError(path, "needs a timezone: a naive time is ambiguous to Wallet")
    return value.isoformat(timespec="seconds")


def _is_w3c_string(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).utcoffset() is not None and "T" in value
    except ValueError:
        return False


def parse_color(value: object, path: str) -> tuple[int, int, int]:
    """Read "rgb(r, g, b)" or "#rrggbb"; pass.json must use the former, the only form Apple documents."""
    if isinstance(value, str):
        if match := _HEX.fullmatch(value.strip()):
            digits = match.group(1)
            return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
        if match := _RGB.fullmatch(value.strip()):
            channels = tuple(int(group) for group in match.groups())
            if all(channel <= 255 for channel in channels):
                return channels[0], channels[1], channels[2]
    raise PassValidationError(path, 'must be "rgb(r, g, b)" or "#rrggbb" with channels 0-255')


def css_rgb(value: object, path: str) -> str:
    """Normalise a colour to the CSS rgb() triple pass.json documents."""
    if type(value) is str:
        return _css_rgb(value, path)
    red, green, blue = parse_color(value, path)
    return f"rgb({red}, {green}, {blue})"


@lru_cache(maxsize=1024)
def _css_rgb(value: str, path: str) -> str:
    """Cached: a program's three colours are parsed again for every pass otherwise."""
    red, green, blue = parse_color(value, path)
    return f"rgb({red}, {green}, {blue})"


def _build(cls: type[T], item: object, path: str) -> T:
    """Accept an instance, or build one from a mapping of its keyword arguments."""
    if isinstance(item, cls):
        return item
    if isinstance(item, Mapping):
        try:
            return cls(**item)
        except PassValidationError as exc:
            raise PassValidationError(_join(path, exc.path), exc.rule) from exc
        except TypeError as exc:
            raise PassValidationError(path, f"unknown or missing attribute: {exc}") from exc
    raise PassValidationError(path, f"must be a {cls.__name__} or a mapping")


def _build_all(cls: type[T], items: object, path: str) -> tuple[T, ...]:
    # Fast path (every pass built by the service): a tuple or list of ready instances.
    if type(items) is tuple or type(items) is list:
        if not items or {*map(type, items)} == {cls}:
            return items if type(items) is tuple else tuple(items)
    elif isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise PassValidationError(path, "must be a list")
    return tuple(_build(cls, item, f"{path}[{index}]") for index, item in enumerate(items))


def _drop_none(pairs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in pairs.items() if value is not None}


# pass.json is written piece by piece in the key order json.dumps(sort_keys=True) gives, each piece
# as _PASS_JSON_ENCODER writes it (tests/passes/test_schema.py compares the two for every attribute):
# the encoder's dict of dicts for the whole pass was a fifth of a build (bench/pass_build.py), and
# the pieces the cards of a program share (locations, the terms field) are written once.
_string = json.encoder.encode_basestring  # what the encoder writes a str with (ensure_ascii=False)


def _scalar(value: object) -> str:
    """One JSON value as _PASS_JSON_ENCODER writes it."""
    if type(value) is str:
        return _string(value)
    if type(value) is int:
        return int.__repr__(value)
    return _PASS_JSON_ENCODER.encode(value)


def _memo_json(item: Any) -> str:
    """A frozen object's ``to_json_dict()`` as JSON text, written once per object."""
    text: str | None = item.__dict__.get("_json")
    if text is None:
        text = item.__dict__["_json"] = _PASS_JSON_ENCODER.encode(item.to_json_dict())
    return text


# --- fields ---------------------------------------------------------------------------


def _field_value(value: object, path: str) -> FieldValue:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        w3c_datetime(value, path)
        return value
    return _number(value, path)


def _json_value(value: FieldValue) -> str | int | float:
    if isinstance(value, datetime):
        return w3c_datetime(value, "value")
    if isinstance(value, Decimal):  # normalised away in __post_init__; kept for typing
        return _number(value, "value")
    return value


@dataclass(frozen=True)
class Field:
    """One label/value pair; ``change_message`` is what the lock screen shows on update.

    Without a changeMessage an update to the field is silent, and it is the only way a
    pass update can show text at all, so a message without ``%@`` is rejected: it would
    announce a change without saying what changed.
    """

    key: str
    value: FieldValue
    label: str | None = None
    change_message: str | None = None
    text_alignment: str | None = None
    attributed_value: FieldValue | None = None
    date_style: str | None = None
    number_style: str | None = None
    currency_code: str | None = None

    def __post_init__(self) -> None:
        # A pass has a dozen fields, nearly all plain text: each check runs its function (which
        # says what is wrong) only when the inline test does not already show it passes.
        if type(self.key) is not str or not self.key.strip():
            _text(self.key, "key")
        if type(self.value) is not str:
            _set(self, "value", _field_value(self.value, "value"))
        if self.attributed_value is not None:
            _set(self, "attributed_value", _field_value(self.attributed_value, "attributedValue"))
        if self.label is not None and type(self.label) is not str:
            _text(self.label, "label", blank_ok=True)
        if self.change_message is not None:
            if type(self.change_message) is not str or not self.change_message.strip():
                _text(self.change_message, "changeMessage")
            if "%@" not in self.change_message:
                raise PassValidationError("changeMessage", 'must contain "%@" (the new value)')
        if self.text_alignment is not None:
            _one_of(self.text_alignment, TEXT_ALIGNMENTS, "textAlignment")
        if self.date_style is not None or self.number_style is not None or self.currency_code is not None:
            self._check_styles()

    def _check_styles(self) -> None:
        _one_of(self.date_style, DATE_STYLES, "dateStyle")
        _one_of(self.number_style, NUMBER_STYLES, "numberStyle")
        if self.date_style is not None and not (
            isinstance(self.value, datetime) or (isinstance(self.value, str) and _is_w3c_string(self.value))
        ):
            raise PassValidationError("dateStyle", "needs a datetime value with a timezone")
        numeric = isinstance(self.value, int | float)
        if self.number_style is not None and not numeric:
            raise PassValidationError("numberStyle", "needs a numeric value")
        if self.currency_code is not None:
            if not numeric:
                raise PassValidationError("currencyCode", "needs a numeric value")
            if not isinstance(self.currency_code, str) or not _CURRENCY.fullmatch(self.currency_code):
                raise PassValidationError("currencyCode", "must be an ISO 4217 code such as EUR")

    def json_text(self) -> str:
        """``to_json_dict()`` as pass.json writes it (compact, keys sorted), made once per field."""
        text: str | None = self.__dict__.get("_json")
        if text is None:
            parts = []
            if self.attributed_value is not None:
                parts.append('"attributedValue":' + _scalar(_json_value(self.attributed_value)))
            if self.change_message is not None:
                parts.append('"changeMessage":' + _string(self.change_message))
            if self.currency_code is not None:
                parts.append('"currencyCode":' + _string(self.currency_code))
            if self.date_style is not None:
                parts.append('"dateStyle":' + _string(self.date_style))
            parts.append('"key":' + _string(self.key))
            if self.label is not None:
                parts.append('"label":' + _string(self.label))
            if self.number_style is not None:
                parts.append('"numberStyle":' + _string(self.number_style))
            if self.text_alignment is not None:
                parts.append('"textAlignment":' + _string(self.text_alignment))
            value = self.value
            parts.append('"value":' + (_string(value) if type(value) is str else _scalar(_json_value(value))))
            text = self.__dict__["_json"] = "{" + ",".join(parts) + "}"
        return text

    def to_json_dict(self) -> dict[str, Any]:
        # Built key by key rather than through _drop_none: a pass has up to a dozen fields.
        result: dict[str, Any] = {"key": self.key, "value": _json_value(self.value)}
        if self.label is not None:
            result["label"] = self.label
        if self.change_message is not None:
            result["changeMessage"] = self.change_message
        if self.text_alignment is not None:
            result["textAlignment"] = self.text_alignment
        if self.attributed_value is not None:
            result["attributedValue"] = _json_value(self.attributed_value)
        if self.date_style is not None:
            result["dateStyle"] = self.date_style
        if self.number_style is not None:
            result["numberStyle"] = self.number_style
        if self.currency_code is not None:
            result["currencyCode"] = self.currency_code
        return result


_FIELD_TYPE = frozenset({Field})
_FIELD_GROUPS = (
    ("header_fields", "headerFields"),
    ("primary_fields", "primaryFields"),
    ("secondary_fields", "secondaryFields"),
    ("auxiliary_fields", "auxiliaryFields"),
    ("back_fields", "backFields"),
)


@dataclass(frozen=True)
class StoreCard:
    """The storeCard style: the limits are what the layout has room for.

    Wallet does not complain about extra fields, it just does not draw them.
    """

    header_fields: tuple[Field, ...] = ()
    primary_fields: tuple[Field, ...] = ()
    secondary_fields: tuple[Field, ...] = ()
    auxiliary_fields: tuple[Field, ...] = ()
    back_fields: tuple[Field, ...] = ()

    def __post_init__(self) -> None:
        header, primary, secondary = self.header_fields, self.primary_fields, self.secondary_fields
        auxiliary, back = self.auxiliary_fields, self.back_fields
        # Fast path (every pass the service builds): five tuples of ready Fields, checked in one go.
        if not (type(header) is type(primary) is type(secondary) is type(auxiliary) is type(back) is tuple
                and {*map(type, header), *map(type, primary), *map(type, secondary), *map(type, auxiliary),
                     *map(type, back)} <= _FIELD_TYPE):
            for attr, json_name in _FIELD_GROUPS:
                _set(self, attr, _build_all(Field, getattr(self, attr), json_name))
        if len(self.header_fields) > 3:
            raise PassValidationError("headerFields", "at most 3 header fields")
        if len(self.primary_fields) > 1:
            raise PassValidationError("primaryFields", "at most 1 primary field on a storeCard")
        if len(self.secondary_fields) + len(self.auxiliary_fields) > 4:
            raise PassValidationError("auxiliaryFields", "at most 4 secondary and auxiliary fields together")

    def fields(self) -> Iterator[tuple[str, Field]]:
        """Every field with its path inside storeCard, front to back."""
        for attr, json_name in _FIELD_GROUPS:
            for index, item in enumerate(getattr(self, attr)):
                yield f"{json_name}[{index}]", item

    def json_text(self) -> str:
        """``to_json_dict()`` as pass.json writes it: the groups in key order, each field's own text."""
        parts = []
        for name, group in (('"auxiliaryFields":[', self.auxiliary_fields), ('"backFields":[', self.back_fields),
                            ('"headerFields":[', self.header_fields), ('"primaryFields":[', self.primary_fields),
                            ('"secondaryFields":[', self.secondary_fields)):
            if group:
                parts.append(name + ",".join([item.json_text() for item in group]) + "]")
        return "{" + ",".join(parts) + "}"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            json_name: [item.to_json_dict() for item in getattr(self, attr)]
            for attr, json_name in _FIELD_GROUPS
            if getattr(self, attr)
        }


# --- barcode, relevance, NFC ------------------------------------------------------------


@dataclass(frozen=True)
class Barcode:
    """One entry of ``barcodes`` (the singular ``barcode`` key is deprecated)."""

    message: str
    format: str = "PKBarcodeFormatQR"
    message_encoding: str = "iso-8859-1"
    alt_text: str | None = None

    def __post_init__(self) -> None:
        _text(self.message, "message")
        _one_of(self.format, BARCODE_FORMATS, "format")
        _text(self.message_encoding, "messageEncoding")
        try:
            codecs.lookup(self.message_encoding)
        except LookupError:
            raise PassValidationError("messageEncoding", "unknown character set") from None
        try:
            self.message.encode(self.message_encoding)
        except UnicodeEncodeError:
            raise PassValidationError("message", f"cannot be encoded as {self.message_encoding}") from None
        if self.format == "PKBarcodeFormatCode128" and not (self.message.isascii() and self.message.isprintable()):
            raise PassValidationError("message", "Code 128 carries printable ASCII only")
        if self.format == "PKBarcodeFormatEAN13" and not (
                len(self.message) == 13 and self.message.isascii() and self.message.isdigit()):
            raise PassValidationError("message", "EAN-13 carries exactly 13 digits")
        _optional_text(self.alt_text, "altText")

    def json_text(self) -> str:
        """``to_json_dict()`` as pass.json writes it (keys sorted)."""
        alt = "" if self.alt_text is None else '"altText":' + _string(self.alt_text) + ","
        return (f'{{{alt}"format":{_string(self.format)},"message":{_string(self.message)},'
                f'"messageEncoding":{_string(self.message_encoding)}}}')

    def to_json_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "format": self.format,
                "message": self.message,
                "messageEncoding": self.message_encoding,
                "altText": self.alt_text,
            }
        )


@dataclass(frozen=True)
class Location:
    """A place where Wallet surfaces the pass on the lock screen; no server involved."""

    latitude: float
    longitude: float
    altitude: float | None = None
    relevant_text: str | None = None

    def __post_init__(self) -> None:
        _set(self, "latitude", _in_range(self.latitude, -90, 90, "latitude"))
        _set(self, "longitude", _in_range(self.longitude, -180, 180, "longitude"))
        if self.altitude is not None:
            _set(self, "altitude", _number(self.altitude, "altitude"))
        _optional_text(self.relevant_text, "relevantText")

    def to_json_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "latitude": self.latitude,
                "longitude": self.longitude,
                "altitude": self.altitude,
                "relevantText": self.relevant_text,
            }
        )


@dataclass(frozen=True)
class Beacon:
    """A BLE beacon region; ``minor`` without ``major`` is not a region iOS can monitor."""

    proximity_uuid: str
    major: int | None = None
    minor: int | None = None
    relevant_text: str | None = None

    def __post_init__(self) -> None:
        parsed: object = self.proximity_uuid
        if isinstance(parsed, str):
            try:
                parsed = uuid.UUID(parsed)
            except ValueError:
                parsed = None
        if not isinstance(parsed, uuid.UUID):
            raise PassValidationError("proximityUUID", "must be a UUID")
        _set(self, "proximity_uuid", str(parsed).upper())
        for name, value in (("major", self.major), ("minor", self.minor)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535):
                raise PassValidationError(name, "must be an integer 0-65535")
        if self.minor is not None and self.major is None:
            raise PassValidationError("minor", "needs major")
        _optional_text(self.relevant_text, "relevantText")

    def to_json_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "proximityUUID": self.proximity_uuid,
                "major": self.major,
                "minor": self.minor,
                "relevantText": self.relevant_text,
            }
        )


@dataclass(frozen=True)
class RelevantDate:
    """iOS 18 ``relevantDates`` entry: a single ``date`` or a ``start_date``..``end_date``."""

    date: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None

    def __post_init__(self) -> None:
        if self.date is not None:
            if self.start_date is not None or self.end_date is not None:
                raise PassValidationError("date", "give either date or startDate and endDate")
            w3c_datetime(self.date, "date")
            return
        if self.start_date is None or self.end_date is None:
            raise PassValidationError("startDate", "needs both startDate and endDate, or date")
        w3c_datetime(self.start_date, "startDate")
        w3c_datetime(self.end_date, "endDate")
        if self.end_date <= self.start_date:
            raise PassValidationError("endDate", "must be after startDate")

    def to_json_dict(self) -> dict[str, Any]:
        if self.date is not None:
            return {"date": w3c_datetime(self.date, "date")}
        return {
            "startDate": w3c_datetime(self.start_date, "startDate"),
            "endDate": w3c_datetime(self.end_date, "endDate"),
        }


@dataclass(frozen=True)
class NFC:
    """Value Added Services payload; the pass certificate must be NFC-enabled for it."""

    message: str
    encryption_public_key: str
    requires_authentication: bool = False

    def __post_init__(self) -> None:
        _text(self.message, "message")
        if len(self.message.encode("utf-8")) > MAX_NFC_MESSAGE_BYTES:
            raise PassValidationError("message", "at most 64 bytes: terminals truncate the rest")
        _flag(self.requires_authentication, "requiresAuthentication")
        _check_p256_key(self.encryption_public_key, "encryptionPublicKey")

    def to_json_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "message": self.message,
            "encryptionPublicKey": self.encryption_public_key,
        }
        if self.requires_authentication:
            result["requiresAuthentication"] = True
        return result


def _check_p256_key(value: object, path: str) -> None:
    """Apple wants base64 DER SubjectPublicKeyInfo of a P-256 ECDH key."""
    rule = "must be a base64 DER SubjectPublicKeyInfo of a P-256 key"
    if not isinstance(value, str):
        raise PassValidationError(path, rule)
    try:
        key = load_der_public_key(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise PassValidationError(path, rule) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise PassValidationError(path, rule)


# --- the pass ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Pass:
    """The whole pass.json of a loyalty card (style ``storeCard``).

    ``allow_http`` is not part of pass.json: it lets a development server on a LAN
    address use plain http, which Wallet only tolerates with the developer setting on.
    """

    format_version: int = 1
    pass_type_identifier: str
    team_identifier: str
    serial_number: str
    organization_name: str
    description: str
    store_card: StoreCard
    barcodes: tuple[Barcode, ...] = ()
    locations: tuple[Location, ...] = ()
    beacons: tuple[Beacon, ...] = ()
    max_distance: float | None = None
    web_service_url: str | None = None
    authentication_token: str | None = None
    background_color: str | None = None
    foreground_color: str | None = None
    label_color: str | None = None
    logo_text: str | None = None
    expiration_date: datetime | None = None
    relevant_date: datetime | None = None
    relevant_dates: tuple[RelevantDate, ...] = ()
    voided: bool = False
    sharing_prohibited: bool = False
    user_info: Mapping[str, Any] | None = field(default=None, hash=False)
    nfc: NFC | None = None
    allow_http: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        self._check_identity()
        if type(self.store_card) is not StoreCard:
            _set(self, "store_card", _build(StoreCard, self.store_card, "storeCard"))
        if self.barcodes != ():
            _set(self, "barcodes", _build_all(Barcode, self.barcodes, "barcodes"))
        if self.barcodes and not any(item.format in BARCODE_FORMATS_EVERYWHERE for item in self.barcodes):
            raise PassValidationError("barcodes", "an iOS 27 format (EAN-13) needs a fallback every iPhone draws "
                                                  "after it (QR, PDF417, Aztec or Code 128), or older iPhones "
                                                  "show no barcode")
        self._check_relevance()
        self._check_web_service()
        self._check_appearance()
        self._check_extras()
        self._check_field_keys()

    def _check_identity(self) -> None:
        if self.format_version != 1 or isinstance(self.format_version, bool):
            raise PassValidationError("formatVersion", "must be 1")
        _check_issuer(self.pass_type_identifier, self.team_identifier)
        if not isinstance(self.serial_number, str) or not _SERIAL.fullmatch(self.serial_number):
            raise PassValidationError("serialNumber", "must be non-empty, letters, digits and ._~- only")
        if type(self.organization_name) is not str or not self.organization_name.strip():
            _text(self.organization_name, "organizationName")
        if type(self.description) is not str or not self.description.strip():
            _text(self.description, "description")

    def _check_relevance(self) -> None:
        if self.locations != ():
            _set(self, "locations", _build_all(Location, self.locations, "locations"))
        if self.beacons != ():
            _set(self, "beacons", _build_all(Beacon, self.beacons, "beacons"))
        if self.relevant_dates != ():
            _set(self, "relevant_dates", _build_all(RelevantDate, self.relevant_dates, "relevantDates"))
        if len(self.locations) > MAX_LOCATIONS:
            raise PassValidationError("locations", f"at most {MAX_LOCATIONS}; Wallet ignores the rest")
        if len(self.beacons) > MAX_BEACONS:
            raise PassValidationError("beacons", f"at most {MAX_BEACONS}; Wallet ignores the rest")
        if self.max_distance is not None:
            _set(self, "max_distance", _number(self.max_distance, "maxDistance"))
            if self.max_distance <= 0:
                raise PassValidationError("maxDistance", "must be positive")
        if self.relevant_date is not None:
            w3c_datetime(self.relevant_date, "relevantDate")
        other = self.beacons or self.relevant_dates or self.relevant_date or self.max_distance
        if other and not self.locations:
            raise PassValidationError(
                "locations", "a storeCard with beacons, relevant dates or maxDistance needs locations"
            )

    def _check_web_service(self) -> None:
        url, token = self.web_service_url, self.authentication_token
        if (url is None) != (token is None):
            raise PassValidationError(
                "webServiceURL" if url is None else "authenticationToken",
                "webServiceURL and authenticationToken come together",
            )
        if url is None:
            return
        if type(self.allow_http) is not bool:
            _flag(self.allow_http, "allow_http")
        if type(url) is not str or not url.strip():
            _text(url, "webServiceURL")
        _check_web_service_url(url, self.allow_http)
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
            raise PassValidationError("authenticationToken", "must be at least 16 characters")
        if not _TOKEN.fullmatch(token):
            raise PassValidationError("authenticationToken", "printable ASCII without spaces only")

    def _check_appearance(self) -> None:
        if self.background_color is not None:
            _set(self, "background_color", css_rgb(self.background_color, "backgroundColor"))
        if self.foreground_color is not None:
            _set(self, "foreground_color", css_rgb(self.foreground_color, "foregroundColor"))
        if self.label_color is not None:
            _set(self, "label_color", css_rgb(self.label_color, "labelColor"))
        if self.logo_text is not None and (type(self.logo_text) is not str or not self.logo_text.strip()):
            _text(self.logo_text, "logoText")

    def _check_extras(self) -> None:
        if self.expiration_date is not None:
            w3c_datetime(self.expiration_date, "expirationDate")
        if type(self.voided) is not bool:
            _flag(self.voided, "voided")
        if type(self.sharing_prohibited) is not bool:
            _flag(self.sharing_prohibited, "sharingProhibited")
        if self.nfc is not None:
            _set(self, "nfc", _build(NFC, self.nfc, "nfc"))
        if self.user_info is not None:
            if not isinstance(self.user_info, Mapping):
                raise PassValidationError("userInfo", "must be a mapping")
            try:
                # A JSON round trip both checks serialisability and detaches the copy.
                copy = json.loads(json.dumps(dict(self.user_info), allow_nan=False))
            except (TypeError, ValueError) as exc:
                raise PassValidationError("userInfo", f"must be JSON-serialisable: {exc}") from exc
            _set(self, "user_info", copy)

    def _check_field_keys(self) -> None:
        card = self.store_card
        keys = [item.key for group in (card.header_fields, card.primary_fields, card.secondary_fields,
                                       card.auxiliary_fields, card.back_fields) for item in group]
        if len(set(keys)) == len(keys):
            return
        seen: set[str] = set()
        for path, item in card.fields():
            if item.key in seen:
                raise PassValidationError(
                    f"storeCard.{path}.key", f"duplicate key {item.key!r}: keys are unique per pass"
                )
            seen.add(item.key)

    def to_json_dict(self) -> dict[str, Any]:
        """pass.json as a dict with Apple's keys; never the deprecated ``barcode``."""
        result = _drop_none(
            {
                "formatVersion": self.format_version,
                "passTypeIdentifier": self.pass_type_identifier,
                "teamIdentifier": self.team_identifier,
                "serialNumber": self.serial_number,
                "organizationName": self.organization_name,
                "description": self.description,
                "storeCard": self.store_card.to_json_dict(),
                "maxDistance": self.max_distance,
                "webServiceURL": self.web_service_url,
                "authenticationToken": self.authentication_token,
                "backgroundColor": self.background_color,
                "foregroundColor": self.foreground_color,
                "labelColor": self.label_color,
                "logoText": self.logo_text,
                "userInfo": self.user_info,
                "nfc": None if self.nfc is None else self.nfc.to_json_dict(),
            }
        )
        for name, items in (
            ("barcodes", self.barcodes),
            ("locations", self.locations),
            ("beacons", self.beacons),
            ("relevantDates", self.relevant_dates),
        ):
            if items:
                result[name] = [item.to_json_dict() for item in items]
        if self.expiration_date is not None:
            result["expirationDate"] = w3c_datetime(self.expiration_date, "expirationDate")
        if self.relevant_date is not None:
            result["relevantDate"] = w3c_datetime(self.relevant_date, "relevantDate")
        if self.voided:
            result["voided"] = True
        if self.sharing_prohibited:
            result["sharingProhibited"] = True
        return result

    def to_json_bytes(self) -> bytes:
        """Compact, key-sorted UTF-8: the same pass always hashes to the same manifest.

        ``_PASS_JSON_ENCODER.encode(self.to_json_dict())``, written piece by piece in key order."""
        string, parts = _string, []
        add = parts.append
        if self.authentication_token is not None:
            add('"authenticationToken":' + string(self.authentication_token))
        if self.background_color is not None:
            add('"backgroundColor":' + string(self.background_color))
        if self.barcodes:
            add('"barcodes":[' + ",".join([item.json_text() for item in self.barcodes]) + "]")
        if self.beacons:
            add('"beacons":[' + ",".join(map(_memo_json, self.beacons)) + "]")
        add('"description":' + string(self.description))
        if self.expiration_date is not None:
            add('"expirationDate":' + string(w3c_datetime(self.expiration_date, "expirationDate")))
        if self.foreground_color is not None:
            add('"foregroundColor":' + string(self.foreground_color))
        add('"formatVersion":' + _scalar(self.format_version))
        if self.label_color is not None:
            add('"labelColor":' + string(self.label_color))
        if self.locations:
            add('"locations":[' + ",".join(map(_memo_json, self.locations)) + "]")
        if self.logo_text is not None:
            add('"logoText":' + string(self.logo_text))
        if self.max_distance is not None:
            add('"maxDistance":' + _scalar(self.max_distance))
        if self.nfc is not None:
            add('"nfc":' + _memo_json(self.nfc))
        add('"organizationName":' + string(self.organization_name))
        add('"passTypeIdentifier":' + string(self.pass_type_identifier))
        if self.relevant_date is not None:
            add('"relevantDate":' + string(w3c_datetime(self.relevant_date, "relevantDate")))
        if self.relevant_dates:
            add('"relevantDates":[' + ",".join(map(_memo_json, self.relevant_dates)) + "]")
        add('"serialNumber":' + string(self.serial_number))
        if self.sharing_prohibited:
            add('"sharingProhibited":true')
        add('"storeCard":' + self.store_card.json_text())
        add('"teamIdentifier":' + string(self.team_identifier))
        if self.user_info is not None:
            add('"userInfo":' + _PASS_JSON_ENCODER.encode(self.user_info))
        if self.voided:
            add('"voided":true')
        if self.web_service_url is not None:
            add('"webServiceURL":' + string(self.web_service_url))
        return ("{" + ",".join(parts) + "}").encode("utf-8")


def _check_issuer(pass_type_identifier: object, team_identifier: object) -> None:
    """passTypeIdentifier and teamIdentifier; the pair a program's passes share is checked once."""
    if type(pass_type_identifier) is str and type(team_identifier) is str:
        _checked_issuer(pass_type_identifier, team_identifier)
    else:
        _checked_issuer.__wrapped__(pass_type_identifier, team_identifier)


@lru_cache(maxsize=64)
def _checked_issuer(pass_type_identifier: Any, team_identifier: Any) -> None:
    _text(pass_type_identifier, "passTypeIdentifier")
    if not _PASS_TYPE.fullmatch(pass_type_identifier):
        raise PassValidationError("passTypeIdentifier", 'must look like "pass.com.example.card"')
    if not isinstance(team_identifier, str) or not _TEAM.fullmatch(team_identifier):
        raise PassValidationError("teamIdentifier", "must be a 10-character Apple Team ID")


@lru_cache(maxsize=64)
def _check_web_service_url(url: str, allow_http: bool) -> None:
    """Cached (a failure is not): every pass of a server carries the same URL, and splitting it
    was a tenth of a pass's checks."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise PassValidationError("webServiceURL", "must be an absolute URL")
    if parts.query or parts.fragment:
        raise PassValidationError("webServiceURL", "must not carry a query or fragment")
    if parts.scheme != "https" and not (parts.scheme == "http" and (parts.hostname in LOCAL_HOSTS or allow_http)):
        raise PassValidationError("webServiceURL", "must use https")


# What json.dumps would build for these options on every call. No circularity check: to_json_dict
# builds fresh dicts and lists from frozen objects (userInfo is a copy through json.loads), so
# none can contain itself, and the check kept a dict of every container of every pass.
_PASS_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False,
                                      check_circular=False)


def check_update(previous: Pass, new: Pass) -> None:
    """Refuse an update Wallet would treat as a different pass or fail to authenticate.

    The device keeps the first serialNumber and authenticationToken it saw and uses them
    for every later web-service call, so changing either orphans the installed pass.
    """
    for attr, json_name in (
        ("pass_type_identifier", "passTypeIdentifier"),
        ("serial_number", "serialNumber"),
        ("authentication_token", "authenticationToken"),
    ):
        if getattr(previous, attr) != getattr(new, attr):
            raise PassValidationError(json_name, "must not change in an update")
