"""The reports stage: ``Results`` in, files a person or a CI system reads out.

Takes ``Results`` (and, for ``compare.html``, several runs' results) and gives
``results.json``, ``report.md``, ``report.html``, ``junit.xml``, ``metrics.prom`` and the
terminal summary, all from the same figures.
"""
