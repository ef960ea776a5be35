"""The store stage: run folders in, an index of runs and their history out.

Takes the reports folder and gives the SQLite index of every run (listings, pins,
``--baseline latest|pinned``) and each metric's history across runs, with its change points
and the trend page; and one run's seconds as pandas tables (``swarm query``,
``framework.run_frame`` and ``framework.query_run``).
"""
