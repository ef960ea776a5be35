"""Sample values from schemas: what ``swarm init --from-openapi`` sends as a body."""

from __future__ import annotations

from typing import Any

from jsonschema_path import SchemaPath

from framework.scenario.samples import FORMAT_SAMPLES, MAX_DEPTH, sample_value, written_example


def _sample(schema: Any, **components: Any) -> Any:
    """The sample of ``schema``, with ``components`` as ``#/components/schemas/<name>``."""
    spec = {"schema": schema, "components": {"schemas": components}}
    return sample_value(SchemaPath.from_dict(spec) / "schema")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def test_a_written_example_wins_over_everything_generated():
    schema = {
        "type": "object",
        "example": {"name": "Rex"},
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    assert _sample(schema) == {"name": "Rex"}
    assert _sample({"type": "string", "examples": ["first", "second"], "enum": ["x"]}) == "first"
    assert _sample({"type": "integer", "default": 7, "minimum": 10}) == 7


def test_property_examples_fill_a_generated_object():
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "example": "Rex"}, "tags": {"type": "array"}},
    }
    assert _sample(schema) == {"name": "Rex", "tags": ["sample"]}


def test_enums_give_their_first_value_that_is_not_null():
    assert _sample({"type": ["string", "null"], "enum": [None, "sold", "available"]}) == "sold"
    assert _sample({"const": "fixed"}) == "fixed"


def test_formats_give_valid_values_and_lengths_are_kept():
    assert _sample({"type": "string", "format": "uuid"}) == FORMAT_SAMPLES["uuid"]
    assert _sample({"type": "string", "format": "date-time"}) == "2024-01-01T12:00:00Z"
    assert _sample({"type": "string", "format": "email"}) == "user@example.com"
    assert _sample({"type": "string", "minLength": 10}) == "samplexxxx"
    assert _sample({"type": "string", "maxLength": 3}) == "sam"


def test_numbers_land_inside_their_bounds_in_either_dialect():
    assert _sample({"type": "integer"}) == 1
    assert _sample({"type": "integer", "minimum": 10}) == 10
    assert _sample({"type": "integer", "minimum": 10, "exclusiveMinimum": True}) == 11  # 3.0
    assert _sample({"type": "integer", "exclusiveMinimum": 10}) == 11  # 3.1
    assert _sample({"type": "integer", "maximum": -5}) == -5
    assert _sample({"type": "number", "minimum": 0, "maximum": 1}) == 0.5
    assert _sample({"type": "integer", "minimum": 1, "multipleOf": 5}) == 5
    assert _sample({"type": "boolean"}) is True


def test_nested_objects_and_arrays_of_one_item_with_refs_resolved():
    schema = {"type": "object", "required": ["owner"], "properties": {"owner": _ref("Person")}}
    person = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "pets": {"type": "array", "items": {"type": "integer"}, "minItems": 2},
            "id": {"type": "integer", "readOnly": True},
        },
    }
    assert _sample(schema, Person=person) == {"owner": {"name": "sample", "pets": [1, 1]}}


def test_a_recursive_schema_is_followed_once_and_ends():
    node = {
        "type": "object",
        "required": ["name", "children", "parent"],
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": _ref("Node")},
            "parent": _ref("Node"),
            "next": _ref("Node"),
        },
    }
    assert _sample(_ref("Node"), Node=node) == {"name": "sample", "children": [], "parent": {}}


def test_deep_nesting_stops_at_the_bound():
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH + 3):
        schema = {"type": "object", "required": ["inner"], "properties": {"inner": schema}}
    value = _sample(schema)
    depth = 0
    while isinstance(value, dict) and value:
        value, depth = value["inner"], depth + 1
    assert value == {} and depth == MAX_DEPTH + 1


def test_all_of_merges_its_parts():
    schema = {
        "allOf": [
            _ref("Base"),
            {"type": "object", "properties": {"extra": {"type": "boolean"}}},
        ],
        "properties": {"own": {"type": "integer"}},
    }
    base = {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}}
    assert _sample(schema, Base=base) == {
        "id": FORMAT_SAMPLES["uuid"],
        "extra": True,
        "own": 1,
    }


def test_one_of_picks_the_first_alternative_that_is_not_null_and_sets_its_tag():
    cat = {
        "type": "object",
        "properties": {"kind": {"type": "string"}, "lives": {"type": "integer"}},
    }
    schema = {
        "oneOf": [{"type": "null"}, _ref("Cat"), _ref("Dog")],
        "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat"}},
    }
    assert _sample(schema, Cat=cat, Dog={"type": "object"}) == {"kind": "cat", "lives": 1}
    unmapped = {"anyOf": [_ref("Dog")], "discriminator": {"propertyName": "kind"}}
    assert _sample(unmapped, Dog={"type": "object"}) == {"kind": "Dog"}


def test_written_example_reads_media_type_examples_by_value():
    spec = {
        "media": {"examples": {"first": _ref_example("Small"), "second": {"value": 2}}},
        "components": {"examples": {"Small": {"value": {"size": 1}}}},
    }
    assert written_example(SchemaPath.from_dict(spec) / "media") == {"size": 1}


def _ref_example(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/examples/{name}"}
