"""Located YAML: plain data plus the 1-based line and column of every key and value."""

from __future__ import annotations

import pytest

from framework.scenario.yaml_source import YamlSyntaxError, load_located

TEXT = """\
name: t
users:
  - name: u
    requests: [{path: /x}, {path: /y}]
load:
  shape: constant
notes: |
  two
  lines
"""


def test_data_is_plain_python():
    located = load_located(TEXT)
    assert located.data == {
        "name": "t",
        "users": [{"name": "u", "requests": [{"path": "/x"}, {"path": "/y"}]}],
        "load": {"shape": "constant"},
        "notes": "two\nlines\n",
    }


@pytest.mark.parametrize(
    ("path", "position"),
    [
        ((), (1, 1)),
        (("name",), (1, 7)),
        (("users",), (3, 3)),
        (("users", 0), (3, 5)),
        (("users", 0, "name"), (3, 11)),
        (("users", 0, "requests", 1), (4, 28)),
        (("users", 0, "requests", 1, "path"), (4, 35)),
        (("load", "shape"), (6, 10)),
        (("notes",), (7, 8)),
    ],
)
def test_value_positions_are_one_based(path, position):
    assert load_located(TEXT).values[path] == position


@pytest.mark.parametrize(
    ("path", "position"),
    [
        (("name",), (1, 1)),
        (("users", 0, "requests"), (4, 5)),
        (("users", 0, "requests", 0, "path"), (4, 17)),
        (("load", "shape"), (6, 3)),
    ],
)
def test_key_positions_are_one_based(path, position):
    assert load_located(TEXT).keys[path] == position


def test_position_prefers_the_key_when_asked():
    located = load_located(TEXT)
    assert located.position(("load", "shape")) == (6, 10)
    assert located.position(("load", "shape"), prefer_key=True) == (6, 3)


def test_position_of_an_absent_path_falls_back_to_the_nearest_ancestor():
    located = load_located(TEXT)
    assert located.position(("users", 0, "requests", 5, "path")) == (4, 15)
    assert located.position(("load", "users")) == (6, 3)
    assert located.position(("nothing", "here")) == (1, 1)


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_document_is_an_empty_mapping(text):
    located = load_located(text)
    assert located.data == {}
    assert located.position(("name",)) is None


def test_explicit_empty_document_is_an_empty_mapping():
    assert load_located("---\n").data == {}


def test_top_level_list_is_returned_as_a_list():
    located = load_located("- a\n- b\n")
    assert located.data == ["a", "b"]
    assert located.values[(1,)] == (2, 3)


def test_anchors_and_merge_keys_are_expanded():
    located = load_located("base: &b {path: /x}\nreq:\n  <<: *b\n  weight: 2\n")
    assert located.data["req"] == {"path": "/x", "weight": 2}


def test_key_may_override_a_merged_key():
    located = load_located("base: &b {path: /x, method: GET}\nreq:\n  <<: *b\n  method: POST\n")
    assert located.data["req"] == {"path": "/x", "method": "POST"}


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'", (2, 1)),
        ("a:\n  b: 1\n  b: 2\n", "duplicate key 'b'", (3, 3)),
        (
            "a: [1\n",
            "invalid YAML: expected ',' or ']', but got '<stream end>'",
            (2, 1),
        ),
        ("a: 1\n b: 2\n", "invalid YAML: mapping values are not allowed here", (2, 3)),
        (
            'a: "x\n',
            "invalid YAML: found unexpected end of stream",
            (2, 1),
        ),
        (
            "a: 1\n---\nb: 2\n",
            "invalid YAML: expected a single document in the stream; but found another document",
            (2, 1),
        ),
        ("? [k]\n: 1\n", "invalid YAML: a mapping key must be a scalar", (1, 3)),
        (
            "a: !!python/object:os.system x\n",
            "invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'",
            (1, 4),
        ),
    ],
)
def test_syntax_errors_carry_message_and_position(text, message, position):
    with pytest.raises(YamlSyntaxError) as info:
        load_located(text)
    assert (str(info.value), info.value.position) == (message, position)
