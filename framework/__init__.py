"""swarm: scenario-driven, distributed load testing on Locust.

The import package is ``framework``; the distribution and the CLI are ``swarm``.
The core (scenario model, shapes, timeline, statistics) imports without Locust;
only ``framework.locust_glue`` touches Locust and gevent.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "query_run", "run_frame"]


def __getattr__(name: str) -> object:
    """``framework.run_frame`` and ``framework.query_run``, imported on first use: they
    need pandas, which ``import framework`` (every ``swarm`` command) should not load."""
    if name in ("run_frame", "query_run"):
        from framework.store import query

        return getattr(query, name)
    raise AttributeError(f"module 'framework' has no attribute {name!r}")
