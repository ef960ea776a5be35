"""The commented starter scenario ``swarm init`` writes when no API description is given.

It is valid as it stands and aims at the ``success`` mock detector, so ``swarm mocks`` in
one terminal and ``swarm run scenario.yaml`` in another run it; every section a newcomer
changes first is there with a comment saying what it does and what else it takes.
"""

from __future__ import annotations

__all__ = ["STARTER_FILE", "STARTER_SCENARIO"]

STARTER_FILE = "scenario.yaml"
"""Where ``swarm init`` writes the starter unless ``-o`` says otherwise."""

STARTER_SCENARIO = """\
# A swarm scenario: who calls what, how often, and how the load changes over time.
# Made by `swarm init`. Check it with `swarm validate scenario.yaml`, draw its load with
# `swarm plan scenario.yaml`, run it with `swarm run scenario.yaml` (the README has the rest).
# Start the mock detectors it aims at with `swarm mocks`, or point it at your API below.
name: my-service
description: A first load test; change the host, the requests and the load.

# The target. ${VAR:-default} reads the environment: TARGET_URL=https://api.example.com
# swarm run scenario.yaml aims it elsewhere (so does --host).
host: ${TARGET_URL:-http://127.0.0.1:8001}
# Sent with every request. A value a ${VAR} takes from the environment is a secret:
# sent, never written anywhere.
headers: {X-API-Key: "${API_KEY:-dev-key}"}
timeout: 10s                      # connect + read timeout per request

users:
  - name: client                  # one kind of simulated user (add more, with weight:)
    think_time: {uniform_ms: [200, 800]}   # pause between requests: fixed_ms, pacing, throughput
    requests:                     # each iteration picks one, by weight
      - name: detect              # the label in every statistic and budget
        method: POST
        path: /detect
        weight: 5
        # templates: random_text(n), random_int(a, b), random_id(), choice([...]), now(),
        # user_id, data.<file>.<column> (CSV files under data:)
        json: {content: "{{ random_text(64) }}", metadata: {source: swarm}}
        expect: {status: 200, json: [{path: verdict, in: [clean, flagged]}]}
      - name: health
        path: /health
        expect: {status: 200}

# The load: shape constant, stepped, spike, wave, stages or find_capacity; add
# model: open and rates instead of users for arrivals per second.
load: {shape: constant, users: 5, spawn_rate: 5, duration: 1m}

# Limits judged by confidence interval: the run exits 1 when one fails.
budgets:
  overall: {p95_ms: 800, error_rate: 1%}
"""
