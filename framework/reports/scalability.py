"""The scalability section of a suite report: throughput, per worker and efficiency per
worker count, the verdict, and a chart of measured against ideal-linear throughput.

``swarm suite`` embeds these fragments in ``suite.md`` and ``suite.html`` for each entry
with ``scale: {workers: [...]}``; the figures come from one
:class:`~framework.verdicts.scalability.Scaling`, so both formats say the same.
"""

from __future__ import annotations

from markupsafe import Markup

from framework.verdicts.scalability import Scaling

__all__ = ["scaling_html", "scaling_markdown"]


def scaling_markdown(scaling: Scaling) -> str:
    """A Markdown fragment (no heading): the verdict, then one table row per worker count."""
    raise NotImplementedError


def scaling_html(scaling: Scaling) -> Markup:
    """An HTML fragment (no heading), escaped: the verdict, the table, and an SVG chart of
    throughput with its interval per worker count beside the ideal-linear line."""
    raise NotImplementedError
