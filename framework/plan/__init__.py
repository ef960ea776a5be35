"""The plan stage: a scenario's ``load`` section in, a pure ``LoadPlan`` out.

Takes a ``Scenario`` and gives its ``LoadPlan`` (elapsed seconds to users and spawn rate, with
named phases), plus the terminal chart and summary ``swarm plan`` and ``swarm validate`` print.
Nothing here reads a clock or imports Locust.
"""
