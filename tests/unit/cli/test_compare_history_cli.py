"""``swarm report --compare`` and ``swarm history --html`` end to end, through ``cli.main``.

The comparison runs are synthetic run folders (``tests.synthetic.write_run``: a timeline from
a latency model whose truth is known, plus run.json and scenario.yaml), analysed for real.
The history runs are run folders with a hand-written results.json, as the store reads them,
so a known 8% step can be laid into twenty runs cheaply. No process is started.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from framework.cli.main import main
from framework.verdicts.results import Results, Window
from tests.fixtures.results import result_builders as rb
from tests.synthetic import Latency, write_run

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
NAMES = ("GET /detect", f"GET {HOSTILE}")


def synthetic(reports: Path, run_id: str, *, median_ms: float, seed: int) -> Path:
    return write_run(reports / run_id, seconds=90, names=NAMES, rps=40, seed=seed,
                     latency=Latency(median_ms=median_ms))  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A reports folder with a baseline, a run 20% slower and a run like the baseline."""
    reports = tmp_path_factory.mktemp("compare") / "reports"
    synthetic(reports, "base", median_ms=40, seed=1)
    synthetic(reports, "slower", median_ms=48, seed=2)
    synthetic(reports, "same", median_ms=40, seed=3)
    return reports


def test_compare_writes_both_files_into_the_last_run_and_exits_1_on_a_regression(runs, capsys):
    code = main(["report", "--compare", "base", "slower", "same", "--out", str(runs)])
    out = capsys.readouterr().out
    assert code == 1
    html, md = runs / "same" / "compare.html", runs / "same" / "compare.md"
    assert f"swarm: compare report {html}" in out and f"swarm: wrote {md}" in out
    assert out.startswith("swarm report --compare: REGRESSED — synthetic (baseline base;")
    assert re.search(r"candidate 1 slower: [1-9]\d* regression\(s\)", out)
    assert "candidate 2 same: 0 regression(s)" in out
    page = html.read_text(encoding="utf-8")
    assert "REGRESSED" in page and 'class="chart forest-plot"' in page
    assert page.count('class="chart interval-chart"') == 2  # overall p95 and throughput
    assert "candidate 1" in md.read_text(encoding="utf-8")


def test_request_names_come_out_escaped(runs, tmp_path):
    target = tmp_path / "out" / "cmp.html"
    main(["report", "--compare", "base", "slower", "--out", str(runs), "--output", str(target)])
    page = target.read_text(encoding="utf-8")
    assert HOSTILE not in page and ESCAPED in page
    assert page.count("<script>") == 1
    assert HOSTILE not in (tmp_path / "out" / "cmp.md").read_text(encoding="utf-8")


def test_no_regression_exits_0_and_output_puts_the_files_elsewhere(runs, tmp_path, capsys):
    target = tmp_path / "cmp.html"
    base, same = str(runs / "base"), str(runs / "same")  # folders, not run ids
    assert main(["report", "--compare", base, same, "--output", str(target)]) == 0
    assert "NO REGRESSION" in capsys.readouterr().out
    assert target.exists() and (tmp_path / "cmp.md").exists()
    assert "NO REGRESSION" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--compare", "base"], 2, "at least one candidate"),
        (["base", "--compare", "slower", "same"], 2, "drop 'base'"),
        (["--compare", "base", "slower", "--baseline", "same"], 2, "drop --baseline"),
        ([], 2, "give RUN_DIR, or --compare"),
        (["base", "--output", "x.html"], 2, "give RUN_DIR, or --compare"),
        (["--compare", "base", "nothere"], 2, "no run folder 'nothere'"),
    ],
)
def test_bad_compare_invocations_say_why(runs, capsys, argv, code, message):
    assert main(["report", *argv, "--out", str(runs)]) == code
    assert message in capsys.readouterr().err


# -- history ---------------------------------------------------------------------------------


def analysed_run(reports: Path, index: int, p95: float) -> None:
    """Run folder ``index`` of scenario checkout with results.json as ``swarm report`` writes it."""
    run_id = f"2026110{index // 10}T{index % 10:02d}0000Z-checkout"
    folder = reports / run_id
    folder.mkdir(parents=True)
    started = f"2026-11-{index + 1:02d}T09:00:00.000Z"
    run = {"run_id": run_id, "scenario": "checkout", "scenario_file": None,
           "started_at": started, "ended_at": started, "status": "finished", "exit_code": 0,
           "git_revision": f"{index:02d}" + "ab" * 19}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    overall = rb.endpoint("Aggregated", "", p95=p95)
    window = Window("steady state", 0, 60, 4, overall, (rb.endpoint(HOSTILE, "GET", p95=p95),))
    results = Results("x", started, run, {}, window, verdict="passed")
    (folder / "results.json").write_text(json.dumps(results.to_dict()), encoding="utf-8")


@pytest.fixture
def history_reports(tmp_path, monkeypatch) -> Path:
    """Twenty analysed runs whose p95 steps up 8% from the eleventh; cwd is their parent."""
    monkeypatch.chdir(tmp_path)
    reports = tmp_path / "reports"
    for i in range(20):
        jitter = 1 + 0.003 * ((i % 3) - 1)
        analysed_run(reports, i, (100.0 if i < 10 else 108.0) * jitter)
    return reports


def test_history_html_marks_the_one_eight_percent_step(history_reports, capsys):
    assert main(["history", "checkout", "--html"]) == 0
    out = capsys.readouterr().out
    page_path = Path("reports") / "history-checkout.html"
    assert f"swarm: history page {page_path}" in out
    assert "1 change point" in out  # the text trend is printed as before
    page = page_path.read_text(encoding="utf-8")
    main_chart = page.split('id="trend"')[1].split("</section>")[0]
    assert main_chart.count('class="change-point"') == 1
    label = re.search(r'class="change-label"[^>]*>([^<]*)<', main_chart)
    assert label and re.fullmatch(r"\+8\.\d% at run 20261101T000000Z-checkout", label.group(1))
    runs_table = page.split('id="runs-table"')[1]
    assert runs_table.count("<tr") == 21
    assert "10ababababab" in runs_table and ">passed<" in runs_table
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart trend-chart"') == 4


def test_history_html_takes_a_file_and_a_request_name(history_reports, tmp_path, capsys):
    target = tmp_path / "pages" / "detect.html"
    code = main(["history", "checkout", "--name", f"GET {HOSTILE}", "--metric", "p95",
                 "--html", str(target)])  # fmt: skip
    assert code == 0
    page = target.read_text(encoding="utf-8")
    assert HOSTILE not in page and ESCAPED in page
    assert page.count("<script>") == 1


def test_history_of_an_unknown_scenario_is_a_usage_error(history_reports, capsys):
    assert main(["history", "nothere", "--html"]) == 2
    assert not list(Path("reports").glob("history-*.html"))


@pytest.fixture(scope="module")
def fast_runs(tmp_path_factory) -> Path:
    """One request name near 1 ms: a baseline and a candidate 8% (0.08 ms) faster."""
    reports = tmp_path_factory.mktemp("fast") / "reports"
    for run_id, median_ms, seed in (("base", 1.0, 1), ("cand", 0.92, 2)):
        write_run(reports / run_id, seconds=120, names=("GET /fast",), rps=200, seed=seed,
                  latency=Latency(median_ms=median_ms, level_sd=0.0))  # fmt: skip
    return reports


def test_compare_prints_each_figure_once_with_values_ratio_interval_and_verdict(fast_runs, capsys):
    assert main(["compare", "base", "cand", "--out", str(fast_runs), "--min-effect-ms", "0"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    # one request name: its figures are the overall ones, compared (and printed) once
    assert [r.split(":")[0].strip() for r in rows] == [
        f"GET /fast {m}" for m in ("mean", "p50", "p95", "p99", "throughput", "error_rate")
    ]
    mean = rows[0]
    shape = r"mean: 1\.1\d+ → 1\.0\d+ ms, ×0\.9\d\d \[0\.9\d\d, 0\.9\d\d\] at 9"
    assert re.search(shape, mean), mean
    assert mean.endswith(": improvement") and mean.count("improvement") == 1, mean


def test_a_sub_millisecond_change_is_no_detectable_change_by_default(fast_runs, capsys):
    assert main(["compare", "base", "cand", "--out", str(fast_runs)]) == 0
    out = capsys.readouterr().out
    assert "improvement" not in out.replace("no detectable change", "")
    assert "(a change under 1 ms)" in out


def test_min_effect_ms_rejects_a_negative_value(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "a", "b", "--min-effect-ms", "-1"])
    assert exc.value.code == 2
    assert "--min-effect-ms" in capsys.readouterr().err
