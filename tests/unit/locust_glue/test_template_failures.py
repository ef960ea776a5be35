"""A template that raises fails its request (kind ``template``), and the user goes on."""

from __future__ import annotations

from locust.env import Environment

from framework.locust_glue.compiler import compile_scenario
from framework.scenario.loader import load_scenario
from framework.timeline.recorder import failure_kind


def test_a_failing_template_is_reported_as_that_requests_template_failure(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\nhost: http://127.0.0.1:1\nusers:\n  - name: u\n    requests:\n"
        '      - {path: /a, method: POST, json: {n: "{{ 1 // 0 }}"}}\n'
        "load: {shape: constant, users: 1, duration: 5s}\n"
    )
    (user_class,) = compile_scenario(load_scenario(path)).user_classes
    env = Environment(user_classes=[user_class])
    seen = []
    env.events.request.add_listener(lambda **kw: seen.append(kw))
    user = user_class(env)
    user.on_start()
    (task,) = user_class.tasks
    task(user)
    task(user)  # no exception escaped: the user's loop would go on
    assert [(e["request_type"], e["name"], e["response_time"]) for e in seen] == [
        ("POST", "/a", 0.0),
        ("POST", "/a", 0.0),
    ]
    assert failure_kind(seen[0]["exception"]) == "template"
    assert str(seen[0]["exception"]) == (
        "template error in users[0].requests[0].json: "
        "ZeroDivisionError: integer division or modulo by zero"
    )


def test_a_user_without_a_unique_row_fails_the_requests_that_read_it(tmp_path):
    (tmp_path / "accounts.csv").write_text("user\nalice\n")
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\nhost: http://127.0.0.1:1\n"
        "data:\n  accounts: {file: accounts.csv, order: unique}\n"
        "users:\n  - name: u\n    requests:\n      - {path: '/a/{{ data.accounts.user }}'}\n"
        "load: {shape: constant, users: 2, duration: 5s}\n"
    )
    (user_class,) = compile_scenario(load_scenario(path)).user_classes
    env = Environment(user_classes=[user_class])
    seen = []
    env.events.request.add_listener(lambda **kw: seen.append(kw))
    first, second = user_class(env), user_class(env)
    first.on_start()
    second.on_start()  # no row left: the user does not stop
    (task,) = user_class.tasks
    task(second)
    (event,) = seen
    assert failure_kind(event["exception"]) == "template"
    assert "data file 'accounts' has 1 rows, all taken by other users" in str(event["exception"])
