"""Google's own field list for the Wallet REST API, enforced the way Google's JSON front end does.

The walletobjects v1 discovery document is read from the installed google-api-python-client
(never copied here), so the double refuses exactly what Google refuses: an unknown field, a
value of the wrong JSON type, a string that is not one of an enum's values. Google binds a
request body to a proto field (`resource` for insert / patch / update, `add_message_request`
for addMessage) and names every place in proto (snake_case) form, so a LoyaltyObject carrying
`hexBackgroundColor` is answered

    Invalid JSON payload received. Unknown name "hexBackgroundColor" at 'resource': Cannot find field.

The checks follow the proto3 JSON mapping Google parses with: 64-bit integers (discovery
type string, format int64 / uint64) and 32-bit ones (type integer) are accepted as a JSON
number or a decimal string; `null` stands for "not set" everywhere. Nothing is required:
discovery documents carry no required markers and a patch is any subset of the resource, so
insert-only rules (an id, a classId) stay in the double itself.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from typing import Any

DISCOVERY_DOCUMENT = "discovery_cache/documents/walletobjects.v1.json"
_INTEGER = re.compile(r"^-?\d+$")
_NUMBER_WORDS = ("NaN", "Infinity", "-Infinity")


@functools.cache
def discovery() -> dict[str, Any]:
    """Google's walletobjects v1 discovery document, as the installed client library ships it."""
    return json.loads(importlib.resources.files("googleapiclient").joinpath(DISCOVERY_DOCUMENT).read_text("utf-8"))


def schemas() -> dict[str, Any]:
    return discovery()["schemas"]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _at(path: str, name: str) -> str:
    return f"{path}.{_snake(name)}"


def _scalar_error(path: str, spec: dict[str, Any], value: Any) -> str | None:
    kind, fmt = spec.get("type"), spec.get("format")
    shown = json.dumps(value, ensure_ascii=False)
    if kind == "string" and fmt in ("int64", "uint64"):
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _INTEGER.fullmatch(value) is not None)
        if ok and fmt == "uint64" and int(value) < 0:
            ok = False
        return None if ok else f"Invalid value at '{path}' (TYPE_{fmt.upper()}), {shown}"
    if kind == "string":
        if not isinstance(value, str):
            return f"Invalid value at '{path}' (TYPE_STRING), {shown}"
        if "enum" in spec and value not in spec["enum"]:
            return f"Invalid value at '{path}' (TYPE_ENUM), {shown}"
        return None
    if kind == "integer":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _INTEGER.fullmatch(value) is not None)
        bits = 32 if fmt in ("int32", "uint32") else 64
        if ok:
            number = int(value)
            low, high = (0, 2**bits - 1) if fmt == "uint32" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            ok = low <= number <= high
        return None if ok else f"Invalid value at '{path}' (TYPE_{(fmt or 'int64').upper()}), {shown}"
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(value, str):
            try:
                float(value)
                ok = True
            except ValueError:
                ok = value in _NUMBER_WORDS
        return None if ok else f"Invalid value at '{path}' (TYPE_DOUBLE), {shown}"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"Invalid value at '{path}' (TYPE_BOOL), {shown}"
    return None  # "any": Google takes whatever JSON


def _walk(path: str, spec: dict[str, Any], value: Any, errors: list[str]) -> None:
    if value is None:  # proto3 JSON: null means "use the default"
        return
    if "$ref" in spec:
        _walk_message(path, spec["$ref"], value, errors)
        return
    kind = spec.get("type")
    if kind == "array":
        if not isinstance(value, list):
            errors.append(f"Invalid value at '{path}' (TYPE_ARRAY), {json.dumps(value, ensure_ascii=False)}")
            return
        for index, item in enumerate(value):
            _walk(f"{path}[{index}]", spec["items"], item, errors)
        return
    if kind == "object":
        if not isinstance(value, dict):
            errors.append(f"Invalid JSON payload received. Expected an object at '{path}'.")
            return
        if "properties" in spec:
            _walk_properties(path, spec["properties"], value, errors)
        elif "additionalProperties" in spec:
            for key, item in value.items():
                _walk(f"{path}[{key}]", spec["additionalProperties"], item, errors)
        return
    if (problem := _scalar_error(path, spec, value)) is not None:
        errors.append(problem)


def _walk_message(path: str, name: str, value: Any, errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"Invalid value at '{path}' (type.googleapis.com/google.walletobjects.v1.{name}), "
                      f"{json.dumps(value, ensure_ascii=False)}")
        return
    _walk_properties(path, schemas()[name].get("properties", {}), value, errors)


def _walk_properties(path: str, properties: dict[str, Any], value: dict[str, Any], errors: list[str]) -> None:
    for key, item in value.items():
        spec = properties.get(key)
        if spec is None:
            errors.append(f'Invalid JSON payload received. Unknown name "{key}" at \'{path}\': Cannot find field.')
            continue
        _walk(_at(path, key), spec, item, errors)


def problems(schema: str, body: Any, *, field: str = "resource") -> list[str]:
    """Google's error messages for `body` read as the discovery schema `schema` (empty: accepted).

    `field` is the request field Google binds the body to: `resource` for insert, patch and
    update; `add_message_request` for addMessage.
    """
    if schema not in schemas():
        raise KeyError(f"no schema {schema!r} in the walletobjects v1 discovery document")
    errors: list[str] = []
    _walk_message(field, schema, body, errors)
    return errors


def bad_request(errors: list[str]) -> dict[str, Any]:
    """Google's 400 answer for payload errors: every violation, with its field, in one error."""
    message = "\n".join(errors)
    violations = [{"field": _violation_field(error), "description": error} for error in errors]
    return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT",
                      "errors": [{"domain": "global", "reason": "invalid", "message": message}],
                      "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                   "fieldViolations": violations}]}}


def _violation_field(error: str) -> str:
    match = re.search(r"at '([^']*)'", error)
    return match.group(1) if match else ""


def save_payload_problems(payload: Any) -> list[str]:
    """What Google would refuse in a "Save to Google Wallet" JWT's `payload` claim (its
    `Resources` schema: loyaltyObjects / loyaltyClasses and the other verticals' lists)."""
    return problems("Resources", payload, field="payload")
