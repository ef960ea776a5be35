"""swarm: scenario-driven, distributed load testing on Locust.

The import package is ``framework``; the distribution and the CLI are ``swarm``.
The core (scenario model, shapes, timeline, statistics) imports without Locust;
only ``framework.locust_glue`` touches Locust and gevent.
"""

__version__ = "0.1.0"
