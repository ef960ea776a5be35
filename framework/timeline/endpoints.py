"""How an endpoint is named: the key ``"POST /detect"`` and the names of all requests together.

Locust names a request by its method and its ``name``; swarm keys it the way Locust's own
tables print it, ``"METHOD name"`` (just ``name`` when there is no method). The timeline
builds keys, the verdicts match budgets against them, results.json writes them and the
store indexes them, so each of those goes through these functions and none spells the
format out again. All requests together are ``AGGREGATED`` in the timeline (Locust's word)
and ``OVERALL`` in results, budgets and the store.

    >>> endpoint_key("POST", "/detect"), endpoint_key("", "login flow")
    ('POST /detect', 'login flow')
    >>> split_endpoint_key("POST /detect", [("GET", "/detect"), ("POST", "/detect")])
    ('POST', '/detect')
    >>> selects("/detect", "POST", "/detect"), selects("GET /detect", "POST", "/detect")
    (True, False)
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AGGREGATED",
    "AGGREGATE_METHODS",
    "OVERALL",
    "counts_in_overall",
    "endpoint_key",
    "is_aggregate",
    "request_name",
    "selects",
    "split_endpoint_key",
]

AGGREGATED = "Aggregated"
"""The name of all requests together in the timeline (Locust's total row)."""

OVERALL = "overall"
"""The key of all requests together in results.json, budget scopes and the store."""


AGGREGATE_METHODS = frozenset({"TXN", "POLL"})
"""Methods of records that time other requests as a whole (a flow's transactions, a poll's
total): the overall figures leave them out, so no request is counted twice; their own
names keep them (budgets, comparisons, history, per-name figures)."""


def is_aggregate(key: str | tuple[str, str]) -> bool:
    """Whether ``key`` (``"TXN checkout"``, or a ``(method, name)``) is such a record.

    >>> is_aggregate("TXN checkout"), is_aggregate(("POLL", "job done")), is_aggregate("GET /")
    (True, True, False)
    """
    if isinstance(key, tuple):
        return key[0] in AGGREGATE_METHODS
    method, space, _name = key.partition(" ")
    return bool(space) and method in AGGREGATE_METHODS


def counts_in_overall(method: str) -> bool:
    """Whether requests of ``method`` count in the overall ("Aggregated") figures."""
    return method not in AGGREGATE_METHODS


def endpoint_key(method: str, name: str) -> str:
    """``"METHOD name"``, or just ``name`` when there is no method."""
    return f"{method} {name}" if method else name


def split_endpoint_key(key: str, endpoints: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """The ``(method, name)`` among ``endpoints`` whose key is ``key``; else ``("", key)``.

    Names may hold spaces, so a key is only split against the endpoints known to exist.
    """
    for method, name in endpoints:
        if endpoint_key(method, name) == key:
            return method, name
    return "", key


def request_name(key: str) -> str:
    """What follows the first space of a stored key: the request name when the key has a
    method. Only for keys whose endpoints are no longer known (the store's index)."""
    return key.split(" ", 1)[-1]


def selects(given: str, method: str, name: str) -> bool:
    """Whether ``given`` (a key, or a bare name meaning every method) picks this endpoint."""
    return given == name or given == endpoint_key(method, name)
