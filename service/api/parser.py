"""The brand API's argument parser: webargs' FlaskParser, with our JSON reading and per-field
character rules, so that every schema gets them without a special case.

A string field is free text (tab and line breaks allowed) when it is declared
`metadata={"free_text": True}` or allows at least FREE_TEXT_MIN_LENGTH characters (terms,
messages, addresses, reasons); every other string (names, slugs, ids, codes, enums) holds no
control character at all. NUL and the other controls are already refused app-wide
(service/web/request_guard.py); this adds the stricter rule for the fields that name things.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Request
from marshmallow import Schema, ValidationError, fields, validate
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from service.platform.text_rules import bad_character
from service.web.problems import Problem
from service.web.request_guard import parse_json

FREE_TEXT_MIN_LENGTH = 280
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_free_text(field: fields.Field) -> bool:
    if field.metadata.get("free_text"):
        return True
    return any(isinstance(rule, validate.Length) and (rule.max or 0) >= FREE_TEXT_MIN_LENGTH
               for rule in field.validators)


def _value_errors(field: fields.Field, value: Any) -> Any:
    """marshmallow-shaped messages for `value` under `field`, or None."""
    if isinstance(field, fields.String) and isinstance(value, str):
        reason = bad_character(value, free_text=is_free_text(field))
        return [reason] if reason else None
    if isinstance(field, fields.List) and isinstance(value, list):
        found = {index: errors for index, item in enumerate(value)
                 if (errors := _value_errors(field.inner, item))}
        return found or None
    if isinstance(field, fields.Dict) and isinstance(value, dict):
        found = {}
        for key, item in value.items():
            errors = (_value_errors(field.key_field, key) if field.key_field else None) or (
                _value_errors(field.value_field, item) if field.value_field else None)
            if errors:
                found[key] = errors
        return found or None
    if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
        if field.many and isinstance(value, list):
            found = {index: errors for index, item in enumerate(value) if (errors := schema_errors(field.schema, item))}
            return found or None
        return schema_errors(field.schema, value) or None
    return None


def schema_errors(schema: Schema, data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        return {}
    by_key = {field.data_key or name: field for name, field in schema.fields.items()}
    return {key: errors for key, value in data.items()
            if key in by_key and (errors := _value_errors(by_key[key], value))}


class PasscastParser(FlaskParser):
    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            if req.content_length or req.mimetype in _FORM_TYPES:
                # A form or other body would read as "no fields" ("Missing data for required
                # field", or a PATCH that silently changes nothing): say what to send instead.
                raise Problem(415, "Unsupported Media Type",
                              "Send the body as JSON, with Content-Type: application/json (this request's "
                              f"Content-Type is {req.mimetype or 'missing'}).", type_="/problems/json-expected")
            return core.missing
        data = req.get_data(cache=True)
        if not data.strip():
            return core.missing
        return parse_json(data)  # InvalidJson: a 400 problem with the reason, not a 500

    def pre_load(self, location_data: Mapping[str, Any], *, schema: Schema, req: Request,
                 location: str) -> Mapping[str, Any]:
        if location in ("json", "json_or_form"):
            errors = schema_errors(schema, location_data)
            if errors:
                raise ValidationError(errors)
        return location_data
