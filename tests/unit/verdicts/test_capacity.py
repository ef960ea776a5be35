"""Capacity of stepped runs from hand-built step windows: the fit, the peak, the highest step
meeting the budgets, the open model's Little's-law load, and the find_capacity verdict."""

from __future__ import annotations

import math

import pytest

from framework.plan import shapes
from framework.scenario.budgets import Budgets
from framework.stats.usl import usl_throughput
from framework.verdicts.builder import ReportOptions, build_results, load_run
from framework.verdicts.capacity import capacity
from framework.verdicts.results import EndpointResult, Figure, QualityResult, Window
from tests.synthetic import Latency, write_run

LAM, SIGMA, KAPPA = 10.0, 0.05, 0.002
USERS = (5, 10, 20, 30, 40, 50)


def step(name: str, users: int | None, rps: float, p95: float = 100.0, *, spread: float = 0.02,
         mean_ms: float = 50.0, error_rate: float = 0.0) -> Window:  # fmt: skip
    """A step's window with throughput ±``spread`` and a p95 of ±2%."""
    overall = EndpointResult(
        name="Aggregated",
        method="",
        count=int(rps * 60),
        failures=0,
        failures_by_kind={},
        timeouts=0,
        bytes=0,
        min_ms=1.0,
        max_ms=500.0,
        p90_ms=p95 * 0.9,
        mean_ms=Figure(mean_ms, mean_ms * 0.98, mean_ms * 1.02),
        median_ms=Figure(p95 / 2, p95 / 2 * 0.98, p95 / 2 * 1.02),
        p95_ms=Figure(p95, p95 * 0.98, p95 * 1.02),
        p99_ms=Figure(p95 * 1.5),
        throughput_rps=Figure(rps, rps * (1 - spread), rps * (1 + spread)),
        error_rate=Figure(error_rate, max(error_rate - 0.001, 0.0), error_rate + 0.001),
        quality=QualityResult(grade="pass"),
    )
    return Window(name, 0, 60, users, overall, ())


def closed_run(shape: str = "stepped", users=USERS, search: dict | None = None) -> dict:
    phases = [
        {"name": f"step {i + 1}", "kind": "plateau", "start_s": 60.0 * i,
         "end_s": 60.0 * (i + 1), "users": u}
        for i, u in enumerate(users)
    ]  # fmt: skip
    run = {"plan": {"shape": shape, "duration_s": 60.0 * len(users), "peak_users": max(users),
                    "phases": phases, "model": "closed"}}  # fmt: skip
    if search is not None:
        run["capacity_search"] = search
    return run


def usl_steps(users=USERS, p95=lambda u: 100.0) -> list[Window]:
    return [
        step(f"step {i + 1}", u, float(usl_throughput(u, LAM, SIGMA, KAPPA)), p95(u))
        for i, u in enumerate(users)
    ]


P95_BUDGET = Budgets.model_validate({"overall": {"p95_ms": 200}})


def rising_p95(users: int) -> float:
    """p95 well within 200 ms (+10% tolerance) up to 20 users, straddling it at 30, beyond after."""
    return {5: 50.0, 10: 60.0, 20: 120.0, 30: 220.0}.get(users, 400.0)


# --------------------------------------------------------------------------- the fit


def test_a_run_that_is_not_stepped_has_no_capacity():
    assert capacity(usl_steps(), None, {"plan": {"shape": "constant"}}) is None
    assert capacity(usl_steps(), None, {}) is None


def test_closed_steps_are_fitted_against_users_and_predict_the_peak():
    found = capacity(usl_steps(), None, closed_run())
    assert found is not None and found.no_fit_reason is None
    assert found.load_unit == "users"
    assert [p.load.value for p in found.points] == [float(u) for u in USERS]
    peak = math.sqrt((1 - SIGMA) / KAPPA)
    assert found.peak_load.low <= peak <= found.peak_load.high
    truth = float(usl_throughput(peak, LAM, SIGMA, KAPPA))
    assert found.peak_throughput.low <= truth <= found.peak_throughput.high
    assert found.peak_load.value == pytest.approx(peak, rel=0.05)
    assert not found.extrapolated  # the steps run past the peak
    for p in found.points:
        assert p.fitted == pytest.approx(p.throughput.value, rel=0.02)
    assert "predicted peak" in found.summary()
    assert found.verdict is None  # only find_capacity runs get a verdict


def test_stages_runs_get_capacity_too():
    found = capacity(usl_steps(), None, closed_run("stages"))
    assert found is not None and found.fit is not None and found.shape == "stages"


def test_fewer_than_four_steps_give_no_fit_and_say_why():
    found = capacity(usl_steps()[:3], None, closed_run(users=USERS[:3]))
    assert found.fit is None
    assert found.no_fit_reason == (
        "3 steps analysed; a fit needs at least 4 (3 parameters and the noise)"
    )
    assert found.peak_load is None and found.peak_throughput is None


def test_throughput_that_never_rises_gives_no_fit_and_says_why():
    steps = [step(f"step {i + 1}", u, 100.0) for i, u in enumerate(USERS)]
    found = capacity(steps, None, closed_run())
    assert found.fit is None
    assert found.no_fit_reason.startswith("throughput did not rise measurably above step 1's")
    assert "saturated from the first step" in found.no_fit_reason


def test_a_step_without_throughput_is_left_out_of_the_fit():
    steps = usl_steps()
    steps[2] = step("step 3", 20, 0.0)
    steps[2] = Window("step 3", 0, 60, 20, replace_throughput(steps[2].overall), ())
    found = capacity(steps, None, closed_run())
    assert found.fit is not None and found.fit.points == 5
    assert found.points[2].fitted is None


def replace_throughput(overall: EndpointResult) -> EndpointResult:
    from dataclasses import replace

    return replace(overall, throughput_rps=Figure(value=None))


def test_a_curve_that_explains_nothing_predicts_nothing():
    zigzag = [100.0, 300.0, 100.0, 300.0, 100.0, 300.0]
    pairs = zip(USERS, zigzag, strict=True)
    steps = [step(f"step {i + 1}", u, x) for i, (u, x) in enumerate(pairs)]
    found = capacity(steps, None, closed_run())
    assert found.fit is not None  # kept, to show what was tried
    assert found.no_fit_reason.startswith("the fitted curve explains only")
    assert found.peak_load is None and found.peak_throughput is None


def test_a_curve_without_coherency_delay_levels_off_instead_of_peaking():
    users = (1, 2, 4, 8, 16, 32)
    steps = [
        step(f"step {i + 1}", u, float(usl_throughput(u, 50.0, 0.1, 0.0)), spread=0.01)
        for i, u in enumerate(users)
    ]
    found = capacity(steps, None, closed_run(users=users))
    assert found.no_fit_reason is None
    assert found.peak_load is None
    assert found.ceiling == pytest.approx(500.0, rel=0.05)
    assert "levels off towards" in found.summary()


def test_a_peak_beyond_the_last_step_is_an_extrapolation():
    users = (5, 10, 15, 20)
    found = capacity(usl_steps(users), None, closed_run(users=users))
    assert found.peak_load is not None and found.peak_load.value > 20
    assert found.extrapolated
    assert "an extrapolation" in found.summary()


# --------------------------------------------------------------------------- budgets


def test_the_highest_step_meeting_every_budget_with_confidence_is_the_capacity():
    found = capacity(usl_steps(p95=rising_p95), P95_BUDGET, closed_run())
    assert [p.budgets for p in found.points] == [
        "pass", "pass", "pass", "inconclusive", "fail", "fail",
    ]  # fmt: skip
    assert found.highest_passing_step == "step 3"
    x = usl_throughput(20, LAM, SIGMA, KAPPA)
    assert found.message == f"capacity 20 users, {x:.4g} req/s ({x * 0.98:.4g}–{x * 1.02:.4g})"
    assert found.capacity_load == 20
    assert found.points[4].budget_failures[0].startswith("overall p95_ms: 400 ms")


def test_without_budgets_no_step_is_named():
    found = capacity(usl_steps(), None, closed_run())
    assert found.highest_passing_step is None
    assert found.highest_passing_reason.startswith("no budgets")


def test_the_knee_is_unchanged_by_capacity():
    """find_knee keeps its own rule (not failing); capacity needs a pass with confidence."""
    from framework.verdicts.rules import find_knee

    assert find_knee(usl_steps(p95=rising_p95), P95_BUDGET)[0] == "step 4"


# --------------------------------------------------------------------------- open model


def open_run(rates=(10, 20, 30, 40, 50)) -> dict:
    phases = [
        {"name": f"step {i + 1}", "kind": "plateau", "start_s": 60.0 * i,
         "end_s": 60.0 * (i + 1), "users": 0, "rate": float(r)}
        for i, r in enumerate(rates)
    ]  # fmt: skip
    plan = {"shape": "stepped", "duration_s": 300.0, "peak_users": 0,
            "peak_rate": float(max(rates)), "phases": phases, "model": "open"}  # fmt: skip
    return {"plan": plan}


def test_open_steps_are_fitted_against_their_concurrency_by_littles_law():
    """Up to 30/s the target keeps up (X = rate, R = 50 ms); beyond, throughput stalls and
    the response time grows with the queue: the load is X·R, the offered rate is kept."""
    rates = (10, 20, 30, 40, 50)
    served = (10.0, 20.0, 30.0, 32.0, 31.0)
    mean_ms = (50.0, 52.0, 60.0, 250.0, 900.0)
    steps = [
        step(f"step {i + 1}", None, x, mean_ms=r)
        for i, (x, r) in enumerate(zip(served, mean_ms, strict=True))
    ]
    found = capacity(steps, P95_BUDGET, open_run(rates))
    assert found.load_unit == "concurrency"
    assert found.offered_unit == "arrivals/s"
    assert [p.offered for p in found.points] == [10.0, 20.0, 30.0, 40.0, 50.0]
    first = found.points[0].load
    assert first.value == pytest.approx(0.5)  # 10 req/s × 0.05 s
    half = 0.5 * math.hypot(0.02, 0.02)
    assert (first.low, first.high) == pytest.approx((0.5 - half, 0.5 + half))
    assert first.method == "little"
    assert found.highest_passing_step == "step 5"
    assert found.message.startswith("capacity 50 arrivals/s, 31 req/s")


def test_a_run_of_several_load_groups_is_not_fitted():
    run = closed_run()
    run["plan"]["model"] = "mixed"
    found = capacity(usl_steps(), None, run)
    assert found.fit is None and "several load groups" in found.no_fit_reason


# --------------------------------------------------------------------------- find_capacity


SEARCH = {"steps_run": 5, "stopped_at_step": "step 5", "reason": "p95 failing in step 5",
          "stopped_at": "2027-01-15T10:05:00Z"}  # fmt: skip


def test_find_capacity_passes_with_the_highest_step_meeting_the_budgets():
    run = closed_run("find_capacity", search=SEARCH)
    found = capacity(usl_steps(p95=rising_p95), P95_BUDGET, run)
    assert found.verdict == "pass"
    assert found.search == SEARCH
    assert found.message.startswith("capacity 20 users, ")
    assert found.message.endswith("(search stopped: p95 failing in step 5)")


def test_find_capacity_fails_when_the_first_step_already_fails():
    steps = usl_steps(p95=lambda u: 400.0)
    found = capacity(steps, P95_BUDGET, closed_run("find_capacity", search=SEARCH))
    assert found.verdict == "fail"
    assert found.message.startswith("capacity below the first step: step 1 already fails "
                                    "(overall p95_ms: 400 ms")  # fmt: skip


def test_find_capacity_without_a_step_passing_or_the_first_failing_is_inconclusive():
    steps = usl_steps(p95=lambda u: 220.0 if u < 40 else 400.0)
    found = capacity(steps, P95_BUDGET, closed_run("find_capacity"))
    assert found.verdict == "inconclusive"
    assert found.message == "capacity not found: no step met every budget with confidence"


def test_find_capacity_without_budgets_is_the_fitted_peak():
    found = capacity(usl_steps(), None, closed_run("find_capacity"))
    assert found.verdict == "pass"
    assert found.message.startswith("capacity: predicted peak ")
    users = (5, 10)
    found = capacity(usl_steps(users), None, closed_run("find_capacity", users=users))
    assert found.verdict == "inconclusive"
    assert "no budgets to judge the steps and no fitted peak" in found.message


# --------------------------------------------------------------------------- whole runs


STEPPED = shapes.stepped(start_users=10, step_users=10, step_duration_s=30, steps=5, spawn_rate=10)


def _usl_rps(name: str, second: int, users: int) -> float:
    return float(usl_throughput(max(users, 1), 8.0, 0.02, 0.0008))


@pytest.fixture(scope="module")
def stepped_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capacity") / "run"
    return write_run(folder, seconds=151, names=("GET /a",), latency=Latency(median_ms=20),
                     rps=_usl_rps, plan=STEPPED, seed=5)  # fmt: skip


def test_a_stepped_runs_results_carry_the_capacity(stepped_run):
    results, _ = build_results(load_run(stepped_run), ReportOptions(), created_at="now")
    assert results.capacity is not None
    assert [p.step for p in results.capacity.points] == [f"step {i}" for i in range(1, 6)]
    data = results.to_dict()
    section = data["capacity"]
    assert section["load_unit"] == "users"
    assert section["fit"]["points"] == 5
    peak = math.sqrt((1 - 0.02) / 0.0008)  # 35 users
    assert section["peak_load"]["low"] <= peak <= section["peak_load"]["high"]
    assert results.knee is not None  # the knee still works beside it


def test_a_constant_runs_results_have_no_capacity_key(tmp_path):
    run = write_run(tmp_path / "run", seconds=30, rps=20.0)
    results, _ = build_results(load_run(run), ReportOptions(), created_at="now")
    assert results.capacity is None
    assert "capacity" not in results.to_dict()


def test_a_find_capacity_run_passes_though_its_steady_state_fails_the_budgets(tmp_path):
    """The last step fails the budgets by design: the run is judged on its capacity."""
    record = stepped_record("find_capacity")
    run = write_run(tmp_path / "run", seconds=151, names=("GET /a",),
                    latency=Latency(median_ms=20, scale=lambda s, u: 1.0 if u <= 30 else 8.0),
                    rps=_usl_rps, plan=record, users=users_of(STEPPED, 151),
                    budgets={"overall": {"p95_ms": 80}}, seed=6)  # fmt: skip
    results, _ = build_results(load_run(run), ReportOptions(), created_at="now")
    assert any(b.verdict == "fail" for b in results.budgets)  # reported...
    assert results.verdict == "passed", results.reasons  # ...but not failing the run
    assert results.capacity.verdict == "pass"
    assert results.capacity.highest_passing_step == "step 3"
    assert results.capacity.message.startswith("capacity 30 users, ")


def test_a_find_capacity_run_whose_first_step_fails_fails(tmp_path):
    record = stepped_record("find_capacity")
    run = write_run(tmp_path / "run", seconds=151, names=("GET /a",),
                    latency=Latency(median_ms=200), rps=_usl_rps, plan=record,
                    users=users_of(STEPPED, 151), budgets={"overall": {"p95_ms": 80}},
                    seed=7)  # fmt: skip
    results, _ = build_results(load_run(run), ReportOptions(), created_at="now")
    assert results.verdict == "failed"
    assert results.reasons[0].startswith("capacity below the first step: step 1 already fails")


def stepped_record(shape: str) -> dict:
    from tests.synthetic import plan_record

    record = dict(plan_record(STEPPED))
    record["shape"] = shape
    return record


def users_of(plan, seconds: int) -> list[int]:
    from tests.synthetic import users_over_time

    return users_over_time(plan, seconds)
