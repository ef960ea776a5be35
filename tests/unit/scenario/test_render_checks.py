"""What only fails at render time is caught by ``swarm validate``; absurd loads at loading."""

from __future__ import annotations

import textwrap

import pytest

from framework.cli.main import main
from framework.errors import ScenarioError
from framework.scenario.loader import load_scenario
from framework.scenario.templates import TemplateRenderError
from framework.timeline.recorder import TEMPLATE, failure_kind

SCENARIO = """\
name: tpl
host: http://127.0.0.1:1
data:
  accounts: {{file: accounts.csv}}
users:
  - name: u
    requests:
      - path: /a
        method: POST
        json: {{n: "{body}"}}
      - path: "/b/{{{{ data.accounts.user }}}}"
load: {load}
"""


def _write(tmp_path, body="{{ 1 }}", load="{shape: constant, users: 1, duration: 5s}"):
    (tmp_path / "accounts.csv").write_text("user,pw\nalice,x\n")
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(body=body, load=load))
    return path


def test_validate_renders_every_template_and_locates_a_division_by_zero(tmp_path, capsys):
    path = _write(tmp_path, body="{{ 1 // 0 }}")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:10:19: users[0].requests[0].json.n: template fails when rendered" in err
    assert "ZeroDivisionError: integer division or modulo by zero" in err


def test_validate_catches_an_unknown_attribute_of_a_data_row(tmp_path, capsys):
    path = _write(tmp_path, body="{{ data.accounts.pw.nope }}")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "users[0].requests[0].json.n: template fails when rendered with sample data" in err
    assert "'str object' has no attribute 'nope'" in err


def test_validate_passes_templates_that_render(tmp_path, capsys):
    assert main(["validate", str(_write(tmp_path, body="{{ random_int(1, 9) }}"))]) == 0


def test_loading_for_a_run_does_not_render(tmp_path):
    # a run counts a template that fails as failures of that request; it is not refused
    load_scenario(_write(tmp_path, body="{{ 1 // 0 }}"))


def test_a_render_error_is_a_failure_of_kind_template():
    error = TemplateRenderError("users[0].requests[0].json", ZeroDivisionError("division by zero"))
    assert failure_kind(error) == TEMPLATE == "template"
    assert str(error) == (
        "template error in users[0].requests[0].json: ZeroDivisionError: division by zero"
    )


@pytest.mark.parametrize(
    ("load", "field", "bound"),
    [
        ("{shape: constant, users: 100000000000, duration: 5s}", "load.users", "10000000"),
        (
            "{shape: constant, users: 5, duration: 5s, spawn_rate: 2e6}",
            "load.spawn_rate",
            "1000000",
        ),
        (
            "{shape: stages, stages: [{duration: 5s, users: 20000000, spawn_rate: 1}]}",
            "load.stages[0].users",
            "10000000",
        ),
    ],
)
def test_users_and_rates_above_their_bound_are_located_errors(tmp_path, load, field, bound):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_write(tmp_path, load=load))
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (12, field)
    assert f"less than or equal to {bound}" in problem.message


def test_a_stepped_plan_whose_last_step_is_above_the_bound_is_refused(tmp_path):
    load = textwrap.dedent(
        "{shape: stepped, start_users: 1, step_users: 5000000, step_duration: 1s, steps: 3,"
        " spawn_rate: 1}"
    )
    with pytest.raises(ScenarioError, match="the last step would run 10000001 users"):
        load_scenario(_write(tmp_path, load=load))
