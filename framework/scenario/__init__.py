"""The scenario stage: one YAML file in, a validated ``Scenario`` model out.

Takes a scenario file (and a budgets file) and gives ``LoadedScenario``: the pydantic model,
with ``${VAR}`` values resolved, templates compiled once to check them, data files checked,
and every problem reported in one pass with file, line, field and what is allowed.
"""
