"""Pydantic locations followed back into YAML data and through the model, on literal models."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from framework.scenario.problems import (
    allowed_keys,
    format_path,
    locate,
    union_tags,
    validation_problems,
)
from framework.scenario.yaml_source import load_located
from framework.suggestions import nearest


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Fixed(_Model):
    kind: Literal["fixed"]
    ms: float


class Ramp(_Model):
    kind: Literal["ramp"]
    start_ms: float
    end_ms: float = Field(alias="end")


class Root(_Model):
    name: str
    step: Annotated[Fixed | Ramp, Field(discriminator="kind")]
    weights: dict[str, float] = Field(default_factory=dict)
    items: list[Fixed] = Field(default_factory=list)


def _errors(data: object) -> list:
    with pytest.raises(ValidationError) as caught:
        Root.model_validate(data)
    return caught.value.errors(include_url=False)


def test_union_tags_are_dropped_from_the_path():
    data = {"name": "x", "step": {"kind": "ramp", "start_ms": "slow", "end": 1}}
    (error,) = _errors(data)
    assert error["loc"] == ("step", "ramp", "start_ms")
    assert locate(data, error["loc"], Root, "kind") == (("step", "start_ms"), True)


def test_a_key_named_like_the_tag_value_is_still_found():
    data = {"name": "x", "step": {"kind": "fixed", "ms": 1, "fixed": 2}}
    (error,) = _errors(data)
    assert locate(data, error["loc"], Root, "kind") == (("step", "fixed"), True)


def test_invalid_mapping_keys_are_found_as_yaml_loaded_them():
    data = {"name": "x", "step": {"kind": "fixed", "ms": 1}, "weights": {1: 2.0}}
    (error,) = _errors(data)
    assert error["loc"][-1] == "[key]"
    assert locate(data, error["loc"], Root, "kind") == (("weights", 1), True)


def test_a_missing_field_keeps_the_rest_of_its_location():
    data = {"name": "x", "step": {"kind": "fixed", "ms": 1}, "items": [{"kind": "fixed"}]}
    (error,) = _errors(data)
    assert locate(data, error["loc"], Root, "kind") == (("items", 0, "ms"), False)


def test_allowed_keys_follow_the_tag_and_use_aliases():
    assert allowed_keys(Root, ("step", "ramp"), "kind") == ["kind", "start_ms", "end"]
    assert allowed_keys(Root, ("items", 3), "kind") == ["kind", "ms"]
    assert allowed_keys(Root, ("weights",), "kind") == []


def test_union_tags_list_the_members_in_declaration_order():
    assert union_tags(Root, ("step",), "kind") == ["fixed", "ramp"]
    assert union_tags(Root, ("name",), "kind") == []


def test_nearest_suggests_only_likely_typos():
    assert nearest("strat_ms", ["kind", "start_ms", "end"]) == "start_ms"
    assert nearest("colour", ["kind", "start_ms", "end"]) is None


def test_format_path_treats_booleans_as_keys_not_indexes():
    assert format_path(("weights", True)) == "weights.True"


def test_validation_problems_name_place_path_and_allowed_keys():
    text = "name: x\nstep: {kind: ramp, start_ms: 1, end: 2, strat: 3}\n"
    located = load_located(text)
    errors = _errors(located.data)
    (problem,) = validation_problems("f.yaml", located, located.data, errors, root=Root, tag="kind")
    assert str(problem) == (
        "f.yaml:2:41: step.strat: unknown key 'strat'; did you mean 'start_ms'? "
        "Allowed: kind, start_ms, end."
    )


def test_validation_problems_list_the_tags_when_the_tag_is_missing():
    located = load_located("name: x\nstep: {ms: 1}\n")
    errors = _errors(located.data)
    (problem,) = validation_problems("f.yaml", located, located.data, errors, root=Root, tag="kind")
    assert (problem.path, problem.message) == ("step", "missing 'kind'; allowed: fixed, ramp")
