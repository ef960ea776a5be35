"""Sample values from the schemas of an OpenAPI document: the bodies and parameters of the
requests ``swarm init --from-openapi`` writes.

A written example always wins over a generated value (``example``, then the first of
``examples``, ``const``, ``default``, the first ``enum`` value), because the API's authors
chose it to be accepted. Otherwise the value follows the schema: its type, format, bounds
and lengths; every property of an object (required ones always, optional ones down to
``OPTIONAL_DEPTH`` levels), ``readOnly`` ones left out of what is sent; arrays of one item
(or ``minItems``); ``allOf`` merged; of ``oneOf`` / ``anyOf`` the first alternative that is
not ``null``, with its ``discriminator`` value set. A schema that contains itself (a tree,
a linked list) is followed once: the second time round an optional property is left out
and a required one becomes ``{}`` or ``[]``, so every value is finite.

Works on a ``SchemaPath`` (jsonschema-path), which resolves each ``$ref`` as it is walked.
"""

from __future__ import annotations

import math
from typing import Any

from jsonschema_path import SchemaPath

__all__ = ["FORMAT_SAMPLES", "MAX_DEPTH", "OPTIONAL_DEPTH", "sample_value", "written_example"]

MAX_DEPTH = 8
"""Deepest nesting of objects and arrays generated; below it values are ``{}`` / ``[]``."""
OPTIONAL_DEPTH = 4
"""Below this depth only required properties are generated (keeps big bodies small)."""
FORMAT_SAMPLES: dict[str, str] = {
    "date-time": "2024-01-01T12:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00Z",
    "duration": "PT1M",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "/example",
    "iri-reference": "/example",
    "uri-template": "https://example.com/{id}",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "byte": "c2FtcGxl",
    "binary": "sample",
    "password": "sample-password",
    "json-pointer": "/example",
    "regex": "^sample$",
}
"""A valid value of each string format (RFC 5737/3849 documentation addresses)."""

_SKIP = object()


def written_example(node: SchemaPath) -> Any:
    """The example the authors wrote on ``node`` (a media type, parameter or schema):
    ``example``, else the ``value`` of the first of ``examples`` (a map of Example Objects,
    or a JSON Schema list); ``_SKIP``-free: ``None`` when there is none."""
    value = _example(node)
    return None if value is _SKIP else value


def _example(node: SchemaPath) -> Any:
    with node.open() as contents:
        if not isinstance(contents, dict):
            return _SKIP
        if "example" in contents:
            return contents["example"]
        examples = contents.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    if isinstance(examples, dict) and examples:
        first = node / "examples" / next(iter(examples))
        with first.open() as example:
            if isinstance(example, dict) and "value" in example:
                return example["value"]
    return _SKIP


def sample_value(schema: SchemaPath) -> Any:
    """A value that ``schema`` accepts (see the module docstring for the rules)."""
    value = _Sampler().value(schema, 0)
    return None if value is _SKIP else value


class _Sampler:
    """One walk: the schemas being generated (by identity) tell a cycle from a repeat."""

    def __init__(self) -> None:
        self._active: set[int] = set()

    def value(self, node: SchemaPath, depth: int) -> Any:
        """``node``'s sample, or ``_SKIP`` when it recurses or passes ``MAX_DEPTH``."""
        with node.open() as contents:
            if contents is True or contents == {}:
                return "sample"
            if not isinstance(contents, dict):
                return _SKIP
            key = id(contents)
            if key in self._active or depth > MAX_DEPTH:
                return _SKIP
            self._active.add(key)
            try:
                return self._generate(node, contents, depth)
            finally:
                self._active.discard(key)

    def _generate(self, node: SchemaPath, contents: dict[str, Any], depth: int) -> Any:
        written = _example(node)
        if written is not _SKIP:
            return written
        for field in ("const", "default"):
            if field in contents:
                return contents[field]
        enum = contents.get("enum")
        if isinstance(enum, list) and enum:
            return next((v for v in enum if v is not None), enum[0])
        if "allOf" in contents:
            return self._all_of(node, contents, depth)
        for field in ("oneOf", "anyOf"):
            if isinstance(contents.get(field), list) and contents[field]:
                return self._one_of(node, contents, field, depth)
        kind = _type(contents)
        if kind == "object":
            return self._object(node, contents, depth)
        if kind == "array":
            return self._array(node, contents, depth)
        if kind in ("integer", "number"):
            return _number(contents, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return _string(contents)

    def _all_of(self, node: SchemaPath, contents: dict[str, Any], depth: int) -> Any:
        merged: dict[str, Any] = {}
        other: Any = _SKIP
        for index in range(len(contents["allOf"])):
            part = self.value(node / "allOf" / index, depth)
            if isinstance(part, dict):
                merged.update(part)
            elif part is not _SKIP and other is _SKIP:
                other = part
        if "properties" in contents:
            merged.update(self._object(node, contents, depth))
        if merged or other is _SKIP:
            return merged
        return other

    def _one_of(self, node: SchemaPath, contents: dict[str, Any], field: str, depth: int) -> Any:
        options = contents[field]
        index = next((i for i, o in enumerate(options) if not _is_null(o)), 0)
        value = self.value(node / field / index, depth)
        if value is _SKIP:
            return _SKIP
        discriminator = contents.get("discriminator")
        if isinstance(value, dict) and isinstance(discriminator, dict):
            name = discriminator.get("propertyName")
            tag = _discriminator_value(discriminator, options[index])
            if isinstance(name, str) and tag is not None:
                value = {**value, name: tag}
        if "properties" in contents and isinstance(value, dict):
            value = {**self._object(node, contents, depth), **value}
        return value

    def _object(self, node: SchemaPath, contents: dict[str, Any], depth: int) -> dict[str, Any]:
        required = contents.get("required") or []
        properties = contents.get("properties") or {}
        out: dict[str, Any] = {}
        for name in properties:
            needed = name in required
            if not needed and depth >= OPTIONAL_DEPTH:
                continue
            child = node / "properties" / name
            with child.open() as schema:
                if isinstance(schema, dict) and schema.get("readOnly") is True and not needed:
                    continue
            value = self.value(child, depth + 1)
            if value is _SKIP:
                if needed:
                    out[name] = _empty(child)
                continue
            out[name] = value
        for name in required:
            if name not in out and name not in properties:
                out[name] = "sample"
        return out

    def _array(self, node: SchemaPath, contents: dict[str, Any], depth: int) -> list[Any]:
        count = max(1, _int(contents.get("minItems"), 0))
        if "prefixItems" in contents and isinstance(contents["prefixItems"], list):
            items = [
                self.value(node / "prefixItems" / i, depth + 1)
                for i in range(len(contents["prefixItems"]))
            ]
            return [item for item in items if item is not _SKIP]
        if "items" not in contents or not isinstance(contents["items"], dict):
            return ["sample"] * count
        item = self.value(node / "items", depth + 1)
        if item is _SKIP:
            return []
        return [item] * count


def _type(contents: dict[str, Any]) -> str | None:
    """The schema's type: the first that is not ``null`` of a 3.1 list; else by its keys."""
    kind = contents.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if kinds else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in contents or "required" in contents:
        return "object"
    if "items" in contents or "prefixItems" in contents:
        return "array"
    if any(k in contents for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return None


def _is_null(option: Any) -> bool:
    return isinstance(option, dict) and option.get("type") == "null"


def _discriminator_value(discriminator: dict[str, Any], option: Any) -> str | None:
    """The tag of the chosen alternative: its key in ``mapping``, else its schema's name."""
    ref = option.get("$ref") if isinstance(option, dict) else None
    if not isinstance(ref, str):
        return None
    mapping = discriminator.get("mapping") or {}
    for tag, target in mapping.items():
        if target == ref or ref.endswith(f"/{target}"):
            return str(tag)
    return ref.rsplit("/", 1)[-1]


def _empty(node: SchemaPath) -> Any:
    """What a required value that recursed becomes: ``[]`` for an array, else ``{}``."""
    with node.open() as contents:
        return [] if isinstance(contents, dict) and _type(contents) == "array" else {}


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _bound(value: Any) -> float | None:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number and math.isfinite(value) else None


def _number(contents: dict[str, Any], *, integer: bool) -> int | float:
    """1 (or 1.5) moved into ``minimum``/``maximum`` (exclusive in either dialect) and onto
    ``multipleOf``."""
    low, high = _bound(contents.get("minimum")), _bound(contents.get("maximum"))
    low_open = high_open = False
    excl_min, excl_max = contents.get("exclusiveMinimum"), contents.get("exclusiveMaximum")
    if excl_min is True:
        low_open = low is not None
    elif _bound(excl_min) is not None:
        low, low_open = _bound(excl_min), True
    if excl_max is True:
        high_open = high is not None
    elif _bound(excl_max) is not None:
        high, high_open = _bound(excl_max), True
    value = 1.0 if integer else 1.5
    if low is not None and high is not None:
        value = (low + high) / 2
    elif low is not None and (value < low or (low_open and value <= low)):
        value = low + 1 if low_open else low
    elif high is not None and (value > high or (high_open and value >= high)):
        value = high - 1 if high_open else high
    step = _bound(contents.get("multipleOf"))
    if step:
        value = math.ceil(value / step) * step
        if high is not None and value > high:
            value -= step
    if integer:
        value = math.ceil(value) if low is not None else math.floor(value)
        return int(value)
    return round(value, 6)


def _string(contents: dict[str, Any]) -> str:
    """The format's sample, else ``"sample"`` stretched to ``minLength``, cut to ``maxLength``."""
    fmt = contents.get("format")
    if isinstance(fmt, str) and fmt in FORMAT_SAMPLES:
        return FORMAT_SAMPLES[fmt]
    text = "sample"
    shortest = _int(contents.get("minLength"), 0)
    if len(text) < shortest:
        text += "x" * (shortest - len(text))
    longest = contents.get("maxLength")
    if isinstance(longest, int) and not isinstance(longest, bool) and longest < len(text):
        text = text[: max(longest, 0)]
    return text
