"""Mock detector services whose behaviour is known in advance.

Users calibrate load tests and rehearse fault tolerance against them; swarm's own
tests use them to prove that it measures the truth. Start them with ``swarm mocks``
or ``python -m mock_detectors``; the config format, endpoints and admin API are in
``docs/mock_detectors.md``.

    mock_detectors/
    ├── cli.py        flags -> config -> Service; the only place with exit codes
    ├── loader.py     YAML -> MocksConfig, with file:line:field errors
    ├── config.py     the pydantic config models
    ├── latency.py    latency models and their samplers
    ├── service.py    listeners, processes (SO_REUSEPORT), signals
    ├── protocol.py   the asyncio HTTP/1.1 server
    ├── detector.py   routes and outcomes of one detector
    ├── admin.py      /admin/faults
    ├── faults.py     fault specs and the board shared by processes
    └── metrics.py    shared counters, Prometheus exposition
"""

from mock_detectors.config import MocksConfig
from mock_detectors.loader import DetectorConfigError, load_config, parse_config

__all__ = ["DetectorConfigError", "MocksConfig", "load_config", "parse_config"]
