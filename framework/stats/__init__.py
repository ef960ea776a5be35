"""The statistics stage: per-interval series in, estimates with honest intervals out.

Takes per-interval counts and histograms (``IntervalData`` or ``IntervalColumns``) and gives
each metric's ``Estimate`` with a confidence interval that allows for autocorrelation, the
comparison of two runs, a data-quality grade and change points in a history. Pure functions
of their inputs: nothing here reads a clock, a file or imports Locust.
"""
