"""docs/results.md documents every field results.json holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

from framework.verdicts.results import RESULTS_VERSION
from tests.fixtures.results import result_builders as rb

DOC = Path(__file__).resolve().parents[3] / "docs" / "results.md"


def _keys(value, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            found.add(key)
            _keys(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _keys(inner, found)
    return found


def test_every_field_of_results_json_is_documented():
    spans = re.findall(r"`([^`]+)`", DOC.read_text(encoding="utf-8"))
    documented = {word for span in spans for word in re.findall(r"[a-z_0-9]+", span)}
    data = json.loads(json.dumps(rb.stepped_results().to_dict()))
    data.update(json.loads(json.dumps(rb.sample_results().to_dict())))
    data.update(json.loads(json.dumps(rb.open_model_results().to_dict())))
    keys = _keys(data, set())
    # keys that are data, not schema: failure kinds, tags, window names
    keys -= set(rb.sample_results().failures_by_kind) | {"team", "kind", "HTTP 500"}
    missing = sorted(k for k in keys if k not in documented)
    assert not missing, f"undocumented in docs/results.md: {missing}"


def test_doc_describes_the_current_version():
    assert f"**version {RESULTS_VERSION}**" in DOC.read_text(encoding="utf-8")
