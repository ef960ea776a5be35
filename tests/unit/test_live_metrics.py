"""The live Prometheus metrics and the alert rules, on literal seconds and budgets."""

from __future__ import annotations

import socket

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from framework.errors import UsageError
from framework.live.alert_rules import alert_rules, render_alert_rules
from framework.live.budget_status import budget_limits
from framework.live.feed import LiveFeed
from framework.live.metrics import LATENCY_BUCKETS_MS, LiveMetrics
from framework.live.state import STATES
from framework.run.runner import RunOptions, check_metrics_port, locust_command, metrics_url
from framework.scenario.budgets import Budgets
from framework.timeline.records import RequestSecond, Second
from framework.verdicts.results import LATENCY_BUCKETS_MS as REPORT_BUCKETS_MS

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def _second(t: int, ok_ms: list[float], failures: dict[str, int] | None = None) -> Second:
    failures = failures or {}
    record = RequestSecond.from_latencies(
        t,
        "POST",
        "detect",
        ok_ms,
        failures=failures or None,
        failed_ms=[5.0] * sum(failures.values()),
    )
    return Second(t=t, users=4, workers=2, requests=(record,))


def _scrape(metrics: LiveMetrics) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    found: Samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


DETECT = (("method", "POST"), ("name", "detect"))


def test_counters_and_histogram_add_up_the_feed_seconds():
    feed = LiveFeed(started_s=0.0)
    metrics = LiveMetrics(feed, scenario="shop", run_id="r1")
    feed.move("running", 1.0)
    feed.add_second(_second(1, [0.5, 3.0, 40.0], {"HTTP 500": 2}))
    feed.add_second(_second(2, [7000.0], {"timeout": 1}))
    found = _scrape(metrics)
    assert found["swarm_requests_total"][DETECT] == 7
    assert found["swarm_requests_failed_total"][DETECT] == 3
    assert found["swarm_request_timeouts_total"][DETECT] == 1
    kinds = found["swarm_request_failures_by_kind_total"]
    assert kinds[(("kind", "HTTP 500"), *DETECT)] == 2
    assert kinds[(("kind", "timeout"), *DETECT)] == 1
    buckets = {
        dict(k)["le"]: v for k, v in found["swarm_request_duration_milliseconds_bucket"].items()
    }
    assert buckets["1"] == 1 and buckets["5"] == 2 and buckets["50"] == 3
    assert buckets["5000"] == 3 and buckets["+Inf"] == 4  # the 7 s success is above 5000
    assert found["swarm_request_duration_milliseconds_count"][DETECT] == 4
    assert found["swarm_request_duration_milliseconds_sum"][DETECT] == pytest.approx(
        7043.5, rel=1e-3
    )
    assert found["swarm_users"][()] == 4 and found["swarm_workers"][()] == 2
    assert found["swarm_seconds_closed_total"][()] == 2
    assert found["swarm_run_info"] == {(("run_id", "r1"), ("scenario", "shop")): 1}


def test_no_aggregated_series_so_sums_over_names_are_right():
    feed = LiveFeed(started_s=0.0)
    metrics = LiveMetrics(feed, scenario="shop")
    feed.add_second(_second(1, [1.0]))
    assert {dict(k)["name"] for k in _scrape(metrics)["swarm_requests_total"]} == {"detect"}


def test_run_state_is_one_hot_over_the_eight_states_as_the_run_moves():
    feed = LiveFeed(started_s=0.0)
    metrics = LiveMetrics(feed, scenario="shop")
    for state in ("starting", "running", "paused", "running", "stopping", "finished"):
        if state != feed.state:
            feed.move(state, 1.0)
        found = _scrape(metrics)["swarm_run_state"]
        assert found == {(("state", s),): float(s == state) for s in STATES}


def test_counters_keep_counting_when_the_web_ui_starts_the_next_run():
    feed = LiveFeed(started_s=0.0, run_id="first")
    budgets = Budgets.model_validate({"overall": {"p95_ms": 100}})
    metrics = LiveMetrics(feed, scenario="shop", limits=budget_limits(budgets), budget_every_s=1)
    feed.move("running", 1.0)
    for t in range(1, 31):
        feed.add_second(_second(t, [10.0, 12.0]))
    assert (
        _scrape(metrics)["swarm_budget_status"][
            (("metric", "p95_ms"), ("scope", "overall"), ("status", "passing"))
        ]
        == 1
    )
    feed.move("stopping", 31.0)
    feed.move("finished", 31.0)
    feed.start_run(40.0, run_id="second")
    found = _scrape(metrics)
    assert found["swarm_requests_total"][DETECT] == 60  # not back to 0: rate() stays right
    assert found["swarm_run_info"] == {(("run_id", "second"), ("scenario", "shop")): 1}
    status = {dict(k)["status"]: v for k, v in found["swarm_budget_status"].items()}
    assert status == {"pending": 1, "passing": 0, "at risk": 0, "failing": 0}
    feed.move("running", 41.0)
    feed.add_second(_second(41, [10.0]))
    assert _scrape(metrics)["swarm_requests_total"][DETECT] == 61


def test_budget_gauges_name_each_budget_with_its_limit_and_interval():
    feed = LiveFeed(started_s=0.0)
    budgets = Budgets.model_validate(
        {"tolerance": 0.1, "overall": {"p95_ms": 20}, "requests": {"detect": {"error_rate": "1%"}}}
    )
    metrics = LiveMetrics(feed, scenario="shop", limits=budget_limits(budgets), budget_every_s=5)
    feed.move("running", 0.0)
    for t in range(1, 41):
        feed.add_second(_second(t, [100.0] * 5, {"HTTP 503": 5}))
    found = _scrape(metrics)
    limits = found["swarm_budget_limit"]
    assert limits[(("metric", "p95_ms"), ("scope", "overall"))] == pytest.approx(22)
    assert limits[(("metric", "error_rate"), ("scope", "detect"))] == pytest.approx(0.011)
    failing = {
        (dict(k)["scope"], dict(k)["metric"])
        for k, v in found["swarm_budget_status"].items()
        if dict(k)["status"] == "failing" and v == 1
    }
    assert failing == {("overall", "p95_ms"), ("detect", "error_rate")}
    values = found["swarm_budget_value"]
    assert values[(("bound", "estimate"), ("metric", "error_rate"), ("scope", "detect"))] == 0.5


def test_live_buckets_are_the_reports_buckets():
    assert LATENCY_BUCKETS_MS == REPORT_BUCKETS_MS


# -- alert rules ---------------------------------------------------------------------------


def _rules(budgets: dict, endpoints=(("POST", "detect"), ("GET", "detect"))) -> list[dict]:
    data = alert_rules("shop", Budgets.model_validate(budgets), endpoints=endpoints)
    return data["groups"][0]["rules"]


def test_each_budget_gets_a_rule_that_names_it_and_a_stalled_rule_is_always_there():
    rules = _rules({"overall": {"p99_ms": 300, "mean_ms": 50, "min_throughput": 10}})
    assert [r["alert"] for r in rules] == [
        "SwarmLatencyP99Budget",
        "SwarmLatencyMeanBudget",
        "SwarmThroughputBelowFloor",
        "SwarmRunStalled",
    ]
    p99 = rules[0]
    assert p99["expr"].startswith("histogram_quantile(0.99, sum by (instance, job, le) (rate(")
    assert " > 330 and on (instance, job)" in p99["expr"]
    assert 'swarm_run_info{scenario="shop"}' in p99["expr"]
    assert p99["labels"]["budget_scope"] == "overall" and p99["labels"]["budget_metric"] == "p99_ms"
    assert "overall p99_ms" in p99["annotations"]["summary"] and p99["for"] == "1m"
    assert "_sum" in rules[1]["expr"] and "_count" in rules[1]["expr"]
    assert " < 9 " in rules[2]["expr"]
    assert _rules({})[0]["alert"] == "SwarmRunStalled"


def test_a_bare_name_selects_every_method_and_a_key_selects_one():
    rules = _rules({"requests": {"detect": {"p95_ms": 100}, "POST detect": {"p50_ms": 50}}})
    assert '{name="detect"}' in rules[0]["expr"]
    assert '{method="POST",name="detect"}' in rules[1]["expr"]


def test_label_values_in_rules_are_escaped_and_durations_are_prometheus_syntax():
    text = render_alert_rules(
        'sh"op',
        Budgets.model_validate({"requests": {'a "q" name': {"p95_ms": 100}}}),
        for_s=90,
        window_s=1.5,
    )
    rule = yaml.safe_load(text)["groups"][0]["rules"][0]
    assert r'{name="a \"q\" name"}' in rule["expr"] and r'{scenario="sh\"op"}' in rule["expr"]
    assert rule["for"] == "90s" and "[1500ms]" in rule["expr"]


# -- where /metrics is served --------------------------------------------------------------


def test_metrics_url_is_the_metrics_port_or_the_web_port():
    assert metrics_url(RunOptions()) is None
    assert metrics_url(RunOptions(web=True, web_port=8089)) == "http://127.0.0.1:8089/metrics"
    wildcard = RunOptions(web=True, metrics_host="0.0.0.0", metrics_port=9646)
    assert metrics_url(wildcard) == "http://127.0.0.1:9646/metrics"


def test_a_metrics_port_in_use_is_a_usage_error_naming_the_flag():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"--metrics-port {port}: cannot serve") as caught:
            check_metrics_port("127.0.0.1", port)
    assert caught.value.flag == "--metrics-port" and caught.value.exit_code == 2


def test_the_locust_command_carries_the_metrics_address_only_when_asked(tmp_path):
    class Loaded:
        host_override = None
        modified = False
        path = tmp_path / "s.yaml"

    plain = locust_command(Loaded(), tmp_path, RunOptions())  # type: ignore[arg-type]
    assert "--swarm-metrics-port" not in plain
    asked = locust_command(Loaded(), tmp_path, RunOptions(metrics_port=9646))  # type: ignore[arg-type]
    at = asked.index("--swarm-metrics-port")
    assert asked[at + 1] == "9646" and asked[asked.index("--swarm-metrics-host") + 1] == "127.0.0.1"


def test_open_groups_expose_arrivals_lag_histogram_in_flight_and_the_planned_rate():
    from framework.live.metrics import LAG_BUCKETS_S
    from framework.plan.rates import constant as constant_rate
    from framework.timeline.records import ArrivalSecond

    feed = LiveFeed(started_s=100.0)
    feed.move("running", 1000.0)
    plan = constant_rate(rate=50, duration_s=60)
    metrics = LiveMetrics(feed, scenario="s", rates={"writers": plan}, clock=lambda: 1010.0)
    lags = [0.5, 3.0, 1500.0]  # ms: under 1 ms, under 5 ms, under 2 s
    second = Second(
        t=1000,
        arrivals=(ArrivalSecond.from_lags(1000, "writers", lags, dropped=2),),
        active={"writers": 4, "readers": 10},
    )
    feed.add_second(second)
    feed.add_late_arrivals([ArrivalSecond.from_lags(1000, "writers", [7.0])])
    found = _scrape(metrics)
    writers = (("group", "writers"),)
    assert found["swarm_arrivals_total"] == {
        (("group", "writers"), ("outcome", "started")): 4.0,
        (("group", "writers"), ("outcome", "dropped")): 2.0,
    }
    buckets = {dict(k)["le"]: v for k, v in found["swarm_schedule_lag_seconds_bucket"].items()}
    assert len(buckets) == len(LAG_BUCKETS_S) + 1
    assert (buckets["0.001"], buckets["0.005"], buckets["0.01"], buckets["1"]) == (1, 2, 3, 3)
    assert (buckets["2"], buckets["+Inf"]) == (4, 4)
    assert found["swarm_schedule_lag_seconds_sum"][writers] == pytest.approx(1.5105)
    assert found["swarm_in_flight"] == {writers: 4.0}  # readers run users: not in flight
    assert found["swarm_planned_arrival_rate"] == {writers: 50.0}
    feed.move("paused", 1011.0)
    assert _scrape(metrics)["swarm_planned_arrival_rate"] == {writers: 0.0}


def test_a_closed_run_has_no_open_model_families():
    feed = LiveFeed(started_s=100.0)
    metrics = LiveMetrics(feed, scenario="s")
    feed.add_second(_second(1000, [1.0]))
    names = _scrape(metrics)
    assert not any(name.startswith(("swarm_arrivals", "swarm_schedule")) for name in names)


def test_open_groups_get_a_generator_behind_rule_with_the_validation_limits():
    from framework.scenario.budgets import ValidationRules

    rules = alert_rules(
        "shop",
        None,
        open_groups=["writers"],
        validation=ValidationRules.model_validate({"max_lag_p99_ms": 20, "max_dropped": "1%"}),
    )["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == ["SwarmRunStalled", "SwarmGeneratorBehind"]
    behind = rules[-1]
    assert "histogram_quantile(0.99, sum by (instance, job, group, le)" in behind["expr"]
    assert "swarm_schedule_lag_seconds_bucket[1m]" in behind["expr"]
    assert "> 20," in behind["expr"] and "> 1," in behind["expr"]  # ms, and percent
    assert 'swarm_run_info{scenario="shop"}' in behind["expr"]
    assert "lag p99 20 ms, dropped 1%" in behind["annotations"]["description"]
    closed = alert_rules("shop", None)["groups"][0]["rules"]
    assert [r["alert"] for r in closed] == ["SwarmRunStalled"]
