"""load_run: run.json read once into its typed record; a scenario in hand is not parsed again."""

from __future__ import annotations

import pytest

from framework.errors import ReportError
from framework.plan import shapes
from framework.plan.record import PlanRecord
from framework.verdicts.analysis import steady_window
from framework.verdicts.builder import load_run
from tests.synthetic import write_run

PLAN = shapes.constant(users=10, spawn_rate=1, duration_s=60)


def test_the_run_is_read_into_its_record_and_kept_as_written(tmp_path):
    folder = write_run(tmp_path / "run", seconds=60, plan=PLAN)
    data = load_run(folder)
    assert data.record.plan == PlanRecord.from_plan(PLAN)
    assert data.record.run_id == data.run["run_id"] == "run"
    assert steady_window(data.record, data.timeline, None) == steady_window(
        data.run, data.timeline, None
    )


def test_a_scenario_already_loaded_is_used_instead_of_scenario_yaml(tmp_path):
    folder = write_run(tmp_path / "run", seconds=60, plan=PLAN)
    (folder / "scenario.yaml").write_text("budgets: [unclosed", encoding="utf-8")
    with pytest.raises(ReportError, match="invalid YAML"):
        load_run(folder)
    held = {"name": "synthetic", "timeout": 2}
    assert load_run(folder, scenario=held).scenario is held
