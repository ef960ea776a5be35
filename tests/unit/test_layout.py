"""The package tree is the pipeline: each stage imports only earlier stages.

The order is the one ``docs/architecture.md`` draws. ``timeline`` comes before
``locust_glue`` because it is the record format the load generators write and every later
stage reads; ``stats`` and ``live`` come before it too, because the master computes live
figures (with intervals) from the seconds it merges. Modules at the top of ``framework``
(errors, suggestions, converters) belong to no stage and may be imported by any; nothing
imports the CLI, and only ``framework.locust_glue`` imports Locust or gevent.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

FRAMEWORK = Path(__file__).resolve().parents[2] / "framework"
STAGES = [
    "scenario",
    "plan",
    "timeline",
    "stats",
    "live",
    "locust_glue",
    "run",
    "verdicts",
    "reports",
    "store",
    "suites",
    "cli",
]
SHARED = {"errors", "suggestions", "converters", "durations", "limits"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute module name ``path`` imports, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def _modules() -> list[tuple[Path, tuple[str, ...]]]:
    return [
        (path, path.relative_to(FRAMEWORK).with_suffix("").parts)
        for path in sorted(FRAMEWORK.rglob("*.py"))
    ]


def test_every_module_belongs_to_a_stage_or_is_shared():
    loose = [
        "/".join(parts)
        for _path, parts in _modules()
        if parts[0] not in STAGES and parts[0] not in SHARED | {"__init__"}
    ]
    assert loose == []


def test_every_stage_says_what_it_takes_and_gives():
    for stage in STAGES:
        doc = ast.get_docstring(ast.parse((FRAMEWORK / stage / "__init__.py").read_text()))
        assert doc and len(doc.splitlines()) >= 3, stage


def test_no_stage_imports_a_later_stage():
    wrong = []
    for path, parts in _modules():
        if parts[0] not in STAGES:
            continue
        rank = STAGES.index(parts[0])
        for line, module in _imports(path):
            names = module.split(".")
            later = names[0] == "framework" and len(names) > 1 and names[1] in STAGES
            if later and STAGES.index(names[1]) > rank:
                wrong.append(f"{path.relative_to(FRAMEWORK)}:{line} imports {module}")
    assert wrong == []


def test_shared_modules_import_no_stage():
    wrong = [
        f"{path.name}:{line} imports {module}"
        for path, parts in _modules()
        if parts[0] in SHARED
        for line, module in _imports(path)
        if module.startswith("framework.") and module.split(".")[1] in STAGES
    ]
    assert wrong == []


def test_only_the_locust_glue_imports_locust_or_gevent():
    wrong = [
        f"{path.relative_to(FRAMEWORK)}:{line} imports {module}"
        for path, parts in _modules()
        if parts[0] != "locust_glue"
        for line, module in _imports(path)
        if module.split(".")[0] in {"locust", "gevent"}
    ]
    assert wrong == []


@pytest.mark.parametrize("stage", [s for s in STAGES if s not in {"locust_glue", "cli"}])
def test_each_stage_imports_without_locust_or_gevent(stage):
    code = (
        f"import sys, framework.{stage}, pkgutil, importlib\n"
        f"for m in pkgutil.walk_packages(framework.{stage}.__path__, 'framework.{stage}.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in {'locust', 'gevent'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
