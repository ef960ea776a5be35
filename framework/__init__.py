"""swarm: scenario-driven, distributed load testing on Locust.

The import package is ``framework``; the distribution and the CLI are ``swarm``.
The core (scenario model, shapes, timeline, statistics) imports without Locust;
only ``framework.locust_glue`` touches Locust and gevent.
"""

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "counter",
    "gauge",
    "histogram",
    "meter",
    "query_run",
    "run_frame",
    "timer",
]

_METRICS_API = frozenset({"counter", "gauge", "histogram", "meter", "timer"})


def __getattr__(name: str) -> object:
    """``framework.run_frame`` and ``framework.query_run``, imported on first use: they
    need pandas, which ``import framework`` (every ``swarm`` command) should not load; and
    the custom metrics' recording API (``from framework import counter, histogram, ...``,
    ``docs/metrics.md``), which needs HdrHistogram."""
    if name in ("run_frame", "query_run"):
        from framework.store import query

        return getattr(query, name)
    if name in _METRICS_API:
        from framework.timeline import metrics_api

        return getattr(metrics_api, name)
    raise AttributeError(f"module 'framework' has no attribute {name!r}")
