"""``swarm report`` and ``swarm compare`` as processes, on synthetic run folders.

The console script is run as a user runs it, so the exit codes CI gates on, and what is
printed, are checked end to end (the figures themselves are checked by the unit tests).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from framework.plan import shapes
from tests.synthetic import Latency, write_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SWARM = Path(sys.executable).with_name("swarm")
if not SWARM.exists():
    SWARM = Path(shutil.which("swarm") or "swarm")

PLAN = shapes.constant(users=20, spawn_rate=20, duration_s=240)
NAMES = ("GET /health", "POST /detect")


def swarm(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SWARM), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=100
    )


def precise_run(folder: Path, *, seed: int, slower: float = 1.0, rate: float = 1.0, **kw) -> Path:
    """Four minutes at 400 requests/s: the mean is known to about ±0.1%."""
    models = {
        "GET /health": Latency(median_ms=5 * slower, sigma=0.3),
        "POST /detect": Latency(median_ms=40 * slower, sigma=0.3),
    }
    rates = {"GET /health": 100.0 * rate, "POST /detect": 300.0 * rate}
    return write_run(
        folder, seconds=241, names=NAMES, latency=models, rps=rates, plan=PLAN, seed=seed, **kw
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "base": precise_run(root / "base", seed=1, budgets={"overall": {"p95_ms": 200}}),
        "same": precise_run(root / "same", seed=2),
        "slower": precise_run(root / "slower", seed=3, slower=1.10),
        "strict": precise_run(root / "strict", seed=4, budgets={"overall": {"p95_ms": 20}}),
        "sparse": precise_run(root / "sparse", seed=5, rate=0.01),  # 4 requests/s
    }


def test_report_of_a_met_budget_exits_0_and_writes_results(runs, tmp_path):
    done = swarm("report", runs["base"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("swarm report: PASSED")
    assert "budget pass" in done.stdout
    results = json.loads((runs["base"] / "results.json").read_text())
    assert results["verdict"] == "passed"


def test_report_of_a_violated_budget_exits_1_and_says_why(runs, tmp_path):
    done = swarm("report", runs["strict"], cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("swarm report: FAILED")
    assert "→ overall p95_ms: " in done.stdout
    assert "vs budget 20 ms (limit ≤ 22 ms with 10% tolerance): fail" in done.stdout


def test_report_against_a_slower_baseline_exits_1_with_regressions(runs, tmp_path):
    done = swarm("report", runs["slower"], "--baseline", runs["base"], cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    # baseline → candidate, the ratio with the interval the correction reads, the verdict once
    rows = [line for line in done.stdout.splitlines() if line.startswith("  overall p95:")]
    assert len(rows) == 1, done.stdout
    assert re.match(
        r"  overall p95: [\d.]+ → [\d.]+ ms, ×1\.\d+ \[1\.\d+, 1\.\d+\] at [\d.]+%, "
        r"adjusted p=\S+ \(holm\): regression$",
        rows[0],
    ), rows[0]
    assert "→ overall p95: " in done.stdout


def test_report_of_a_missing_folder_is_an_error_not_a_verdict(tmp_path):
    done = swarm("report", tmp_path / "nowhere", cwd=tmp_path)
    assert done.returncode not in (0, 1)  # ReportError: exit 3
    assert done.stderr.startswith("swarm: no run folder")


def test_compare_lists_every_comparison_and_exits_on_regressions(runs, tmp_path):
    same = swarm("compare", runs["base"], runs["same"], cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines()[0].startswith("swarm compare: same against base (")
    assert same.stdout.splitlines()[-1] == "swarm compare: 0 regression(s) in 18 comparisons"
    slower = swarm("compare", runs["base"], runs["slower"], cwd=tmp_path)
    assert slower.returncode == 1, slower.stderr
    assert "regression(s) in 18 comparisons" in slower.stdout.splitlines()[-1]


def test_max_overhead_passes_when_the_candidate_is_provably_within_it(runs, tmp_path):
    done = swarm("compare", runs["base"], runs["same"], "--max-overhead", "1%", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("pass: mean cost ratio ")
    assert "against a 1.00% overhead limit" in done.stdout


def test_max_overhead_fails_when_the_candidate_provably_costs_more(runs, tmp_path):
    done = swarm("compare", runs["base"], runs["slower"], "--max-overhead", "1%", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("fail: mean cost ratio 1.0")


def test_max_overhead_is_inconclusive_on_too_little_data_and_exits_1(runs, tmp_path):
    # "pass" needs evidence: a run too short to tell does not pass the gate
    done = swarm("compare", runs["base"], runs["sparse"], "--max-overhead", "1%", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("inconclusive: mean cost ratio ")


def test_max_overhead_on_throughput_treats_less_throughput_as_the_cost(runs, tmp_path):
    done = swarm(
        "compare", runs["base"], runs["sparse"], "--max-overhead", "5%", "--metric",
        "throughput", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout.startswith("fail: throughput cost ratio ")
