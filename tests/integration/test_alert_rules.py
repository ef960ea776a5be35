"""``swarm alerts`` checked by Prometheus's own ``promtool`` (Debian's prometheus package).

The rules come from the CLI, as a user gets them; ``promtool check rules`` must accept them
and ``promtool test rules`` evaluates them on four masters' series: one within every
budget, one that breaches p95, error rate and the throughput floor, one whose run is
running yet sends nothing (stalled), and one whose run has finished (no alert at all).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SWARM = [sys.executable, "-m", "framework.cli.main"]

SCENARIO = """\
name: checkout
host: http://127.0.0.1:9
users:
  - name: shopper
    think_time: {fixed_ms: 100}
    requests:
      - {name: /cart, path: /cart}
load: {shape: constant, users: 2, duration: 10s}
budgets:
  tolerance: 10%
  overall: {p95_ms: 200, error_rate: 5%, min_throughput: 30}
"""
LE = ("1", "2", "5", "10", "20", "50", "100", "200", "500", "1000", "2000", "5000", "+Inf")


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is missing: apt-get install -y prometheus (Debian ships it there)")
    return found


def _rules(tmp_path: Path, *extra: str) -> Path:
    scenario = tmp_path / "checkout.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "rules.yml"
    done = subprocess.run(
        [*SWARM, "alerts", str(scenario), "-o", str(out), "--for", "1m", "--window", "1m", *extra],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return out


def _master(instance: str, *, rps: int, failed_rps: int, slow: bool, state: str) -> list[dict]:
    """Series of one master over 10 minutes at 15 s steps: ``rps`` requests per second,
    ``failed_rps`` of them failed, latencies all in (50, 100] ms or (200, 500] ms."""
    base = f'instance="{instance}",job="swarm"'
    endpoint = f'{base},method="GET",name="/cart"'
    per_step = rps * 15

    def counter(step: int) -> str:
        return f"0+{step}x40"

    ok = per_step - failed_rps * 15
    lowest = LE.index("500" if slow else "100")
    series = [
        {"series": f"swarm_requests_total{{{endpoint}}}", "values": counter(per_step)},
        {
            "series": f"swarm_requests_failed_total{{{endpoint}}}",
            "values": counter(failed_rps * 15),
        },
    ]
    for i, le in enumerate(LE):
        series.append(
            {
                "series": f'swarm_request_duration_milliseconds_bucket{{{endpoint},le="{le}"}}',
                "values": counter(ok if i >= lowest else 0),
            }
        )
    for name in ("starting", "running", "paused", "stopping", "finished"):
        series.append(
            {
                "series": f'swarm_run_state{{{base},state="{name}"}}',
                "values": f"{int(name == state)}x40",
            }
        )
    series.append(
        {
            "series": f'swarm_run_info{{{base},run_id="r-{instance}",scenario="checkout"}}',
            "values": "1x40",
        }
    )
    return series


def _expected(rules: dict[str, Any], alert: str, instance: str, value: str) -> dict[str, Any]:
    """The alert as promtool reports it: the rule's labels, its annotations templated."""
    rule = next(r for r in rules["groups"][0]["rules"] if r["alert"] == alert)
    annotations = {
        key: text.replace("{{ $labels.instance }}", instance)
        .replace('{{ $value | printf "%.4g" }}', value)
        .replace("{{ $value | humanizePercentage }}", value)
        for key, text in rule["annotations"].items()
    }
    labels = {"instance": instance, "job": "swarm", **rule["labels"]}
    return {"exp_labels": labels, "exp_annotations": annotations}


def test_swarm_alerts_writes_rules_promtool_accepts(tmp_path: Path) -> None:
    promtool = _promtool()
    rules = _rules(tmp_path)
    done = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 4 rules found" in done.stdout
    names = [r["alert"] for r in yaml.safe_load(rules.read_text())["groups"][0]["rules"]]
    assert names == [
        "SwarmLatencyP95Budget",
        "SwarmErrorRateBudget",
        "SwarmThroughputBelowFloor",
        "SwarmRunStalled",
    ]


def test_alert_rules_fire_on_series_that_breach_and_stay_quiet_on_series_that_do_not(
    tmp_path: Path,
) -> None:
    promtool = _promtool()
    rules_file = _rules(tmp_path)
    rules = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    series = [
        *_master("good", rps=40, failed_rps=0, slow=False, state="running"),
        *_master("bad", rps=5, failed_rps=1, slow=True, state="running"),
        *_master("stalled", rps=0, failed_rps=0, slow=False, state="running"),
        *_master("done", rps=0, failed_rps=0, slow=False, state="finished"),
    ]
    # bad: p95 = 200 + 0.95 × (500 − 200) = 485 ms, in the (200, 500] bucket of its 4
    # successes a second; 1 of 5 failed; 5 rps under the floor of 30 × 0.9.
    alerts = {
        "SwarmLatencyP95Budget": [_expected(rules, "SwarmLatencyP95Budget", "bad", "485")],
        "SwarmErrorRateBudget": [_expected(rules, "SwarmErrorRateBudget", "bad", "20%")],
        "SwarmThroughputBelowFloor": [
            _expected(rules, "SwarmThroughputBelowFloor", "bad", "5"),
            _expected(rules, "SwarmThroughputBelowFloor", "stalled", "0"),
        ],
        "SwarmRunStalled": [_expected(rules, "SwarmRunStalled", "stalled", "")],
    }
    tests = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": series,
                "alert_rule_test": [
                    *(
                        {"eval_time": "5m", "alertname": name, "exp_alerts": exp}
                        for name, exp in alerts.items()
                    ),
                    # before `for:` has passed nothing fires, even where the series breach
                    *({"eval_time": "45s", "alertname": name, "exp_alerts": []} for name in alerts),
                ],
            }
        ],
    }
    test_file = tmp_path / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False, allow_unicode=True), "utf-8")
    done = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr + textwrap.shorten(str(tests), 300)
    assert "SUCCESS" in done.stdout


OPEN_SCENARIO = """\
name: checkout
host: http://127.0.0.1:9
users:
  - name: shopper
    requests:
      - {name: /cart, path: /cart}
    load: {model: open, shape: constant, rate: 10, duration: 10m}
validation: {max_lag_p99_ms: 20, max_dropped: 1%}
"""
LAG_LE = ("0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5")


def _open_master(instance: str, *, lag_le: str, dropped_per_step: int) -> list[dict]:
    """An open group's series: 150 arrivals started every 15 s, their lags all at or under
    ``lag_le``, ``dropped_per_step`` dropped; the run running."""
    base = f'instance="{instance}",job="swarm"'
    group = f'{base},group="shopper"'
    lowest = LAG_LE.index(lag_le)
    series = [
        {"series": f'swarm_arrivals_total{{{group},outcome="started"}}', "values": "0+150x40"},
        {
            "series": f'swarm_arrivals_total{{{group},outcome="dropped"}}',
            "values": f"0+{dropped_per_step}x40",
        },
        {"series": f'swarm_run_state{{{base},state="running"}}', "values": "1x40"},
        {
            "series": f'swarm_run_info{{{base},run_id="r-{instance}",scenario="checkout"}}',
            "values": "1x40",
        },
        # it keeps sending: never stalled
        {
            "series": f'swarm_requests_total{{{base},method="GET",name="/cart"}}',
            "values": "0+150x40",
        },
    ]
    for i, le in enumerate((*LAG_LE, "+Inf")):
        count = "0+150x40" if i >= lowest else "0x40"
        series.append(
            {"series": f'swarm_schedule_lag_seconds_bucket{{{group},le="{le}"}}', "values": count}
        )
    return series


def test_generator_behind_fires_on_a_late_or_dropping_group_and_not_on_one_on_time(
    tmp_path: Path,
) -> None:
    promtool = _promtool()
    scenario = tmp_path / "open.yaml"
    scenario.write_text(OPEN_SCENARIO, encoding="utf-8")
    rules_file = tmp_path / "rules.yml"
    done = subprocess.run(
        [*SWARM, "alerts", str(scenario), "-o", str(rules_file), "--for", "1m", "--window", "1m"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rules = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    rule = next(r for r in rules["groups"][0]["rules"] if r["alert"] == "SwarmGeneratorBehind")

    def expected(instance: str, reason: str, value: str) -> dict[str, Any]:
        shown = f"{reason} {value}{'%' if reason == 'dropped' else ' ms'}"
        annotations = {
            key: text.replace("{{ $labels.instance }}", instance)
            .replace("{{ $labels.group }}", "shopper")
            .replace(
                '{{ $labels.reason }} {{ $value | printf "%.4g" }}'
                '{{ if eq $labels.reason "dropped" }}%{{ else }} ms{{ end }}',
                shown,
            )
            for key, text in rule["annotations"].items()
        }
        labels = {"instance": instance, "job": "swarm", "group": "shopper", "reason": reason}
        return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": annotations}

    # on time: every lag within 5 ms, nothing dropped; late: lags in (50, 100] ms, so p99 =
    # 50 + 0.99 × 50 = 99.5 ms > 20; dropping: 3 of 153 a step dropped (1.961% > 1%)
    series = [
        *_open_master("ontime", lag_le="0.005", dropped_per_step=0),
        *_open_master("late", lag_le="0.1", dropped_per_step=0),
        *_open_master("dropping", lag_le="0.005", dropped_per_step=3),
    ]
    tests = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": "SwarmGeneratorBehind",
                        "exp_alerts": [
                            expected("dropping", "dropped", "1.961"),
                            expected("late", "schedule lag", "99.5"),
                        ],
                    },
                    {"eval_time": "45s", "alertname": "SwarmGeneratorBehind", "exp_alerts": []},
                ],
            }
        ],
    }
    test_file = tmp_path / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False, allow_unicode=True), "utf-8")
    done = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
