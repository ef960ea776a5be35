"""The endpoint key: built once, split back, and matched the same way everywhere."""

from __future__ import annotations

import pytest

from framework.timeline.endpoints import (
    endpoint_key,
    request_name,
    selects,
    split_endpoint_key,
)
from framework.timeline.records import RequestSecond, Second, Timeline


@pytest.mark.parametrize(
    ("method", "name"),
    [("POST", "/detect"), ("GET", "/a b c"), ("", "login flow"), ("", "/plain")],
)
def test_endpoint_key_round_trips_through_the_known_endpoints(method, name):
    known = [("GET", "/detect"), (method, name), ("PUT", "/other")]
    assert split_endpoint_key(endpoint_key(method, name), known) == (method, name)


def test_key_has_the_method_first_and_no_leading_space_without_one():
    assert endpoint_key("POST", "/detect") == "POST /detect"
    assert endpoint_key("", "/detect") == "/detect"


def test_an_unknown_key_is_a_bare_name():
    assert split_endpoint_key("DELETE /x", [("GET", "/x")]) == ("", "DELETE /x")


def test_a_bare_name_selects_every_method_and_a_key_only_its_own():
    assert selects("/x", "GET", "/x") and selects("/x", "POST", "/x")
    assert selects("GET /x", "GET", "/x")
    assert not selects("GET /x", "POST", "/x")


def test_request_name_is_what_follows_the_method():
    assert request_name(endpoint_key("GET", "/item")) == "/item"
    assert request_name("overall") == "overall"


def test_timeline_keys_are_endpoint_keys():
    seconds = [
        Second(t=0, requests=(RequestSecond(0, "GET", "/a", count=1),)),
        Second(t=1, requests=(RequestSecond(1, "", "bare", count=1),)),
    ]
    timeline = Timeline(path=None, header={}, seconds=tuple(seconds))
    assert timeline.names() == sorted([endpoint_key("GET", "/a"), endpoint_key("", "bare")])
    assert timeline.endpoint("GET /a") == ("GET", "/a")
