"""The config loader accepts the shipped profiles and locates every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.errors import ConfigError
from mock_detectors.config import describe_detector
from mock_detectors.latency import FixedLatency
from mock_detectors.loader import (
    DEFAULT_CONFIG_PATH,
    DetectorConfigError,
    load_config,
    parse_config,
)
from mock_detectors.service import plan_listeners


def problems_of(text: str) -> list[str]:
    with pytest.raises(DetectorConfigError) as caught:
        parse_config(text, "d.yaml")
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


def test_shipped_profiles_are_the_five_on_ports_8001_to_8005() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert list(config.detectors) == ["success", "variable", "failing", "timeout", "batch"]
    assert [config.port_of(n) for n in config.detectors] == [8001, 8002, 8003, 8004, 8005]
    assert config.host == "127.0.0.1"
    rates = {n: round(1 - d.errors.rate - d.timeouts.rate, 4) for n, d in config.detectors.items()}
    assert rates == {
        "success": 1.0,
        "variable": 0.98,
        "failing": 0.7,
        "timeout": 0.95,
        "batch": 0.95,
    }
    assert set(config.detectors["failing"].errors.statuses) == {500, 503, 429}
    assert config.detectors["timeout"].timeouts.hang == FixedLatency(ms=30_000)
    assert config.detectors["batch"].batch is not None


def test_ports_default_to_base_port_plus_position() -> None:
    config = parse_config(
        "base_port: 9000\ndetectors:\n"
        "  a: {latency: {model: fixed, ms: 1}}\n"
        "  b: {latency: {model: fixed, ms: 1}}\n"
    )
    assert [config.port_of("a"), config.port_of("b")] == [9000, 9001]


def test_unknown_field_names_line_path_and_allowed_fields() -> None:
    text = "detectors:\n  a:\n    latency: {model: uniform, min_ms: 1, max: 3}\n"
    found = problems_of(text)
    assert "d.yaml:3:5: detectors.a.latency: missing required field 'max_ms'" in found
    assert any(
        p.startswith("d.yaml:3:42: detectors.a.latency.max: unknown field 'max'")
        and "did you mean 'max_ms'?" in p
        and "allowed: model, min_ms, max_ms" in p
        for p in found
    )


def test_unknown_model_lists_the_models() -> None:
    (problem,) = problems_of("detectors:\n  a:\n    latency: {model: gaussian}\n")
    assert problem.startswith("d.yaml:3:5: detectors.a.latency: unknown model 'gaussian'")
    for model in ("fixed", "uniform", "normal", "lognormal", "exponential", "empirical"):
        assert model in problem


def test_out_of_range_value_says_bound_and_value() -> None:
    (problem,) = problems_of(
        "detectors:\n  a:\n    latency: {model: fixed, ms: 1}\n    errors:\n      rate: 1.5\n"
    )
    assert problem == "d.yaml:5:7: detectors.a.errors.rate: must be <= 1.0, got 1.5"


def test_rates_that_add_above_one_are_refused() -> None:
    (problem,) = problems_of(
        "detectors:\n  a:\n    latency: {model: fixed, ms: 1}\n"
        "    errors: {rate: 0.6}\n    timeouts: {rate: 0.6}\n"
    )
    assert "errors.rate + timeouts.rate must be <= 1" in problem


def test_duplicate_ports_are_refused() -> None:
    (problem,) = problems_of(
        "detectors:\n  a: {port: 9000, latency: {model: fixed, ms: 1}}\n"
        "  b: {port: 9000, latency: {model: fixed, ms: 1}}\n"
    )
    assert "both use port 9000" in problem


def test_duplicate_keys_and_syntax_errors_are_located() -> None:
    (duplicate,) = problems_of(
        "detectors:\n  a: {latency: {model: fixed, ms: 1}}\n  a: {latency: {model: fixed, ms: 2}}\n"
    )
    assert duplicate.startswith("d.yaml:3:3:") and "duplicate key 'a'" in duplicate
    (syntax,) = problems_of("detectors:\n  a: [unclosed\n")
    assert syntax.startswith("d.yaml:") and "invalid YAML" in syntax


def test_empty_file_and_missing_file_are_clear() -> None:
    assert "empty" in problems_of("")[0]
    with pytest.raises(DetectorConfigError, match="cannot read"):
        load_config(Path("/nonexistent/detectors.yaml"))


def test_only_with_unknown_name_suggests_the_nearest() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    with pytest.raises(ConfigError, match="'faling' \\(did you mean 'failing'\\?\\)"):
        plan_listeners(config, only=["faling"])


def test_only_and_port_offset_pick_and_move_detectors() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    listeners = plan_listeners(config, only=["batch", "success"], port_offset=100, host="::1")
    assert [(item.name, item.port) for item in listeners] == [("success", 8101), ("batch", 8105)]
    assert listeners[0].url() == "http://[::1]:8101"


def test_profile_summary_states_latency_and_success_share() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    summary = describe_detector(config.detectors["failing"])
    assert summary.startswith("lognormal median 120 ms p95 400 ms; 70% success")
    assert "500/503/429" in summary
