"""The plan stage: a scenario's ``load`` sections in, pure plans out.

Takes a ``Scenario`` and gives its ``LoadSchedule``: one ``LoadGroup`` per load (the shared
one and each users entry's own), each a ``LoadPlan`` (elapsed seconds to users and spawn
rate) or an open ``RatePlan`` (elapsed seconds to arrivals per second), with named phases;
plus the terminal chart and summary ``swarm plan`` and ``swarm validate`` print.
Nothing here reads a clock or imports Locust.
"""
