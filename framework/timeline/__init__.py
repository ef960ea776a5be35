"""The timeline stage: the run's single source of truth, second by second.

Takes requests (from the Locust glue on each load generator) and custom metrics (from the
recording API, ``metrics_api``) and gives the per-second, per-name (and per dimension set)
records of mergeable histograms and counters: recorded on workers, merged on the
master, written append-only to the run folder, and read back for every later stage. The
format is ``docs/timeline.md``. Nothing here imports Locust.
"""
