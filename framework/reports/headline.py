"""The one line every report opens with: the verdict and how far it can be trusted, together.

A verdict alone can lie by omission: a run that met every budget on 565 requests, below
the scenario's own ``validation: min_samples``, is not the same news as one that met them
on 50,000. So the banner of report.html, the heading of report.md, the first line of the
terminal summary and junit.xml's suite properties all say both, in the same words:

    PASSED
    PASSED — data quality warn: dependence p95, stationarity mean
    PASSED — but not yet trustworthy: too few samples; data quality fail
    FAILED — overall p95_ms: 812 ms [790, 840] vs budget 600 ms …

Trust has three levels: ``trusted`` (every validation rule holds and the data quality of all
requests together is ``pass``), ``caveats`` (the rules hold, but the quality grade is
``warn``) and ``untrusted`` (a validation rule fails: the figures are not yet a baseline).

    >>> Headline("passed", "untrusted", caveat="but not yet trustworthy: too few samples").text
    'PASSED — but not yet trustworthy: too few samples'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from framework.verdicts.results import Results

__all__ = ["RULE_PHRASES", "Headline", "Trust", "headline"]

Trust = Literal["trusted", "caveats", "untrusted"]

RULE_PHRASES = {
    "min_samples": "too few samples",
    "max_ci_half_width": "intervals too wide",
    "max_error_rate": "error rate above the validation limit",
}
"""How the banner names a validation rule that does not hold (``min_quality`` says its
grade); the rule's own message, with figures and advice, is listed under the banner."""

_MAX_CHECKS = 3
_MAX_REASON_CHARS = 160


@dataclass(frozen=True)
class Headline:
    """A run's verdict with its trust: ``word`` (``PASSED``), ``reason`` (why it failed or is
    inconclusive: the first of the results' reasons), ``caveat`` (the trust, when it is not
    full), ``qualifier`` (both, what ``text`` adds to the word), ``tone`` (how to colour it:
    a verdict that passed on untrusted figures is not shown as a plain green pass).

    report.html lists every reason beside its banner, so the banner adds only the caveat.
    """

    verdict: str
    trust: Trust
    reason: str = ""
    caveat: str = ""

    @property
    def word(self) -> str:
        return self.verdict.upper()

    @property
    def qualifier(self) -> str:
        return "; ".join(part for part in (self.reason, self.caveat) if part)

    @property
    def text(self) -> str:
        return f"{self.word} — {self.qualifier}" if self.qualifier else self.word

    @property
    def tone(self) -> str:
        """``passed``, ``failed`` or ``inconclusive``; ``passed`` on untrusted figures is
        ``inconclusive`` in tone (amber), never green."""
        if self.verdict == "passed" and self.trust == "untrusted":
            return "inconclusive"
        return self.verdict


def _trust(results: Results) -> Trust:
    if not results.meets_requirements:
        return "untrusted"
    return "trusted" if results.baseline.overall.quality.grade == "pass" else "caveats"


def _untrusted_because(results: Results) -> str:
    """The failing validation rules, each in a few words."""
    grade = results.baseline.overall.quality.grade
    phrases = [
        f"data quality {grade}" if v.rule == "min_quality" else RULE_PHRASES.get(v.rule, v.rule)
        for v in results.validation
        if not v.passed
    ]
    return "; ".join(phrases)


def _quality_caveats(results: Results) -> str:
    quality = results.baseline.overall.quality
    names = [c.name for c in quality.checks if c.grade != "pass"]
    shown = ", ".join(names[:_MAX_CHECKS]) + (" …" if len(names) > _MAX_CHECKS else "")
    return f"data quality {quality.grade}" + (f": {shown}" if shown else "")


def _first_reason(results: Results) -> str:
    if not results.reasons:
        return ""
    reason = " ".join(results.reasons[0].split())
    if len(reason) > _MAX_REASON_CHARS:
        reason = reason[: _MAX_REASON_CHARS - 1] + "…"
    more = len(results.reasons) - 1
    return reason + (f" (and {more} more)" if more else "")


def headline(results: Results) -> Headline:
    """The verdict of ``results`` and the trust in it, worded once for every format."""
    trust = _trust(results)
    if results.verdict == "passed":
        if trust == "untrusted":
            caveat = "but not yet trustworthy: " + _untrusted_because(results)
        elif trust == "caveats":
            caveat = _quality_caveats(results)
        else:
            caveat = ""
        return Headline(results.verdict, trust, caveat=caveat)
    caveat = ""
    if trust == "untrusted" and not results.evidence:
        caveat = "figures not yet trustworthy: " + _untrusted_because(results)
    return Headline(results.verdict, trust, reason=_first_reason(results), caveat=caveat)
