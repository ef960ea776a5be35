"""The live stage: what a run shows and decides while it goes on.

Takes the master's merged timeline one closed second at a time (``LiveFeed.add_second``) and
the run's state changes, and gives every live view the same figures: running statistics,
the run's state machine, and hooks (``LiveFeed.second_closed``, ``state_changed``,
``run_finished``) that the terminal progress, the web UI tab, the sinks (InfluxDB,
Prometheus) and the abort guards listen to. Pure Python: no Locust, no gevent, no clock of
its own (times come in with the data), so it is tested without a run.
"""
