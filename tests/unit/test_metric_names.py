"""One metric list: every list of key metrics or figure fields agrees with scenario.metrics."""

from __future__ import annotations

import dataclasses
import typing

from framework.cli.store_commands import HISTORY_METRICS
from framework.reports.formatting import COMPARED_UNITS
from framework.scenario.budgets import BUDGET_METRICS
from framework.scenario.metrics import FIGURE_FIELDS, KEY_METRICS, LATENCY_METRICS
from framework.stats.metric_statistics import METRICS as ESTIMATOR_METRICS
from framework.store.records import FIGURES, KeyFigures
from framework.store.results_store import METRICS as HISTORY_FIELDS
from framework.verdicts.results import EndpointResult, Figure
from framework.verdicts.rules import COMPARED_METRICS


def _figure_fields(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [f.name for f in dataclasses.fields(cls) if hints[f.name] is Figure]


def test_figure_fields_are_the_results_figures_in_order():
    assert list(FIGURE_FIELDS.values()) == _figure_fields(EndpointResult)
    assert list(FIGURES) == _figure_fields(KeyFigures) == list(FIGURE_FIELDS.values())


def test_every_key_metric_is_estimated_compared_and_charted():
    assert set(KEY_METRICS) <= set(ESTIMATOR_METRICS)
    assert COMPARED_METRICS == KEY_METRICS
    assert sorted(HISTORY_METRICS) == sorted(KEY_METRICS)
    assert {m: HISTORY_FIELDS[m] for m in KEY_METRICS} == FIGURE_FIELDS
    assert HISTORY_FIELDS["median"] == FIGURE_FIELDS["p50"]


def test_budgets_limit_figures_that_exist_and_latencies_are_the_ms_fields():
    assert {field for field, _kind, _unit in BUDGET_METRICS.values()} == set(FIGURE_FIELDS.values())
    assert set(LATENCY_METRICS) == {"mean", "p50", "p95", "p99"}


def test_every_compared_metric_has_its_unit():
    assert list(COMPARED_UNITS) == list(KEY_METRICS)
    assert {COMPARED_UNITS[m] for m in LATENCY_METRICS} == {"ms"}
