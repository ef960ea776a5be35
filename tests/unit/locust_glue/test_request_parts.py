"""A request compiled once (``request_parts``): what does not change is made once and shared,
templates render on every call, and a template that fails names its field."""

from __future__ import annotations

import pytest

from framework.locust_glue.compiler import request_parts
from framework.scenario.interpolation import Redactor
from framework.scenario.request import RequestSpec
from framework.scenario.templates import TemplateRenderError


def _parts(spec: dict, base_headers: dict | None = None):
    return request_parts(
        RequestSpec.model_validate(spec),
        "step",
        base_headers or {},
        {},
        [],
        Redactor(),
        "users[0].flow[1]",
    )


def test_only_the_templates_render_per_call_and_the_fixed_arguments_are_shared():
    parts = _parts(
        {"path": "/items/{{ vars.id }}", "method": "POST", "json": {"a": 1}},
        base_headers={"X-Team": "blue"},
    )
    assert parts.static is None
    url_1, kwargs_1 = parts.render(None, {"id": 7})
    url_2, kwargs_2 = parts.render(None, {"id": 8})
    assert (url_1, url_2) == ("/items/7", "/items/8")
    assert kwargs_1 == {"name": "step", "headers": {"X-Team": "blue"}, "json": {"a": 1}}
    assert kwargs_2 is kwargs_1  # nothing in them is a template: made once


def test_a_templated_body_and_header_render_into_fresh_arguments_each_call():
    parts = _parts(
        {
            "path": "/orders",
            "method": "POST",
            "headers": {"Authorization": "Bearer {{ vars.token }}", "X-Fixed": "1"},
            "json": {"token": "{{ vars.token }}", "n": 2},
        }
    )
    url, first = parts.render(None, {"token": "t-1"})
    _url, second = parts.render(None, {"token": "t-2"})
    assert url == "/orders"
    assert first == {
        "name": "step",
        "headers": {"Authorization": "Bearer t-1", "X-Fixed": "1"},
        "json": {"token": "t-1", "n": 2},
    }
    assert second["headers"]["Authorization"] == "Bearer t-2"
    assert second["json"]["token"] == "t-2" and first["json"]["token"] == "t-1"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"path": "/a/{{ vars.nope }}"}, "path"),
        ({"path": "/a", "headers": {"X-T": "{{ vars.nope }}"}}, "headers.X-T"),
        ({"path": "/a", "method": "POST", "json": {"t": "{{ vars.nope }}"}}, "json"),
        ({"path": "/a", "method": "POST", "body": "t={{ vars.nope }}"}, "body"),
    ],
)
def test_a_template_that_fails_names_its_field(spec, field):
    with pytest.raises(TemplateRenderError) as raised:
        _parts(spec).render(None, {})
    assert f"users[0].flow[1].{field}" in str(raised.value)
