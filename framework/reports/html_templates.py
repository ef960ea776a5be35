"""The Jinja2 setup every swarm HTML page is rendered with: templates, filters, inlined assets.

The run report, the comparison page and the history page must each be one self-contained
file that works offline and escapes everything that came from a scenario, and they share
one stylesheet and one small script. So they share this: one environment with autoescaping
and strict undefined names, the filters the templates use (``figure``, ``value``, ``when``,
``number``), and ``render_page``, which inlines ``report.css`` and ``report.js`` as ``css``
and ``js``. The only markup inserted unescaped is what swarm builds from escaped parts.

Example::

    html = render_page("history.html.j2", {"h": history, "chart": Markup(svg), ...})
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup, escape

from framework.reports import charts
from framework.reports.formatting import format_time, format_value
from framework.verdicts.results import Figure

__all__ = ["TEMPLATES", "figure_html", "inline_asset", "render_page", "template_environment"]

TEMPLATES = "templates_html"
"""The package folder of the page templates and their assets."""

_CENSORED = (
    '<span class="v censored" title="censored: the true value is at least this, '
    'as it falls among timed-out requests">≥ {}</span>'
)


@cache
def template_environment() -> jinja2.Environment:
    """The shared environment: templates from ``TEMPLATES``, autoescaped, strict about
    undefined names, with the ``figure``, ``value``, ``when`` and ``number`` filters."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("framework.reports", TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(figure=figure_html, value=format_value, when=_when, number=_number)
    return env


@cache
def inline_asset(name: str) -> Markup:
    """A CSS or JS file from the templates folder, inlined as-is (it is ours, not input)."""
    text = (
        resources.files("framework.reports").joinpath(TEMPLATES, name).read_text(encoding="utf-8")
    )
    return Markup(text)


def render_page(template: str, view: Mapping[str, Any]) -> str:
    """Render ``template`` with ``view`` and the inlined stylesheet and script (``css``,
    ``js``), which every page carries so it needs no other file."""
    assets = {"css": inline_asset("report.css"), "js": inline_asset("report.js")}
    return template_environment().get_template(template).render(**view, **assets)


def figure_html(figure: Figure, unit: str = "ms") -> Markup:
    """A figure cell: ``12.3 ms`` with ``[11.8, 12.9]`` beneath, or ``≥ 10,000 ms``."""
    if figure.value is None:
        return Markup('<span class="none">–</span>')
    shown = escape(format_value(figure.value, unit))
    if figure.censored:
        return Markup(_CENSORED).format(shown)
    if figure.low is None or figure.high is None:
        return Markup('<span class="v">{}</span> <span class="ci">no CI</span>').format(shown)
    low = format_value(figure.low, unit, with_unit=False)
    high = format_value(figure.high, unit, with_unit=False)
    title = f"{figure.confidence:.0%} CI, n={figure.n:,}"
    if figure.effective_n is not None:
        title += f", effective n={figure.effective_n:,.0f}"
    if figure.method:
        title += f", {figure.method}"
    return Markup('<span class="v" title="{}">{}</span> <span class="ci">[{}, {}]</span>').format(
        title, shown, low, high
    )


def _number(value: float | int | None) -> str:
    """``12,345`` for whole numbers, at most two decimals otherwise; ``–`` for none."""
    if value is None:
        return "–"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _when(text: str | None, start: str | None = None) -> str:
    """``2026-01-02 10:00:00 UTC``, or ``+1:23`` after ``start`` when given."""
    if text and start:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            origin = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            return text
        return "+" + charts.format_elapsed((moment - origin).total_seconds())
    return format_time(text)
