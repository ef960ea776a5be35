"""The short summary ``swarm report`` and ``swarm run`` print in the terminal."""

from __future__ import annotations

from framework.reports.capacity import console_lines as capacity_lines
from framework.reports.faults import console_lines as fault_lines
from framework.reports.headline import headline
from framework.reports.metric_figures import console_lines as metric_lines
from framework.reports.open_model import console_lines
from framework.verdicts.results import EndpointResult, Figure, Results

__all__ = ["summarise"]


def _ms(figure: Figure) -> str:
    if figure.value is None:
        return "-"
    text = f"{figure.value:.1f}"
    if figure.censored:
        text = "≥" + text
    if figure.low is not None and figure.high is not None:
        text += f" [{figure.low:.1f}, {figure.high:.1f}]"
    return text


def _row(e: EndpointResult) -> str:
    rate = e.error_rate.value
    rps = e.throughput_rps.value
    return (
        f"  {e.key[:28]:<28} {e.count:>8} {_ms(e.median_ms):>22} {_ms(e.p95_ms):>22} "
        f"{_ms(e.p99_ms):>22} {(f'{rps:.1f}' if rps is not None else '-'):>8} "
        f"{(f'{rate:.2%}' if rate is not None else '-'):>7} {e.quality.grade:>5}"
    )


def _failure_lines(endpoints: tuple[EndpointResult, ...]) -> list[str]:
    """The most frequent failure messages over every name, with their counts."""
    found = [(m.count, e.key, m.message) for e in endpoints for m in e.failure_messages]
    found.sort(key=lambda item: (-item[0], item[1], item[2]))
    lines = [f"  failed {n:>6}× {key[:28]}: {message[:100]}" for n, key, message in found[:5]]
    if len(found) > 5:
        lines.append(f"  … {len(found) - 5} more failure messages: see report.html")
    return lines


def summarise(results: Results) -> str:
    """A few lines: the verdict with its trust, a table of every name, budgets, regressions,
    the most frequent failure messages, and why."""
    w = results.baseline
    conf = f"{results.settings.get('confidence', 0.95):.0%}"
    lines = [
        f"swarm report: {headline(results).text}",
        f"  {results.run.get('scenario', '')}: {w.name}, {w.duration_s:.0f} s analysed, "
        f"{conf} intervals",
        f"  {'name':<28} {'requests':>8} {'median ms':>22} {'p95 ms':>22} {'p99 ms':>22} "
        f"{'rps':>8} {'errors':>7} {'grade':>5}",
    ]
    lines += [_row(e) for e in w.endpoints]
    lines.append(_row(w.overall))
    lines += console_lines(results)
    lines += metric_lines(results.metrics)
    for verdict in results.budgets:
        lines.append(f"  budget {verdict.verdict:<12} {verdict.message}")
    lines += fault_lines(results)
    for row in results.comparison:
        if row.verdict != "no detectable change":
            lines.append(f"  {row.message}")
    if results.compared_to and not any(
        r.verdict != "no detectable change" for r in results.comparison
    ):
        lines.append(f"  no detectable change against {results.compared_to}")
    if results.knee_reason:
        lines.append(f"  knee: {results.knee_reason}")
    lines += capacity_lines(results.capacity)
    lines += _failure_lines(w.endpoints)
    for message in results.validation_errors:
        lines.append(f"  not yet trustworthy: {message}")
    for reason in results.reasons:
        lines.append(f"  → {reason}")
    return "\n".join(lines)
