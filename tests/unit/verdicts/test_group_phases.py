"""Per-phase baselines of each load group, over that group's own request names."""

from __future__ import annotations

import pytest

from framework.scenario.loader import requests_by_user
from framework.verdicts.builder import ReportOptions, build_results, load_run
from tests.open_model_runs import write_open_run

USERS = [
    {
        "name": "readers",
        "requests": [{"path": "/catalog"}, {"name": "item", "path": "/items/{{ id }}"}],
    },
    {
        "name": "writers",
        "load": {"model": "open", "shape": "spike"},
        "requests": [{"method": "post", "path": "/orders"}],
    },
]
GROUPS = [
    {
        "name": "scenario",
        "users": ["readers"],
        "model": "closed",
        "shape": "constant",
        "duration_s": 60,
        "peak_users": 5,
        "phases": [
            {"name": "ramp-up", "kind": "ramp", "start_s": 0, "end_s": 5, "users": 5},
            {"name": "steady", "kind": "plateau", "start_s": 5, "end_s": 60, "users": 5},
        ],
    },
    {
        "name": "writers",
        "users": ["writers"],
        "model": "open",
        "shape": "spike",
        "duration_s": 60,
        "peak_rate": 50,
        "phases": [
            {"name": "base", "kind": "plateau", "start_s": 0, "end_s": 20, "users": 0, "rate": 5},
            {"name": "spike", "kind": "spike", "start_s": 20, "end_s": 30, "users": 0, "rate": 50},
            {"name": "recovery", "kind": "plateau", "start_s": 30, "end_s": 60, "users": 0,
             "rate": 5},
        ],
    },
]  # fmt: skip


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    folder = write_open_run(
        tmp_path_factory.mktemp("groups") / "mixed",
        names=("POST /orders",),
        groups={"writers": ("POST /orders",)},
        closed_names=("GET /catalog", "GET item"),
        plan_groups=GROUPS,
        scenario={"users": USERS},
    )
    results, _ = build_results(load_run(folder), ReportOptions(), created_at="now")
    return results


def test_request_names_of_each_users_entry_come_from_the_saved_scenario():
    assert requests_by_user({"users": USERS}) == {
        "readers": [("GET", "/catalog"), ("GET", "item")],
        "writers": [("POST", "/orders")],
    }
    assert requests_by_user({"users": "nonsense"}) == {}
    assert requests_by_user({"users": [{"name": "x", "requests": [{"path": "/a$${KEY}"}]}]}) == {
        "x": [("GET", "/a${KEY}")]
    }


def test_each_group_gets_its_phases_over_its_own_names_only(mixed):
    readers, writers = mixed.group_phases
    assert readers.name == "scenario" and readers.requests == ("GET /catalog", "GET item")
    assert writers.name == "writers" and writers.requests == ("POST /orders",)
    # ramps are left out; every other phase is its own window
    assert [(p.window.name, p.kind, p.rate) for p in readers.phases] == [
        ("steady", "plateau", None)
    ]
    assert [(p.window.name, p.kind, p.rate) for p in writers.phases] == [
        ("base", "plateau", 5.0), ("spike", "spike", 50.0), ("recovery", "plateau", 5.0)
    ]  # fmt: skip
    (steady,) = readers.phases
    assert steady.window.users == 5
    assert {e.key for e in steady.window.endpoints} == {"GET /catalog", "GET item"}
    # both readers' names over 5..59 s (the last second, cut short by the stop, is left out)
    assert steady.window.overall.count == 2 * 54 * 100
    spike = writers.phases[1]
    assert spike.window.users is None
    assert [e.key for e in spike.window.endpoints] == ["POST /orders"]
    assert spike.window.overall.count == 10 * 100
    assert spike.window.overall.p99_ms == spike.window.endpoints[0].p99_ms


def test_an_open_groups_phases_carry_the_schedule_check_of_its_own_arrivals(mixed):
    _, writers = mixed.group_phases
    checks = [c.name for c in writers.phases[1].window.overall.quality.checks]
    assert "schedule" in checks


def test_a_single_group_run_has_no_group_phases(tmp_path):
    folder = write_open_run(tmp_path / "one", plan_groups=GROUPS[1:], scenario={"users": USERS})
    results, _ = build_results(load_run(folder), ReportOptions(), created_at="now")
    assert results.group_phases == ()
    assert "group_phases" not in results.to_dict()
