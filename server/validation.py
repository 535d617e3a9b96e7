"""Validation at the edge. One declaration per field drives both request parsing and the
OpenAPI schema, so the documentation cannot drift from what the server accepts."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from aiohttp import web

from . import clock
from .clock import parse_time
from .errors import InvalidRequestError, UnsupportedMediaTypeError
from .ids import parse_id
from .text import clean_name, clean_note

Kind = Literal["string", "integer", "boolean", "id", "time", "enum", "string_list", "object"]

MAX_BODY_BYTES = 64 * 1024
# The content types a body may say it is in: JSON, or what clients send it as without saying.
BODY_TYPES = frozenset(("application/json", "application/octet-stream", "text/plain"))

# Times: ISO 8601 with an offset, or a bare date (`Field.date_means` says which midnight), in
# the years `clock` accepts (the pattern spells out FIRST_YEAR to LAST_YEAR, 1970 to 9000).
TIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": "^(19[7-9][0-9]|[2-8][0-9]{3}|9000)-",
}


@dataclass(frozen=True)
class Field:
    kind: Kind
    required: bool = False
    nullable: bool = False
    min_length: int = 0
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    default: Any = None
    description: str = ""
    # People's text: "name" (one line) or "note" (lines) is cleaned of controls (`text.py`).
    text: Literal["name", "note"] | None = None
    # A string's form (a regular expression both Python and JSON Schema read alike, anchored),
    # and what the refusal says after the field's name.
    pattern: str | None = None
    mismatch: str = "is not in the expected form"
    # A time's bare date (2026-01-31): which midnight it is, as its handler reads it.
    date_means: str = "midnight UTC"

    def parse(self, name: str, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise InvalidRequestError(f"{name} must not be null.")
        match self.kind:
            case "string":
                return self._string(name, value)
            case "enum":
                if value not in self.choices:
                    options = ", ".join(self.choices)
                    raise InvalidRequestError(f"{name} must be one of: {options}.")
                return value
            case "integer":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidRequestError(f"{name} must be an integer.")
                if self.minimum is not None and value < self.minimum:
                    raise InvalidRequestError(f"{name} must be at least {self.minimum}.")
                if self.maximum is not None and value > self.maximum:
                    raise InvalidRequestError(f"{name} must be at most {self.maximum}.")
                return value
            case "boolean":
                if not isinstance(value, bool):
                    raise InvalidRequestError(f"{name} must be true or false.")
                return value
            case "id":
                return parse_id(value, name)
            case "time":
                return parse_time(value, name)
            case "object":
                # A nested structure: the domain validates its parts, naming them.
                if not isinstance(value, dict):
                    raise InvalidRequestError(f"{name} must be an object.")
                return value
            case "string_list":
                if not isinstance(value, list):
                    raise InvalidRequestError(f"{name} must be a list of strings.")
                return [self._string(f"{name}[{i}]", v) for i, v in enumerate(value)]
        raise AssertionError(self.kind)  # pragma: no cover

    def _string(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidRequestError(f"{name} must be a string.")
        text: str = value.strip()
        if self.text == "name":
            text = clean_name(text)
        elif self.text == "note":
            text = clean_note(text)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequestError(f"{name} is not valid Unicode text.") from None
        if len(text) < self.min_length:
            raise InvalidRequestError(
                f"{name} must not be empty."
                if self.min_length == 1
                else f"{name} must be at least {self.min_length} characters."
            )
        if self.max_length is not None and len(text) > self.max_length:
            raise InvalidRequestError(f"{name} must be at most {self.max_length} characters.")
        if self.pattern is not None and text and not re.search(self.pattern, text):
            raise InvalidRequestError(f"{name} {self.mismatch}.")
        return text

    def parse_query(self, name: str, raw: str) -> Any:
        """Query strings carry text: convert it, then validate as for a body."""
        match self.kind:
            case "integer":
                try:
                    return self.parse(name, int(raw))
                except ValueError:
                    raise InvalidRequestError(f"{name} must be an integer.") from None
            case "boolean":
                lowered = raw.lower()
                if lowered in ("true", "1", "yes"):
                    return True
                if lowered in ("false", "0", "no"):
                    return False
                raise InvalidRequestError(f"{name} must be true or false.")
        return self.parse(name, raw)

    def schema(self) -> dict[str, Any]:
        base: dict[str, Any]
        match self.kind:
            case "string":
                base = {"type": "string", "minLength": self.min_length}
                if self.max_length is not None:
                    base["maxLength"] = self.max_length
                if self.pattern is not None:
                    base["pattern"] = self.pattern
            case "enum":
                base = {"type": "string", "enum": list(self.choices)}
            case "integer":
                base = {"type": "integer"}
                if self.minimum is not None:
                    base["minimum"] = self.minimum
                if self.maximum is not None:
                    base["maximum"] = self.maximum
            case "boolean":
                base = {"type": "boolean"}
            case "id":
                base = {"type": "string", "pattern": "^[0-9a-f]{24}$"}
            case "time":
                base = dict(TIME_SCHEMA)
                base["description"] = (
                    "ISO 8601 with an offset, for example 2026-01-31T09:00:00Z (a bare date "
                    f"means {self.date_means}); years {clock.FIRST_YEAR} to {clock.LAST_YEAR}"
                )
            case "string_list":
                base = {"type": "array", "items": {"type": "string"}}
            case "object":
                base = {"type": "object"}
        if self.nullable:
            base["type"] = [base["type"], "null"]
            if "enum" in base:
                base["enum"] = [*base["enum"], None]
        if self.description:
            base["description"] = (
                f"{self.description}. {base['description']}"
                if "description" in base
                else self.description
            )
        if self.default is not None:
            base["default"] = self.default
        return base


Spec = Mapping[str, Field]


def object_schema(spec: Spec) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: f.schema() for name, f in spec.items()},
        "required": [name for name, f in spec.items() if f.required],
    }


def parse_body(raw: bytes, request: web.BaseRequest, spec: Spec) -> dict[str, Any]:
    """Parse a request's JSON object body (`raw`, read already) against `spec`: only the
    fields present are returned."""
    if not raw.strip():
        data: Any = {}
    else:
        if request.content_type not in BODY_TYPES:
            raise UnsupportedMediaTypeError("Send the request body as application/json.")
        try:
            data = orjson.loads(raw)  # ~1 µs for a timer call's body
        except orjson.JSONDecodeError:
            # What orjson refuses, the standard library may still read (a lone surrogate in a
            # string, NaN), leaving the message to the field's check, as before.
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise InvalidRequestError("The request body is not valid JSON.") from None
            except RecursionError:
                raise InvalidRequestError("The request body is JSON nested too deeply.") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    unknown = data.keys() - spec.keys()
    if unknown:
        raise InvalidRequestError(f"{min(unknown)} is not a known field.")
    parsed: dict[str, Any] = {}
    for name, field in spec.items():
        if name in data:
            parsed[name] = field.parse(name, data[name])
        elif field.required:
            raise InvalidRequestError(f"{name} is required.")
    return parsed


def read_query(request: web.Request, spec: Spec) -> dict[str, Any]:
    """Parse the query string against `spec`; absent fields take their default."""
    parsed: dict[str, Any] = {}
    for name, field in spec.items():
        values = request.query.getall(name, [])
        if len(values) > 1:
            raise InvalidRequestError(f"{name} is given more than once.")
        if values:
            parsed[name] = field.parse_query(name, values[0])
        elif field.required:
            raise InvalidRequestError(f"{name} is required.")
        else:
            parsed[name] = field.default
    return parsed
