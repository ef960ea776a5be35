"""Durations as people write them: plain seconds or h/m/s/ms parts, always returned in seconds."""

from __future__ import annotations

import math

import pytest

from framework.durations import DURATION_FORMATS, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (2.5, 2.5),
        (0, 0.0),
        ("90", 90.0),
        ("90s", 90.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("2m500ms", 120.5),
        (" 1h 30m ", 5400.0),
    ],
)
def test_duration_is_converted_to_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["2x", "", "ms", "1e3", "1m30", "h1", "ninety"])
def test_unknown_duration_format_lists_the_accepted_ones(text):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == f"invalid duration {text!r}; use {DURATION_FORMATS}"


def test_repeated_unit_is_refused():
    with pytest.raises(ValueError, match=r"^invalid duration '1m1m': a unit appears twice$"):
        parse_duration("1m1m")


@pytest.mark.parametrize("value", [-5, -0.5])
def test_negative_number_is_refused_with_the_value(value):
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert str(info.value) == f"duration must not be negative, got {value!r}"


def test_negative_text_duration_says_negative():
    with pytest.raises(ValueError, match=r"^duration must not be negative, got '-5s'$"):
        parse_duration("-5s")


@pytest.mark.parametrize(("value", "found"), [(True, "True"), (None, "NoneType"), ([1], "list")])
def test_non_duration_type_is_named(value, found):
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert str(info.value) == f"expected a duration, got {found}; use {DURATION_FORMATS}"


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_duration_is_refused(value):
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert str(info.value) == f"duration must be finite, got {value!r}; use {DURATION_FORMATS}"
