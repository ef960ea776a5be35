"""Arrivals the plan asked for but no load generator laid out ("missed"), on synthetic runs.

Each run is 60 s at 100 arrivals/s (the analysed window: its first 59 s) with the plan in
``scenario.yaml``; the timeline's ``arr`` lines fall short, vary, or pause by construction.
"""

from __future__ import annotations

import pytest

from framework.plan.rates import stages
from framework.reports.html import render_html
from framework.reports.markdown import render_markdown
from framework.reports.open_model import console_lines
from framework.stats.quality import GroupSchedule, check_schedule, missed_tolerance
from framework.verdicts.builder import ReportOptions, build_results, load_run
from framework.verdicts.planned_arrivals import ArrivalPlan, open_rate_plans, plan_elapsed_s
from tests.open_model_runs import write_open_run

RATE = 100
LOST = [{"worker": "worker-2", "event": "missing", "at": "2023-11-14T22:13:41Z"}]


def scenario(duration_s: int, arrivals: str = "uniform") -> dict:
    return {
        "users": [{"name": "readers", "requests": [{"path": "/orders"}]}],
        "load": {
            "model": "open",
            "shape": "constant",
            "rate": RATE,
            "duration": f"{duration_s}s",
            "arrivals": arrivals,
        },
    }


def analyse(folder):
    results, _ = build_results(load_run(folder), ReportOptions(), created_at="now")
    return results


def schedule_check(results):
    return next(c for c in results.baseline.overall.quality.checks if c.name == "schedule")


def max_dropped(results):
    return next(v for v in results.validation if v.rule == "max_dropped")


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """Seconds 20–24: half of every second's arrivals due on no generator (250 missed)."""
    folder = write_open_run(
        tmp_path_factory.mktemp("missed") / "short",
        rate=RATE,
        short=range(20, 25),
        scenario=scenario(60),
    )
    return analyse(folder)


def test_arrivals_that_fall_short_for_5_s_are_counted_as_missed_and_flagged(short):
    (group,) = short.open_model.groups
    assert (group.planned, group.due, group.dropped) == (5900.0, 5650, 0)
    assert group.missed == 250
    assert group.missed_fraction == pytest.approx(250 / 5900)
    assert group.missed_tolerance == 2.0
    start = short.baseline.start_s
    assert (group.short_from_s - start, group.short_to_s - start) == (20, 25)
    check = schedule_check(short)
    assert check.grade == "warn"
    assert check.reason.startswith(
        "the generator did not keep the schedule: 4.2% of planned arrivals never due "
        "(250 of 5,900) > 0.1%"
    )
    rule = max_dropped(short)
    assert not rule.passed
    assert "4.24% of planned never due (250 of 5,900)" in rule.message
    assert "the generator did not keep the schedule" in rule.message


@pytest.mark.parametrize(
    "lost",
    [{"worker_events": LOST}, {"workers": {i: 1 if 20 <= i < 25 else 2 for i in range(60)}}],
    ids=["run.json worker event", "fewer workers in the timeline"],
)
def test_missed_arrivals_with_a_worker_gone_say_a_load_generator_was_lost(tmp_path, lost):
    folder = write_open_run(
        tmp_path / "lost", rate=RATE, short=range(20, 25), scenario=scenario(60), **lost
    )
    results = analyse(folder)
    assert results.open_model.workers_lost
    assert schedule_check(results).reason.startswith("a load generator was lost: ")
    assert "a load generator was lost" in max_dropped(results).message


def test_a_poisson_schedule_within_its_variation_is_not_flagged(tmp_path):
    # seed 11 draws 121 fewer arrivals than planned over the window: far beyond a uniform
    # schedule's rounding, well within 3 sd (sqrt(5900) = 77) + 1 of a Poisson count
    folder = write_open_run(
        tmp_path / "poisson", rate=RATE, poisson_seed=11, scenario=scenario(60, "poisson")
    )
    results = analyse(folder)
    (group,) = results.open_model.groups
    assert group.missed == 121 > missed_tolerance(group.planned, "uniform")
    assert group.missed_tolerance == pytest.approx(3 * 5900**0.5 + 1, abs=0.1)
    assert group.missed_counted == 0 and group.short_from_s is None
    assert schedule_check(results).grade == "pass"
    assert max_dropped(results).passed


def test_paused_seconds_are_not_missed_the_plan_clock_stands_still_in_them(tmp_path):
    # paused for 6 s from second 30: the plan (54 s) resumes where it stood
    folder = write_open_run(
        tmp_path / "paused", rate=RATE, paused=range(30, 36), scenario=scenario(54)
    )
    results = analyse(folder)
    (group,) = results.open_model.groups
    assert (group.planned, group.due, group.missed) == (5300.0, 5300, 0)
    assert schedule_check(results).grade == "pass"


def test_a_run_whose_plan_cannot_be_rebuilt_reports_no_planned_figures(tmp_path):
    folder = write_open_run(tmp_path / "no-plan", rate=RATE, short=range(20, 25))
    (group,) = analyse(folder).open_model.groups
    assert (group.planned, group.missed, group.missed_fraction) == (None, None, None)


def test_a_saved_scenario_that_is_not_the_one_run_is_not_used(tmp_path):
    # run.json recorded a 60 s plan; a 90 s scenario.yaml is another plan
    folder = write_open_run(tmp_path / "other", rate=RATE, scenario=scenario(90))
    (group,) = analyse(folder).open_model.groups
    assert group.planned is None


def test_reports_show_planned_and_missed_beside_the_drops_and_say_why(short):
    md = render_markdown(short)
    section = md[md.index("**Schedule kept by each load group**") :]
    assert "| Dropped share | Planned | Missed |" in section
    assert "| scenario | 5,650 | 5,650 | 0 | 0.00% | 5,900 | 250 (4.24%) |" in section
    assert (
        "- ⚠ scenario: 250 of 5,900 planned arrivals were never due on any load generator, "
        "most between 20 s and 25 s into the run: the generator did not keep the schedule"
    ) in section
    page = render_html(short)
    assert '<td class="num">5,900</td><td class="num">250 (4.24%)</td>' in page
    assert '<ul class="advice" id="missed-arrivals"><li>scenario: 250 of 5,900' in page
    lines = console_lines(short)
    assert any("250 (4.24%) of 5,900 planned missed" in line for line in lines)
    assert any(line.startswith("  ! scenario: 250 of 5,900") for line in lines)


# ----------------------------------------------------------------- literals


def test_plan_time_stands_still_while_paused():
    spans = [(110.0, 125.0)]
    assert plan_elapsed_s(105.0, 100.0, spans) == 5.0
    assert plan_elapsed_s(120.0, 100.0, spans) == 10.0
    assert plan_elapsed_s(145.0, 100.0, spans) == 30.0
    assert plan_elapsed_s(99.0, 100.0, spans) == 0.0


def test_planned_arrivals_per_second_follow_a_ramp_and_stop_at_the_plan_end():
    # 2 s ramping 0 -> 20/s, then 20/s for 2 s
    plan = ArrivalPlan({"g": stages(stages=[(4, 20, 2)])}, {"g": "uniform"}, start_s=100.0)
    assert plan.planned("g", range(100, 106)).tolist() == pytest.approx(
        [5.0, 15.0, 20.0, 20.0, 0.0, 0.0]
    )


def test_open_rate_plans_rebuild_each_open_group_at_the_run_s_time_scale():
    data = {
        "users": [
            {"name": "readers", "requests": [{"path": "/a"}]},
            {
                "name": "writers",
                "requests": [{"path": "/b"}],
                "load": {"model": "open", "shape": "constant", "rate": 5, "duration": "1m",
                         "arrivals": "poisson"},
            },
        ],
        "load": {"shape": "constant", "users": 3, "duration": "1m"},
    }  # fmt: skip
    found = open_rate_plans(data, time_scale=0.5)
    assert list(found) == ["writers"]  # the shared load is closed
    plan, arrivals = found["writers"]
    assert (plan.duration_s, arrivals) == (30.0, "poisson")


def test_missed_arrivals_within_the_tolerance_do_not_count():
    assert missed_tolerance(1000, "uniform") == 2.0
    assert missed_tolerance(10_000, "poisson") == pytest.approx(301.0)
    within = GroupSchedule("scenario", 998, 0, 1.0, planned=1000.0, missed=2, missed_tolerance=2)
    beyond = GroupSchedule("scenario", 990, 0, 1.0, planned=1000.0, missed=10, missed_tolerance=2)
    assert (within.missed_counted, beyond.missed_counted) == (0, 10)
    passed = check_schedule([within], max_lag_p99_ms=50, max_dropped=0.001)
    assert passed.grade == "pass"
    assert "2 of 1,000 planned never due" in passed.reason
    warned = check_schedule([beyond], max_lag_p99_ms=50, max_dropped=0.001, workers_lost=True)
    assert warned.reason == (
        "a load generator was lost: 1% of planned arrivals never due (10 of 1,000) > 0.1%; "
        "load generator CPU not sampled"
    )
