"""Property: whatever bytes a scenario or a timeline holds, swarm gives a clean error or a
valid result, never another exception (which the CLI would show as a traceback).

Hypothesis draws raw bytes, YAML-like text built from real scenario fields and
``*alias``es, and JSON lines mutated from a real timeline. The runs are derandomized (the
same examples every time, no example database), so CI is deterministic; each property is
bounded in examples and takes a few seconds.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from framework.errors import SwarmError
from framework.scenario.loader import LoadedScenario, load_scenario
from framework.timeline.reader import read_timeline
from framework.timeline.records import FILE_NAME, RequestSecond, Second, Timeline
from framework.timeline.writer import TimelineWriter

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_KEYS = [
    "name",
    "host",
    "users",
    "requests",
    "path",
    "method",
    "weight",
    "load",
    "shape",
    "duration",
    "stages",
    "data",
    "file",
    "budgets",
    "p95_ms",
    "error_rate",
    "json",
    "headers",
    "expect",
    "secrets",
    "<<",
]
_SCALARS = st.one_of(
    st.sampled_from(
        ["constant", "wave", "GET", "POST", "/x", "10s", "5%", "1e400", "${X}", "{{ x }}", ""]
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), inner, max_size=5),
    ),
    max_leaves=30,
)
_YAML_NOISE = st.sampled_from(
    [
        *["&a ", "*a", "*b", "&b [*a, *a]", "!!int x", "!!set", "? ", ": ", "- ", "[", "]"],
        *["{", "}", "\t", "\x00", "\ufeff", "---\n", "...\n", "'", '"', "|\n", "\n  "],
        *["2001-13-45", "<<: *a"],
    ]
)


_RAW_VALUES = [
    "!!int x",
    "!!float x",
    "!!bool maybe",
    "!!timestamp x",
    "2001-13-45",
    "!!binary '@'",
    "!!set {a, b}",
    "&a [*a]",
    "*nowhere",
    "[" * 100 + "]" * 100,
    "'" + "x" * 500 + "'",
    "1e400",
    "-1",
    "0x10",
]
"""Scalars and collections that break a constructor, a limit or a range when they are a
value: the yaml-like strategies alone rarely put them where a value goes."""


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    """A YAML dump of scenario-like data, with YAML syntax spliced in at random places."""
    text = yaml.safe_dump(draw(_VALUES), sort_keys=False, allow_unicode=True)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(_YAML_NOISE) + text[at:]
    return text


SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
REAL = [path.read_text(encoding="utf-8") for path in sorted(SCENARIOS.glob("*.yaml"))]


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> str:
    """A ready-made scenario with values replaced by any YAML value, keys dropped, or lines
    cut, swapped or spliced with YAML syntax: close enough to valid to reach validation."""
    lines = draw(st.sampled_from(REAL)).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        line = lines[index]
        action = draw(st.sampled_from(["value", "noise", "cut", "drop", "swap"]))
        if action == "value" and ":" in line:
            head = line[: line.index(":") + 1]
            value = yaml.safe_dump(draw(_VALUES), default_flow_style=True).strip()
            value = draw(st.sampled_from([value.removesuffix("...").strip(), *_RAW_VALUES]))
            lines[index] = f"{head} {value}"
        elif action == "noise":
            at = draw(st.integers(min_value=0, max_value=len(line)))
            lines[index] = line[:at] + draw(_YAML_NOISE) + line[at:]
        elif action == "cut":
            lines[index] = line[: draw(st.integers(min_value=0, max_value=len(line)))]
        elif action == "drop" and len(lines) > 1:
            del lines[index]
        else:
            other = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="swarm-fuzz-") as name:
        shutil.copytree(SCENARIOS / "data", Path(name) / "data")  # what the scenarios read
        yield Path(name)


def _scenario_outcome(folder: Path, content: bytes) -> None:
    path = folder / "scenario.yaml"
    path.write_bytes(content)
    try:
        loaded = load_scenario(path, env={}, render_templates=True)
    except SwarmError as exc:
        event(f"refused: {type(exc).__name__}")
        return
    event("loaded")
    assert isinstance(loaded, LoadedScenario)


@FUZZ
@given(content=st.binary(max_size=2000))
def test_any_bytes_as_a_scenario_give_a_clean_error_or_a_scenario(folder, content):
    _scenario_outcome(folder, content)


@FUZZ
@given(text=yaml_texts())
def test_any_yaml_like_scenario_gives_a_clean_error_or_a_scenario(folder, text):
    _scenario_outcome(folder, text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(text=mutated_scenarios())
def test_any_mutated_real_scenario_gives_a_clean_error_or_a_scenario(folder, text):
    _scenario_outcome(folder, text.encode("utf-8", "surrogatepass"))


def _timeline_lines() -> list[str]:
    """A sound timeline of three seconds (header, req, sec and end lines) to mutate."""
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / FILE_NAME
        with TimelineWriter(path, created_s=1_700_000_000.0) as writer:
            for t in (1_700_000_000, 1_700_000_001, 1_700_000_002):
                request = RequestSecond.from_latencies(
                    t, "GET", "/ok", [1.0, 2.0, 30.0], failures={"HTTP 500": 1}
                )
                writer.write_second(Second(t=t, users=2, workers=1, requests=(request,)))
        return path.read_text(encoding="utf-8").splitlines()


SOUND = _timeline_lines()
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@st.composite
def timeline_texts(draw: st.DrawFn) -> bytes:
    """The sound timeline with lines dropped, duplicated, cut, or with a field replaced by
    any JSON value, plus lines of any JSON (or nested deeper than a JSON parser goes)."""
    lines = list(SOUND)
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["field", "cut", "drop", "dup", "json", "deep", "bytes"]))
        if action == "field":
            try:
                record = json.loads(lines[index])
            except (ValueError, RecursionError):  # a line this strategy made too deep
                continue
            if isinstance(record, dict) and record:
                key = draw(st.sampled_from(sorted(record)) | st.text(max_size=6))
                record[key] = draw(_JSON)
                lines[index] = json.dumps(record)
        elif action == "cut":
            lines[index] = lines[index][: draw(st.integers(0, len(lines[index])))]
        elif action == "drop" and len(lines) > 1:
            del lines[index]
        elif action == "dup":
            lines.insert(index, lines[index])
        elif action == "json":
            lines.insert(index, json.dumps(draw(_JSON)))
        elif action == "deep":  # past orjson's 1024 levels, into json's recursion
            depth = draw(st.integers(min_value=1000, max_value=100_000))
            lines.insert(index, "[" * depth + "]" * depth)
        else:
            lines.insert(index, draw(st.binary(max_size=40)).decode("latin-1"))
    return ("\n".join(lines) + draw(st.sampled_from(["\n", ""]))).encode("utf-8", "replace")


def _timeline_outcome(folder: Path, content: bytes) -> None:
    path = folder / FILE_NAME
    path.write_bytes(content)
    try:
        timeline = read_timeline(path)
    except SwarmError as exc:
        event(f"refused: {type(exc).__name__}")
        return
    event("read" if not timeline.damaged_records else "read, with damaged lines")
    assert isinstance(timeline, Timeline)


@FUZZ
@given(content=st.binary(max_size=2000))
def test_any_bytes_as_a_timeline_give_a_clean_error_or_a_timeline(folder, content):
    _timeline_outcome(folder, content)


@FUZZ
@given(content=timeline_texts())
def test_any_damaged_timeline_gives_a_clean_error_or_a_timeline(folder, content):
    _timeline_outcome(folder, content)
