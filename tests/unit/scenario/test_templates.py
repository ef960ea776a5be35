"""Request templates: helpers, native JSON types, data rows per request, and strict names."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import jinja2
import pytest

from framework.scenario.datafiles import DataExhaustedError, DataSource
from framework.scenario.templates import (
    HELPERS,
    RenderContext,
    TemplateError,
    compile_tree,
    compile_value,
    is_template,
    template_fields,
)

ROWS = [{"email": "a@x", "pw": "1"}, {"email": "b@x", "pw": "2"}, {"email": "c@x", "pw": "3"}]


def _ctx(user_id: int = 7, sources=None, claimed=None) -> RenderContext:
    return RenderContext(user_id=user_id, sources=sources or {}, claimed=claimed or {})


def _render(text: str, ctx: RenderContext | None = None, **options):
    return compile_value(text, **options)(ctx or _ctx())


@pytest.mark.parametrize(
    ("text", "expected"),
    [("plain", False), ("{{ x }}", True), ("{% if 1 %}{% endif %}", True), ("{ x }", False)],
)
def test_is_template_looks_for_jinja_delimiters(text, expected):
    assert is_template(text) is expected


def test_plain_string_is_returned_unchanged():
    assert _render("/health") == "/health"


def test_random_id_is_32_hex_chars_and_differs_each_time():
    first, second = _render("{{ random_id() }}"), _render("{{ random_id() }}")
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_random_int_stays_within_inclusive_bounds():
    render = compile_value("{{ random_int(3, 5) }}", native=True)
    values = {render(_ctx()) for _ in range(200)}
    assert values == {3, 4, 5}


def test_random_text_has_the_requested_length():
    text = _render("{{ random_text(64) }}")
    assert len(text) == 64
    assert re.fullmatch(r"[A-Za-z0-9 ]{64}", text)


def test_choice_picks_one_of_the_items():
    render = compile_value("{{ choice(['a', 'b']) }}")
    picks = {render(_ctx()) for _ in range(100)}
    assert picks == {"a", "b"}


def test_now_is_iso8601_utc():
    moment = datetime.fromisoformat(_render("{{ now() }}"))
    assert moment.utcoffset() == timedelta(0)


def test_user_id_is_the_simulated_users_number():
    assert _render("user-{{ user_id }}", _ctx(user_id=42)) == "user-42"


def test_helpers_are_exactly_the_documented_ones():
    assert sorted(HELPERS) == ["choice", "now", "random_id", "random_int", "random_text"]


def test_lone_expression_keeps_its_type_in_native_mode():
    assert _render("{{ random_int(5, 5) }}", native=True) == 5
    assert _render(" {{ [1, 2] }} ", native=True) == [1, 2]
    assert _render("{{ user_id }}", _ctx(user_id=3), native=True) == 3


def test_expression_mixed_with_text_is_a_string_even_in_native_mode():
    assert _render("n{{ user_id }}", _ctx(user_id=3), native=True) == "n3"
    assert _render("{{ user_id }}{{ user_id }}", _ctx(user_id=3), native=True) == "33"


def test_without_native_a_lone_expression_is_a_string():
    assert _render("{{ user_id }}", _ctx(user_id=3)) == "3"


def test_json_tree_keeps_native_leaves_and_static_parts():
    render, dynamic = compile_tree(
        {
            "n": "{{ random_int(9, 9) }}",
            "s": "id-{{ user_id }}",
            "l": ["{{ user_id }}", 2],
            "f": 1.5,
        }
    )
    assert dynamic is True
    assert render(_ctx(user_id=3)) == {"n": 9, "s": "id-3", "l": [3, 2], "f": 1.5}


def test_json_tree_without_templates_is_static_and_returned_as_is():
    body = {"a": [1, {"b": "text"}], "c": None}
    render, dynamic = compile_tree(body)
    assert dynamic is False
    assert render(_ctx()) is body


def test_same_data_row_is_used_for_every_field_of_one_request():
    source = DataSource("acc", ROWS, "sequential")
    ctx = _ctx(sources={"acc": source})
    render, _ = compile_tree(
        {"u": "{{ data.acc.email }}", "p": "{{ data.acc.pw }}"}, data_names=["acc"]
    )
    assert render(ctx) == {"u": "a@x", "p": "1"}


def test_sequential_rows_cycle_across_requests():
    source = DataSource("acc", ROWS, "sequential")
    render = compile_value("{{ data.acc.email }}", data_names=["acc"])
    seen = [render(_ctx(sources={"acc": source})) for _ in range(5)]
    assert seen == ["a@x", "b@x", "c@x", "a@x", "b@x"]


def test_random_rows_are_drawn_from_the_file_and_repeat_with_a_seed():
    def draws(seed: int) -> list[str]:
        source = DataSource("acc", ROWS, "random", seed=seed)
        render = compile_value("{{ data.acc.email }}", data_names=["acc"])
        return [render(_ctx(sources={"acc": source})) for _ in range(30)]

    assert set(draws(1)) == {"a@x", "b@x", "c@x"}
    assert draws(1) == draws(1)


def test_unique_rows_are_claimed_once_each_then_run_out():
    source = DataSource("acc", ROWS, "unique")
    claimed = [source.claim_row() for _ in range(3)]
    assert claimed == ROWS
    with pytest.raises(DataExhaustedError) as info:
        source.claim_row()
    assert str(info.value) == (
        "data file 'acc' has 3 rows, all taken by other users; add rows or use fewer users"
    )


def test_claimed_row_is_used_for_all_of_a_users_requests():
    source = DataSource("acc", ROWS, "unique")
    row = source.claim_row()
    render = compile_value("{{ data.acc.email }}", data_names=["acc"])
    seen = {render(_ctx(sources={"acc": source}, claimed={"acc": row})) for _ in range(3)}
    assert seen == {"a@x"}


def test_data_subscript_reads_the_same_row():
    source = DataSource("acc", ROWS, "sequential")
    text = "{{ data['acc']['email'] }}/{{ data.acc.pw }}"
    assert _render(text, _ctx(sources={"acc": source}), data_names=["acc"]) == "a@x/1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{{ userid }}",
            "unknown template name(s) ['userid']; allowed: choice, data, now, random_id, "
            "random_int, random_text, user_id, vars",
        ),
        (
            "{{ random_id() }}-{{ foo }}-{{ bar }}",
            "unknown template name(s) ['bar', 'foo']; allowed: choice, data, now, random_id, "
            "random_int, random_text, user_id, vars",
        ),
        (
            "{{ data.acc.email",
            "template syntax error: unexpected end of template, expected 'end of print statement'.",
        ),
        ("{{ data.other.x }}", "template uses data file 'other'; known data files: acc"),
    ],
)
def test_compile_refuses_unknown_names_and_bad_syntax(text, message):
    with pytest.raises(TemplateError) as info:
        compile_value(text, data_names=["acc"])
    assert str(info.value) == message


def test_data_dot_in_literal_text_is_not_a_data_file():
    render = compile_value("/export/data.json?user={{ user_id }}")
    assert render(_ctx(user_id=5)) == "/export/data.json?user=5"


def test_local_template_variables_are_allowed():
    assert _render("{% set n = 2 %}{{ n * user_id }}", _ctx(user_id=4)) == "8"


def test_missing_column_fails_the_render_instead_of_sending_empty_text():
    source = DataSource("acc", ROWS, "sequential")
    render = compile_value("/u/{{ data.acc.emial }}", data_names=["acc"])
    with pytest.raises(jinja2.UndefinedError, match="emial"):
        render(_ctx(sources={"acc": source}))


def test_missing_column_in_native_json_leaf_fails_the_render():
    source = DataSource("acc", ROWS, "sequential")
    render, _ = compile_tree({"email": "{{ data.acc.emial }}"}, data_names=["acc"])
    with pytest.raises(jinja2.UndefinedError):
        render(_ctx(sources={"acc": source}))


def test_data_file_without_a_source_fails_the_render_by_name():
    render = compile_value("{{ data.acc.email }}", data_names=["acc"])
    with pytest.raises(jinja2.UndefinedError, match="no data file named 'acc'"):
        render(_ctx())


def test_sandbox_blocks_python_internals():
    render = compile_value("{{ ''.__class__ }}")
    with pytest.raises(jinja2.exceptions.SecurityError):
        render(_ctx())


def test_template_fields_are_every_header_query_value_path_body_and_json():
    request = {
        "path": "/{{ data.a.x }}",
        "body": "b",
        "json": {"k": ["j"]},
        "query": {"q": "v"},
        "headers": {"H": "h"},
        "method": "not a template",
        "name": "neither",
    }
    data = {
        "headers": {"S": "s"},
        "host": "http://not-a-template",
        "users": [{"headers": {"U": "u"}, "requests": [request]}, "skipped"],
    }
    found = dict(template_fields(data))
    base = ("users", 0, "requests", 0)
    assert found == {
        ("headers", "S"): "s",
        ("users", 0, "headers", "U"): "u",
        (*base, "path"): "/{{ data.a.x }}",
        (*base, "body"): "b",
        (*base, "json"): {"k": ["j"]},
        (*base, "query", "q"): "v",
        (*base, "headers", "H"): "h",
    }
