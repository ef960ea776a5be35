"""One listener feeds Locust's statistics and swarm's timeline: the same figures as Locust's."""

from __future__ import annotations

from locust import User, constant, task
from locust.env import Environment

from framework.locust_glue import telemetry
from framework.locust_glue.flows import keep_aggregates_out_of_locust_total
from framework.locust_glue.telemetry import LOCUST_STATS_LISTENER


class _Idle(User):
    wait_time = constant(1)

    @task
    def nothing(self) -> None:
        """Never run: the tests fire the events themselves."""


EVENTS = [
    ("GET", "/a", 12.5, 100, None),
    ("GET", "/a", 30.0, 120, None),
    ("POST", "/b", 7.0, 0, RuntimeError("boom")),
    ("GET", "/a", None, 0, None),  # a hand-fired event without a time
    ("TXN", "checkout", 60.0, 0, None),
    ("TXN", "checkout", 80.0, 0, RuntimeError("step 'pay' failed")),
]


def _environment() -> Environment:
    environment = Environment(user_classes=[_Idle])
    environment.create_local_runner()
    return environment


def _fire(environment: Environment, events: list = EVENTS) -> None:
    for method, name, response_time, length, exception in events:
        environment.events.request.fire(
            request_type=method,
            name=name,
            response_time=response_time,
            response_length=length,
            exception=exception,
            context={},
            response=None,
        )


def _stats(environment: Environment) -> dict:
    stats = environment.stats
    rows = {key: entry.serialize() for key, entry in stats.entries.items()}
    errors = {key: error.occurrences for key, error in stats.errors.items()}
    total = stats.total.serialize()
    for row in (*rows.values(), total):
        row.pop("start_time"), row.pop("last_request_timestamp")
        row.pop("num_reqs_per_sec"), row.pop("num_fail_per_sec")
    return {"rows": rows, "errors": errors, "total": total}


def _handler_names(environment: Environment) -> list[str]:
    return [handler.__qualname__ for handler in environment.events.request._handlers]


def test_swarm_takes_the_place_of_locusts_stats_listener():
    environment = _environment()
    assert LOCUST_STATS_LISTENER in _handler_names(environment)
    installed = telemetry.install(environment, None)
    names = _handler_names(environment)
    assert LOCUST_STATS_LISTENER not in names
    assert environment.events.request._handlers.count(installed.on_request) == 1
    assert len(names) == 1


def test_locusts_statistics_come_out_as_locusts_own_listener_makes_them():
    requests = [event for event in EVENTS if event[0] != "TXN"]
    plain = _environment()
    _fire(plain, requests)
    fused = _environment()
    installed = telemetry.install(fused, None)
    _fire(fused, requests)
    assert _stats(fused) == _stats(plain)
    assert installed.recorder is not None and installed.recorder.recorded == len(requests)


def test_transactions_stay_out_of_locusts_total_as_before():
    plain = _environment()
    keep_aggregates_out_of_locust_total(plain)
    _fire(plain)
    fused = _environment()
    telemetry.install(fused, None)
    keep_aggregates_out_of_locust_total(fused)  # as the entry installs it: after telemetry
    _fire(fused)
    assert _stats(fused) == _stats(plain)
    assert fused.stats.total.num_requests == 4  # the two TXN rows are apart
    assert fused.stats.entries[("checkout", "TXN")].num_requests == 2


def test_without_locusts_listener_swarm_listens_beside_whatever_is_there():
    environment = _environment()
    environment.events.request._handlers.clear()  # a Locust that records its stats elsewhere
    installed = telemetry.install(environment, None)
    assert environment.events.request._handlers == [installed.on_request]
    _fire(environment)
    assert environment.stats.total.num_requests == 0  # Locust's statistics are not swarm's
    assert installed.recorder is not None and installed.recorder.recorded == len(EVENTS)
